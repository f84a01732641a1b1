"""`nutx up --headless` progress lines from successive stats documents (recorded, no pool needed)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from nutx_cli.tui.stats import parse_stats
from nutx_cli.up.progress import Progress

STATS = json.loads((Path(__file__).parent.parent / "data" / "pool_stats.json").read_text())


def _advance(stats: dict[str, Any]) -> dict[str, Any]:
    """Epoch 12 is won by a new block, epoch 10 matures, epoch 13 opens, more shares arrive."""
    nxt = copy.deepcopy(stats)
    by_n = {e["epoch"]: e for e in nxt["epochs"]}
    by_n[12].update(status="won", height=216, theta_c=5_000_000_000, work=123)
    by_n[10].update(status="mature", confirmations=3, price="5/2")
    new = {**by_n[12], "epoch": 13, "status": "open", "keyset_id": "01" + "ab" * 32}
    nxt["epochs"].insert(0, new)
    nxt["epoch"] = new
    nxt["blocks"].insert(
        0, {"height": 216, "hash": "ff" * 32, "epoch": 12, "time": 0, "theta_b": 5_000_000_000}
    )
    nxt["channels"][0]["accepted"] += 5
    return nxt


def test_first_update_is_the_baseline() -> None:
    progress = Progress()
    assert progress.update(parse_stats(STATS), {"sats": 10, "ehash_by_epoch": {}}) == []
    assert progress.accepted == sum(c["accepted"] for c in STATS["channels"])


def test_events_are_reported_once() -> None:
    progress = Progress()
    progress.update(parse_stats(STATS), {"sats": 10})
    lines = progress.update(parse_stats(_advance(STATS)), {"sats": 2_510})
    text = "\n".join(lines)
    assert "block found by the pool at height 216" in text
    assert "epoch 12 won" in text and "epoch 10 mature after 3 confirmations: price 5/2" in text
    assert "epoch 13 open" in text
    assert "redeemed mature ehash into 2500 sat" in text
    assert progress.update(parse_stats(_advance(STATS)), {"sats": 2_510}) == []  # nothing new
    summary = progress.summary()
    assert "epochs won 3" in summary and "lost 2" in summary and "orphaned 1" in summary
    assert "2500 sat redeemed here" in summary
    assert summary.startswith("summary: 4 blocks found by the pool")
    won_work = sum(e["work"] for e in _advance(STATS)["epochs"] if e["status"] in ("won", "mature"))
    assert f"({won_work} in won epochs)" in summary


def test_lost_and_orphaned_are_explained() -> None:
    progress = Progress()
    progress.update(parse_stats(STATS), None)
    nxt = copy.deepcopy(STATS)
    nxt["epochs"][0].update(status="lost", height=216)
    nxt["epochs"][3].update(status="orphaned")
    text = "\n".join(progress.update(parse_stats(nxt), None))
    assert "epoch 12 lost: another miner found block 216" in text
    assert "epoch 9 orphaned by a reorg (was mature)" in text
