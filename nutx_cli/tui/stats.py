"""The dashboard's reading of the pool's admin JSON (`nutx_cli.core.pool_stats`) with EPOCH read by the
one EPOCH schema (`core.epoch_json`).

Parsing happens once, at the edge, so widgets work with typed values and a pool that sends something
malformed is reported as such ("bad stats from the pool: …") instead of crashing the dashboard.
"""

from __future__ import annotations

from typing import Any

from nutx_cli.core import pool_stats
from nutx_cli.core.epoch_json import Epoch, EpochJsonError
from nutx_cli.core.pool_stats import PoolEvent, PoolStats, StatsError


def parse_epoch(value: Any) -> Epoch:
    """An EPOCH document by the one EPOCH schema (`core.epoch_json`)."""
    try:
        return Epoch.from_json(value)
    except EpochJsonError as exc:
        raise StatsError(str(exc)) from None


def parse_stats(value: Any) -> PoolStats[Epoch]:
    """`GET /v1/pool/stats` as typed values; StatsError says what is wrong with a malformed document."""
    return PoolStats.from_json(value, parse_epoch)


def parse_event(value: Any) -> PoolEvent[Epoch] | None:
    """One `/v1/pool/events` message; None for a type this dashboard does not know (newer pools)."""
    return pool_stats.parse_event(value, parse_epoch)
