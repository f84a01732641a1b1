"""Typed views of the pool's admin JSON (DESIGN.md §5): `GET /v1/pool/stats` and `/v1/pool/events`.

Parsing happens once, at the edge, so widgets work with typed values and a pool that sends something
malformed is reported as such ("bad stats from the pool: …") instead of crashing the dashboard.
Unknown fields are ignored and optional ones may be missing (the pool may add fields freely); an
epoch is read by the one EPOCH schema (`core.epoch_json`). Beyond DESIGN §5 the stats document may carry `"epochs": [EPOCH, …]` (newest first),
`"hashrate_history": [{"time": unix, "hashrate": H/s}, …]` (oldest first) and `pool.k_max`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from nutx_cli.core.epoch_json import Epoch, EpochJsonError
from nutx_cli.errors import NutxError
from nutx_cli.tui.format import parse_fraction

HASHRATE_WINDOWS = ("1m", "5m", "1h", "1d")


class StatsError(NutxError, ValueError):
    """A stats document or event that does not have the shape of DESIGN §5."""


@dataclass(frozen=True)
class Tip:
    height: int | None
    hash: str | None


@dataclass(frozen=True)
class PoolSummary:
    hashrate: float
    channels: int
    blocks_found: int
    uptime: float | None
    network: str
    tip: Tip
    k_max: int | None


@dataclass(frozen=True)
class Channel:
    id: str
    user: str
    level: int | None
    difficulty: Fraction | None
    hashrate: dict[str, float]
    accepted: int
    rejected: dict[str, int]
    last_share: float | None
    best_share: Fraction | None

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())


@dataclass(frozen=True)
class Block:
    height: int | None
    hash: str | None
    epoch: int | None
    time: float | None
    theta_b: int | None


@dataclass(frozen=True)
class HashrateSample:
    time: float
    hashrate: float


@dataclass(frozen=True)
class PoolStats:
    pool: PoolSummary
    channels: list[Channel]
    levels: dict[int, int]
    epoch: Epoch | None
    epochs: list[Epoch]
    blocks: list[Block]
    hashrate_history: list[HashrateSample] = field(default_factory=list)


@dataclass(frozen=True)
class ShareEvent:
    channel: str
    level: int | None
    amount: int | None
    accepted: bool
    reason: str | None
    time: float | None


@dataclass(frozen=True)
class ChannelEvent:
    channel: Channel


@dataclass(frozen=True)
class EpochEvent:
    epoch: Epoch


@dataclass(frozen=True)
class BlockEvent:
    block: Block


PoolEvent = ShareEvent | ChannelEvent | EpochEvent | BlockEvent


def _obj(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise StatsError(f"{what} must be a JSON object, got {type(value).__name__}")
    return value


def _list(value: Any, what: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise StatsError(f"{what} must be a JSON list, got {type(value).__name__}")
    return value


def _int(value: Any, what: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise StatsError(f"{what} must be an integer, got {value!r}")
    return value


def _num(value: Any, what: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise StatsError(f"{what} must be a number, got {value!r}")
    return float(value)


def _frac(value: Any, what: str) -> Fraction | None:
    try:
        return parse_fraction(value)
    except (ValueError, TypeError, ZeroDivisionError, AttributeError):
        raise StatsError(f'{what} must be "num/den" or a number, got {value!r}') from None


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


def parse_channel(value: Any) -> Channel:
    d = _obj(value, "a channel")
    if "id" not in d:
        raise StatsError("a channel has no id")
    rates = _obj(d.get("hashrate") or {}, "channel hashrate")
    rejected = d.get("rejected") or {}
    if isinstance(rejected, int):
        rejected = {"rejected": rejected}
    return Channel(
        id=str(d["id"]),
        user=str(d.get("user") or ""),
        level=_int(d.get("level"), "channel level"),
        difficulty=_frac(d.get("difficulty"), "channel difficulty"),
        hashrate={w: _num(rates[w], f"hashrate {w}") or 0.0 for w in HASHRATE_WINDOWS if w in rates},
        accepted=_int(d.get("accepted"), "accepted") or 0,
        rejected={str(k): _int(v, f"rejected {k}") or 0 for k, v in _obj(rejected, "rejected").items()},
        last_share=_num(d.get("last_share"), "last_share"),
        best_share=_frac(d.get("best_share"), "best_share"),
    )


def parse_epoch(value: Any) -> Epoch:
    try:
        return Epoch.from_json(value)
    except EpochJsonError as exc:
        raise StatsError(str(exc)) from None


def parse_block(value: Any) -> Block:
    d = _obj(value, "a block")
    return Block(
        height=_int(d.get("height"), "block height"),
        hash=_str(d.get("hash")),
        epoch=_int(d.get("epoch"), "block epoch"),
        time=_num(d.get("time"), "block time"),
        theta_b=_int(d.get("theta_b"), "block theta_b"),
    )


def parse_stats(value: Any) -> PoolStats:
    """`GET /v1/pool/stats` as typed values; StatsError says what is wrong with a malformed document."""
    doc = _obj(value, "the stats document")
    p = _obj(doc.get("pool"), "stats.pool")
    tip = _obj(p.get("tip") or {}, "stats.pool.tip")
    levels = _obj(doc.get("levels") or {}, "stats.levels")
    try:
        level_counts = {
            int(k): _int(_obj(v, "a level").get("channels"), "level channels") or 0 for k, v in levels.items()
        }
    except ValueError as exc:
        raise StatsError(f"stats.levels keys must be levels: {exc}") from None
    history = []
    for item in _list(doc.get("hashrate_history"), "stats.hashrate_history"):
        sample = _obj(item, "a hashrate sample")
        history.append(
            HashrateSample(
                _num(sample.get("time"), "sample time") or 0.0,
                _num(sample.get("hashrate"), "sample hashrate") or 0.0,
            )
        )
    return PoolStats(
        pool=PoolSummary(
            hashrate=_num(p.get("hashrate"), "pool hashrate") or 0.0,
            channels=_int(p.get("channels"), "pool channels") or 0,
            blocks_found=_int(p.get("blocks_found"), "blocks_found") or 0,
            uptime=_num(p.get("uptime"), "uptime"),
            network=str(p.get("network") or "?"),
            tip=Tip(_int(tip.get("height"), "tip height"), _str(tip.get("hash"))),
            k_max=_int(p.get("k_max"), "pool k_max"),
        ),
        channels=[parse_channel(c) for c in _list(doc.get("channels"), "stats.channels")],
        levels=dict(sorted(level_counts.items())),
        epoch=None if doc.get("epoch") is None else parse_epoch(doc["epoch"]),
        epochs=[parse_epoch(e) for e in _list(doc.get("epochs"), "stats.epochs")],
        blocks=[parse_block(b) for b in _list(doc.get("blocks"), "stats.blocks")],
        hashrate_history=history,
    )


def parse_event(value: Any) -> PoolEvent | None:
    """One `/v1/pool/events` message; None for a type this dashboard does not know (newer pools)."""
    d = _obj(value, "an event")
    kind = d.get("type")
    if kind == "share":
        if "channel" not in d:
            raise StatsError("a share event has no channel")
        return ShareEvent(
            channel=str(d["channel"]),
            level=_int(d.get("level"), "share level"),
            amount=_int(d.get("amount"), "share amount"),
            accepted=bool(d.get("accepted")),
            reason=_str(d.get("reason")),
            time=_num(d.get("time"), "share time"),
        )
    if kind == "channel":
        return ChannelEvent(parse_channel(d))
    if kind == "epoch":
        return EpochEvent(parse_epoch(d))
    if kind == "block":
        return BlockEvent(parse_block(d))
    return None
