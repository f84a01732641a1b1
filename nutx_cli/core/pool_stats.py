"""The pool's admin JSON (DESIGN.md §5), typed once: the pool writes it, the TUI and `nutx up` read it.

`GET /v1/pool/stats` is a `PoolStats`, `/v1/pool/events` pushes `PoolEvent`s. `to_json` is the wire form;
`from_json` / `parse_event` read it once, at the edge: a malformed document is a `StatsError` that says
what is wrong, unknown fields are ignored and optional ones may be missing (the pool may add fields
freely). Beyond DESIGN §5 the document carries `"epochs"` (newest first), `"hashrate_history"` (oldest
first), `pool.k_max`, the open epoch's `age` and each block's epoch `status`.

The EPOCH documents inside (`epoch`, `epochs`, the `epoch` event) are the mint's: they pass through as
`E`, in the form the caller picks — the pool keeps the mint's JSON, the TUI parses its own view.
Channel ids are the pool's channel numbers (integers on the wire); readers key channels by their text.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Generic, TypeVar

from nutx_cli.core.accounting import parse_price
from nutx_cli.errors import NutxError

E = TypeVar("E")
HASHRATE_WINDOWS = {"1m": 60, "5m": 300, "1h": 3600, "1d": 86400}
"""The hashrate windows of every channel, in seconds."""


class StatsError(NutxError, ValueError):
    """A stats document or event that does not have the shape of DESIGN §5."""


# --- reading JSON values ---------------------------------------------------------------------------------


def json_object(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise StatsError(f"{what} must be a JSON object, got {type(value).__name__}")
    return value


def json_list(value: Any, what: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise StatsError(f"{what} must be a JSON list, got {type(value).__name__}")
    return value


def json_int(value: Any, what: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise StatsError(f"{what} must be an integer, got {value!r}")
    return value


def json_number(value: Any, what: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise StatsError(f"{what} must be a number, got {value!r}")
    return float(value)


def json_fraction(value: Any, what: str) -> Fraction | None:
    """A "num/den" (or a plain number) as an exact fraction."""
    try:
        if value is None or isinstance(value, str):
            return parse_price(value)
        if isinstance(value, (int, float)):
            return Fraction(value)
    except (ValueError, ZeroDivisionError):
        pass
    raise StatsError(f'{what} must be "num/den" or a number, got {value!r}')


def json_str(value: Any) -> str | None:
    return None if value is None else str(value)


def fraction_json(value: Fraction) -> str:
    return f"{value.numerator}/{value.denominator}"


def _channel_id_json(channel_id: str) -> int | str:
    return int(channel_id) if channel_id.isdecimal() else channel_id


# --- the document ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChainTip:
    height: int | None
    hash: str | None


@dataclass(frozen=True)
class PoolSummary:
    hashrate: float
    channels: int
    blocks_found: int
    uptime: float | None
    network: str
    tip: ChainTip
    k_max: int | None

    def to_json(self) -> dict[str, Any]:
        return {
            "hashrate": self.hashrate,
            "channels": self.channels,
            "blocks_found": self.blocks_found,
            "uptime": self.uptime,
            "network": self.network,
            "tip": {"height": self.tip.height, "hash": self.tip.hash},
            "k_max": self.k_max,
        }

    @classmethod
    def from_json(cls, value: Any) -> PoolSummary:
        p = json_object(value, "stats.pool")
        tip = json_object(p.get("tip") or {}, "stats.pool.tip")
        return cls(
            hashrate=json_number(p.get("hashrate"), "pool hashrate") or 0.0,
            channels=json_int(p.get("channels"), "pool channels") or 0,
            blocks_found=json_int(p.get("blocks_found"), "blocks_found") or 0,
            uptime=json_number(p.get("uptime"), "uptime"),
            network=str(p.get("network") or "?"),
            tip=ChainTip(json_int(tip.get("height"), "tip height"), json_str(tip.get("hash"))),
            k_max=json_int(p.get("k_max"), "pool k_max"),
        )


@dataclass(frozen=True)
class ChannelSummary:
    """One channel's statistics (the proxy reports its workers in the same shape)."""

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

    def to_json(self) -> dict[str, Any]:
        return {
            "id": _channel_id_json(self.id),
            "user": self.user,
            "level": self.level,
            "difficulty": None if self.difficulty is None else fraction_json(self.difficulty),
            "hashrate": self.hashrate,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "last_share": self.last_share,
            "best_share": None if self.best_share is None else float(self.best_share),
        }

    @classmethod
    def from_json(cls, value: Any) -> ChannelSummary:
        d = json_object(value, "a channel")
        if "id" not in d:
            raise StatsError("a channel has no id")
        rates = json_object(d.get("hashrate") or {}, "channel hashrate")
        rejected = d.get("rejected") or {}
        if isinstance(rejected, int):
            rejected = {"rejected": rejected}
        return cls(
            id=str(d["id"]),
            user=str(d.get("user") or ""),
            level=json_int(d.get("level"), "channel level"),
            difficulty=json_fraction(d.get("difficulty"), "channel difficulty"),
            hashrate={
                w: json_number(rates[w], f"hashrate {w}") or 0.0 for w in HASHRATE_WINDOWS if w in rates
            },
            accepted=json_int(d.get("accepted"), "accepted") or 0,
            rejected={
                str(k): json_int(v, f"rejected {k}") or 0
                for k, v in json_object(rejected, "rejected").items()
            },
            last_share=json_number(d.get("last_share"), "last_share"),
            best_share=json_fraction(d.get("best_share"), "best_share"),
        )


@dataclass(frozen=True)
class Block:
    """A block the pool found; `status` is its epoch's."""

    height: int | None
    hash: str | None
    epoch: int | None
    time: float | None
    theta_b: int | None
    status: str | None = None

    @classmethod
    def of_epoch(cls, epoch: Mapping[str, Any]) -> Block:
        """The block of a won epoch's EPOCH JSON."""
        return cls(
            epoch["height"],
            epoch["block_hash"],
            epoch["epoch"],
            epoch["ended_at"],
            epoch["theta_b"],
            epoch["status"],
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "height": self.height,
            "hash": self.hash,
            "epoch": self.epoch,
            "time": self.time,
            "theta_b": self.theta_b,
            "status": self.status,
        }

    @classmethod
    def from_json(cls, value: Any) -> Block:
        d = json_object(value, "a block")
        return cls(
            height=json_int(d.get("height"), "block height"),
            hash=json_str(d.get("hash")),
            epoch=json_int(d.get("epoch"), "block epoch"),
            time=json_number(d.get("time"), "block time"),
            theta_b=json_int(d.get("theta_b"), "block theta_b"),
            status=json_str(d.get("status")),
        )


@dataclass(frozen=True)
class HashrateSample:
    time: float
    hashrate: float

    def to_json(self) -> dict[str, Any]:
        return {"time": self.time, "hashrate": self.hashrate}

    @classmethod
    def from_json(cls, value: Any) -> HashrateSample:
        sample = json_object(value, "a hashrate sample")
        return cls(
            json_number(sample.get("time"), "sample time") or 0.0,
            json_number(sample.get("hashrate"), "sample hashrate") or 0.0,
        )


@dataclass(frozen=True)
class PoolStats(Generic[E]):
    """`GET /v1/pool/stats`; `levels` maps a level to how many channels mine at it (its anonymity set)."""

    pool: PoolSummary
    channels: list[ChannelSummary]
    levels: dict[int, int]
    epoch: E | None
    epochs: list[E]
    blocks: list[Block]
    hashrate_history: list[HashrateSample] = field(default_factory=list)

    def to_json(self, epoch_json: Callable[[E], dict[str, Any]]) -> dict[str, Any]:
        return {
            "pool": self.pool.to_json(),
            "channels": [c.to_json() for c in self.channels],
            "levels": {str(k): {"channels": n} for k, n in sorted(self.levels.items())},
            "epoch": None if self.epoch is None else epoch_json(self.epoch),
            "blocks": [b.to_json() for b in self.blocks],
            "epochs": [epoch_json(e) for e in self.epochs],
            "hashrate_history": [s.to_json() for s in self.hashrate_history],
        }

    @classmethod
    def from_json(cls, value: Any, parse_epoch: Callable[[Any], E]) -> PoolStats[E]:
        doc = json_object(value, "the stats document")
        levels = json_object(doc.get("levels") or {}, "stats.levels")
        try:
            level_counts = {
                int(k): json_int(json_object(v, "a level").get("channels"), "level channels") or 0
                for k, v in levels.items()
            }
        except ValueError as exc:
            raise StatsError(f"stats.levels keys must be levels: {exc}") from None
        return cls(
            pool=PoolSummary.from_json(doc.get("pool")),
            channels=[ChannelSummary.from_json(c) for c in json_list(doc.get("channels"), "stats.channels")],
            levels=dict(sorted(level_counts.items())),
            epoch=None if doc.get("epoch") is None else parse_epoch(doc["epoch"]),
            epochs=[parse_epoch(e) for e in json_list(doc.get("epochs"), "stats.epochs")],
            blocks=[Block.from_json(b) for b in json_list(doc.get("blocks"), "stats.blocks")],
            hashrate_history=[
                HashrateSample.from_json(s)
                for s in json_list(doc.get("hashrate_history"), "stats.hashrate_history")
            ],
        )


# --- the events ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ShareEvent:
    channel: str
    level: int | None
    amount: int | None
    accepted: bool
    reason: str | None
    time: float | None

    def to_json(self) -> dict[str, Any]:
        return {
            "type": "share",
            "channel": _channel_id_json(self.channel),
            "level": self.level,
            "amount": self.amount,
            "accepted": self.accepted,
            "reason": self.reason,
            "time": self.time,
        }


@dataclass(frozen=True)
class ChannelEvent:
    """A channel opened or changed level."""

    channel: ChannelSummary

    def to_json(self) -> dict[str, Any]:
        return {"type": "channel", **self.channel.to_json()}


@dataclass(frozen=True)
class EpochEvent(Generic[E]):
    """An epoch opened, closed, confirmed, matured or was orphaned."""

    epoch: E

    def to_json(self, epoch_json: Callable[[E], dict[str, Any]]) -> dict[str, Any]:
        return {"type": "epoch", **epoch_json(self.epoch)}


@dataclass(frozen=True)
class BlockEvent:
    block: Block

    def to_json(self) -> dict[str, Any]:
        return {"type": "block", **self.block.to_json()}


PoolEvent = ShareEvent | ChannelEvent | EpochEvent[E] | BlockEvent


def parse_event(value: Any, parse_epoch: Callable[[Any], E]) -> PoolEvent[E] | None:
    """One `/v1/pool/events` message; None for a type this reader does not know (newer pools)."""
    d = json_object(value, "an event")
    kind = d.get("type")
    if kind == "share":
        if "channel" not in d:
            raise StatsError("a share event has no channel")
        return ShareEvent(
            channel=str(d["channel"]),
            level=json_int(d.get("level"), "share level"),
            amount=json_int(d.get("amount"), "share amount"),
            accepted=bool(d.get("accepted")),
            reason=json_str(d.get("reason")),
            time=json_number(d.get("time"), "share time"),
        )
    if kind == "channel":
        return ChannelEvent(ChannelSummary.from_json(d))
    if kind == "epoch":
        return EpochEvent(parse_epoch(d))
    if kind == "block":
        return BlockEvent(Block.from_json(d))
    return None
