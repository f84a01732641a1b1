"""The admin stats schema (nutx_cli/core/pool_stats.py): what the pool writes is what the TUI reads."""

from __future__ import annotations

import json
from fractions import Fraction
from typing import Any

from nutx_cli.core.pool_stats import (
    Block,
    BlockEvent,
    ChainTip,
    ChannelEvent,
    ChannelSummary,
    EpochEvent,
    HashrateSample,
    PoolStats,
    PoolSummary,
    ShareEvent,
    parse_event,
)
from nutx_cli.core.share_stats import ShareStats
from nutx_cli.core.targets import T_MAX

NOW = 1_800_000_000
EPOCH = {
    "epoch": 3,
    "status": "won",
    "block_hash": "ab" * 32,
    "height": 7,
    "ended_at": NOW - 5,
    "theta_b": 50,
}


def written(stats: ShareStats) -> PoolStats[dict[str, Any]]:
    return PoolStats(
        pool=PoolSummary(12.5, 1, 1, 60, "regtest", ChainTip(7, "cd" * 32), 256),
        channels=[stats.summary(NOW)],
        levels={250: 1},
        epoch={**EPOCH, "status": "open", "epoch": 4, "age": 5},
        epochs=[EPOCH],
        blocks=[Block.of_epoch(EPOCH)],
        hashrate_history=[HashrateSample(NOW - 60, 12.5)],
    )


def test_the_wire_form_is_design_5() -> None:
    stats = ShareStats(id=1, user="alice", level=250, opened_at=NOW - 60)
    stats.record_accepted(250, T_MAX * 4, NOW - 1)
    doc = json.loads(json.dumps(written(stats).to_json(dict)))
    channel = doc["channels"][0]
    assert channel["id"] == 1 and channel["last_share"] == NOW - 1 and channel["best_share"] == 0.25
    assert Fraction(channel["difficulty"]) == Fraction(T_MAX, 2**250 - 1) and "/" in channel["difficulty"]
    assert set(channel["hashrate"]) == {"1m", "5m", "1h", "1d"}
    assert doc["levels"] == {"250": {"channels": 1}}
    assert doc["blocks"] == [
        {"height": 7, "hash": "ab" * 32, "epoch": 3, "time": NOW - 5, "theta_b": 50, "status": "won"}
    ]
    assert doc["epoch"]["age"] == 5 and doc["epochs"] == [EPOCH]  # EPOCH passes through as the mint wrote it
    assert doc["hashrate_history"] == [{"time": NOW - 60, "hashrate": 12.5}]


def test_what_the_pool_writes_reads_back_the_same() -> None:
    stats = ShareStats(id=7, user="bob", level=250, opened_at=NOW - 60)
    stats.record_accepted(250, T_MAX // 3, NOW - 2)
    stats.record_rejected("stale-share")
    original = written(stats)
    doc = json.loads(json.dumps(original.to_json(dict)))
    read = PoolStats.from_json(doc, dict)
    assert read == original
    bob = read.channels[0]
    assert bob.id == "7" and bob.rejected_total == 1 and bob.difficulty == Fraction(T_MAX, 2**250 - 1)
    assert read.to_json(dict) == doc


def test_events_read_back_the_same() -> None:
    summary = ChannelSummary("2", "carol", 240, Fraction(1, 3), {"1m": 1.0}, 3, {}, NOW, Fraction(1, 4))
    events: list[ShareEvent | ChannelEvent | BlockEvent] = [
        ShareEvent("2", 240, 65536, False, "duplicate-share", NOW),
        ChannelEvent(summary),
        BlockEvent(Block.of_epoch(EPOCH)),
    ]
    for event in events:
        doc = json.loads(json.dumps(event.to_json()))
        assert parse_event(doc, dict) == event
    epoch = json.loads(json.dumps(EpochEvent(EPOCH).to_json(dict)))
    assert epoch["type"] == "epoch" and parse_event(epoch, dict) == EpochEvent({**EPOCH, "type": "epoch"})
    assert json.loads(json.dumps(events[0].to_json()))["channel"] == 2  # a channel number on the wire
