"""The dashboard's reading of the pool's admin JSON (`nutx_cli.core.pool_stats`) and its view of EPOCH.

Parsing happens once, at the edge, so widgets work with typed values and a pool that sends something
malformed is reported as such ("bad stats from the pool: …") instead of crashing the dashboard.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from nutx_cli.core import pool_stats
from nutx_cli.core.pool_stats import (
    PoolEvent,
    PoolStats,
    StatsError,
    json_fraction,
    json_int,
    json_number,
    json_object,
    json_str,
)


@dataclass(frozen=True)
class Epoch:
    """The fields of an EPOCH document (DESIGN.md §5) the dashboard shows."""

    epoch: int
    status: str
    keyset_id: str | None
    k_max: int | None
    started_at: float | None
    ended_at: float | None
    height: int | None
    block_hash: str | None
    work: int
    theta_b: int | None
    mint_fee: int | None
    theta_c: int | None
    price: Fraction | None
    confirmations: int | None
    paid: int


def parse_epoch(value: Any) -> Epoch:
    d = json_object(value, "an epoch")
    index = json_int(d.get("epoch"), "epoch")
    if index is None:
        raise StatsError("an epoch has no index")
    return Epoch(
        epoch=index,
        status=str(d.get("status") or "?"),
        keyset_id=json_str(d.get("keyset_id")),
        k_max=json_int(d.get("k_max"), "k_max"),
        started_at=json_number(d.get("started_at"), "started_at"),
        ended_at=json_number(d.get("ended_at"), "ended_at"),
        height=json_int(d.get("height"), "height"),
        block_hash=json_str(d.get("block_hash")),
        work=json_int(d.get("work"), "work") or 0,
        theta_b=json_int(d.get("theta_b"), "theta_b"),
        mint_fee=json_int(d.get("mint_fee"), "mint_fee"),
        theta_c=json_int(d.get("theta_c"), "theta_c"),
        price=json_fraction(d.get("price"), "price"),
        confirmations=json_int(d.get("confirmations"), "confirmations"),
        paid=json_int(d.get("paid"), "paid") or 0,
    )


def parse_stats(value: Any) -> PoolStats[Epoch]:
    """`GET /v1/pool/stats` as typed values; StatsError says what is wrong with a malformed document."""
    return PoolStats.from_json(value, parse_epoch)


def parse_event(value: Any) -> PoolEvent[Epoch] | None:
    """One `/v1/pool/events` message; None for a type this dashboard does not know (newer pools)."""
    return pool_stats.parse_event(value, parse_epoch)
