"""Parsing the pool's admin JSON (nutx_cli/tui/stats.py) and the dashboard's model (nutx_cli/tui/model.py)."""

from __future__ import annotations

import copy
from fractions import Fraction
from typing import Any

import pytest

from nutx_cli.core.pool_stats import BlockEvent, ChannelEvent, EpochEvent, ShareEvent, StatsError
from nutx_cli.tui.model import DashboardModel
from nutx_cli.tui.stats import parse_epoch, parse_event, parse_stats
from tests.helpers.tui_recorded import RECORDED_NOW, recorded_events, recorded_model, recorded_stats


def test_recorded_stats_parse_into_typed_values() -> None:
    stats = parse_stats(recorded_stats())
    assert stats.pool.network == "regtest" and stats.pool.tip.height == 215 and stats.pool.blocks_found == 3
    assert stats.pool.k_max == 256
    assert [c.id for c in stats.channels] == ["1", "2", "3", "4"]
    bob = stats.channels[1]
    assert bob.user == "bob" and bob.level == 238 and bob.rejected_total == 13
    assert bob.difficulty == Fraction(2**224 - 1, 2**238 - 1)
    assert set(bob.hashrate) == {"1m", "5m", "1h", "1d"}
    assert stats.levels == {236: 1, 238: 2, 240: 1}
    assert stats.epoch is not None and stats.epoch.status == "open" and stats.epoch.price is None
    assert [e.status for e in stats.epochs] == ["open", "lost", "won", "mature", "orphaned", "lost"]
    mature = stats.epochs[3]
    assert mature.theta_c == 4_999_999_000 and mature.price == Fraction(4_999_999_000, mature.work)
    assert [b.height for b in stats.blocks] == [214, 213, 212]
    assert len(stats.hashrate_history) == 60


def test_a_minimal_pool_without_the_extensions_is_enough() -> None:
    stats = parse_stats({"pool": {"hashrate": 0, "channels": 0, "blocks_found": 0, "network": "regtest"}})
    assert (
        stats.channels == [] and stats.epoch is None and stats.epochs == [] and stats.hashrate_history == []
    )


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.pop("pool"), "stats.pool must be a JSON object"),
        (lambda d: d.update(channels={"1": {}}), "stats.channels must be a JSON list"),
        (lambda d: d["channels"][0].pop("id"), "a channel has no id"),
        (lambda d: d["channels"][0].update(difficulty="hard"), "channel difficulty must be"),
        (lambda d: d["channels"][0].update(accepted="12"), "accepted must be an integer"),
        (lambda d: d["epoch"].update(work=1.5), "work must be an integer"),
        (lambda d: d["epochs"][2].update(price="1/0"), "price must be"),
        (lambda d: d["pool"].update(hashrate="fast"), "pool hashrate must be a number"),
        (lambda d: d.update(levels={"deep": {"channels": 1}}), "stats.levels keys must be levels"),
        (lambda d: d["epoch"].pop("epoch"), "an epoch has no index"),
    ],
)
def test_malformed_stats_say_what_is_wrong(mutate: Any, message: str) -> None:
    doc = copy.deepcopy(recorded_stats())
    mutate(doc)
    with pytest.raises(StatsError, match=message):
        parse_stats(doc)


def test_events_parse_by_type_and_unknown_types_are_skipped() -> None:
    kinds = [type(parse_event(e)) for e in recorded_events()]
    assert kinds == [ShareEvent] * 10 + [ChannelEvent, EpochEvent]
    assert parse_event({"type": "future-thing", "x": 1}) is None
    block = parse_event(
        {"type": "block", "height": 216, "hash": "00ab", "epoch": 12, "time": 5, "theta_b": 7}
    )
    assert isinstance(block, BlockEvent) and block.block.theta_b == 7
    with pytest.raises(StatsError, match="a share event has no channel"):
        parse_event({"type": "share", "level": 236})
    with pytest.raises(StatsError, match="an event must be a JSON object"):
        parse_event([1, 2])


def test_model_applies_stats_then_events() -> None:
    model = recorded_model()
    assert model.version > 0 and model.updated_at == RECORDED_NOW
    assert model.channels["1"].accepted == 6815 and model.channels["1"].last_share == RECORDED_NOW
    assert model.epoch is not None and model.epoch.epoch == 12
    recorded = parse_stats(recorded_stats()).epoch
    assert recorded is not None
    assert model.epoch.work == recorded.work + 2 * (2**20 + 2**18 + 2**16)
    times = [s.time for s in model.shares if s.time is not None]
    assert len(times) == len(model.shares) and times == sorted(times, reverse=True)
    assert model.share_totals() == (8, {"stale-share": 1, "duplicate-share": 1})
    assert model.last_block is not None and model.last_block.height == 214


def test_a_new_epoch_becomes_current_and_closing_the_old_one_updates_the_list() -> None:
    model = recorded_model()
    doc = recorded_stats()
    opened = parse_epoch({**doc["epoch"], "epoch": 13, "work": 0, "started_at": RECORDED_NOW})
    closed = parse_epoch({**doc["epoch"], "status": "lost", "ended_at": RECORDED_NOW, "height": 216})
    model.apply_event(EpochEvent(opened))
    model.apply_event(EpochEvent(closed))
    assert model.epoch is not None and model.epoch.epoch == 13
    assert [(e.epoch, e.status) for e in model.epochs[:3]] == [(13, "open"), (12, "lost"), (11, "lost")]


def test_a_block_is_counted_once() -> None:
    model = recorded_model()
    event = parse_event({"type": "block", "height": 216, "hash": "00ab", "epoch": 12, "time": RECORDED_NOW})
    assert event is not None
    model.apply_event(event)
    model.apply_event(event)
    assert model.pool is not None and model.pool.blocks_found == 4
    assert [b.height for b in model.blocks] == [216, 214, 213, 212]


def test_feed_is_bounded_and_history_grows_from_polls_without_a_recorded_history() -> None:
    model = DashboardModel("http://x", feed_size=3)
    for event in recorded_events()[:10]:
        parsed = parse_event(event)
        assert parsed is not None
        model.apply_event(parsed)
    assert len(model.shares) == 3
    doc = recorded_stats()
    del doc["hashrate_history"]
    for now, rate in ((10.0, 1.0), (12.0, 2.0), (12.0, 3.0)):
        doc["pool"]["hashrate"] = rate
        model.apply_stats(parse_stats(doc), now)
    assert [(s.time, s.hashrate) for s in model.history] == [(10.0, 1.0), (12.0, 2.0)]


def test_connection_state_changes_bump_the_version_once() -> None:
    model = DashboardModel("http://x")
    assert model.connection.connected is None
    model.set_connection(True, "connected")
    version = model.version
    model.set_connection(True, "connected")
    assert model.version == version and model.connection.connected
    model.set_connection(False, "cannot reach http://x")
    model.set_connection(False, "http://x does not answer")
    assert not model.connection.connected and model.connection.detail == "http://x does not answer"
    model.set_live(True)
    assert model.connection.live and model.version == version + 3
