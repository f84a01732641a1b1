"""The pool's admin stats document (`GET /v1/pool/stats`, DESIGN.md §5) and the epoch history it shows.

Beyond DESIGN §5 it carries `"epochs"` (every EPOCH, newest first), `"hashrate_history"` (one sample a
minute, oldest first), `pool.k_max`, the current epoch's `age` and each block's epoch `status`.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Iterable
from typing import Any

from nutx_cli.core.share_stats import ShareStats
from nutx_cli.mint import Mint
from nutx_cli.pool.channel import Channels
from nutx_cli.pool.current import CurrentEpoch
from nutx_cli.pool.settings import PoolSettings

HISTORY_SAMPLES = 1440
"""One pool hashrate sample a minute for a day (`hashrate_history`, for the TUI's chart)."""
SAMPLE_SECONDS = 60
EPOCHS_CACHE_SECONDS = 3.0
"""The epoch history is re-read from the mint at most this often (the open epoch always)."""


class EpochHistory:
    """Every epoch's EPOCH JSON, re-read from the mint every few seconds or as soon as one changed."""

    def __init__(self, mint: Mint) -> None:
        self.mint = mint
        self._epochs: list[dict[str, Any]] = []
        self._read_at: float | None = None

    def forget(self) -> None:
        """An epoch changed (closed, opened, confirmed, orphaned): the next read goes to the mint."""
        self._read_at = None

    def all(self, now: float) -> list[dict[str, Any]]:
        if self._read_at is None or now - self._read_at > EPOCHS_CACHE_SECONDS:
            self._epochs = [e.to_json() for e in self.mint.epochs()]
            self._read_at = now
        return self._epochs


def block_json(epoch: dict[str, Any]) -> dict[str, Any]:
    """A block entry (stats `blocks`, the `block` event) of a won epoch's EPOCH JSON."""
    return {
        "height": epoch["height"],
        "hash": epoch["block_hash"],
        "epoch": epoch["epoch"],
        "time": epoch["ended_at"],
        "theta_b": epoch["theta_b"],
        "status": epoch["status"],
    }


def levels_json(channels: Iterable[ShareStats]) -> dict[str, dict[str, int]]:
    """The anonymity set per level: how many channels mine at it."""
    counts = Counter(c.level for c in channels)
    return {str(k): {"channels": n} for k, n in sorted(counts.items())}


class PoolStats:
    """Builds the stats document from the pool's live state; keeps the hashrate history."""

    def __init__(
        self,
        mint: Mint,
        settings: PoolSettings,
        current: CurrentEpoch,
        channels: Channels,
        epochs: EpochHistory,
        started_at: float,
    ) -> None:
        self.mint = mint
        self.settings = settings
        self.current = current
        self.channels = channels
        self.epochs = epochs
        self.started_at = started_at
        self.history: deque[dict[str, float]] = deque(maxlen=HISTORY_SAMPLES)

    def hashrate(self, now: float) -> float:
        return sum(c.stats.hashrate(now)["5m"] for c in self.channels)

    def sample(self, now: float) -> None:
        """Add a hashrate sample if the last one is a minute old."""
        if not self.history or now - self.history[-1]["time"] >= SAMPLE_SECONDS:
            self.history.append({"time": int(now), "hashrate": self.hashrate(now)})

    def document(self, now: float) -> dict[str, Any]:
        """`GET /v1/pool/stats` at `now`."""
        channels = [c.stats.to_json(now) for c in self.channels]
        number, tip = self.current.number, self.current.tip
        open_epoch = {**self.mint.epoch(number).to_json()}
        open_epoch["age"] = max(0, int(now) - int(open_epoch["started_at"]))
        epochs = [open_epoch if e["epoch"] == number else e for e in self.epochs.all(now)]
        blocks = [block_json(e) for e in epochs if e["block_hash"] is not None]
        return {
            "pool": {
                "hashrate": self.hashrate(now),
                "channels": len(channels),
                "blocks_found": len(blocks),
                "uptime": int(now - self.started_at),
                "network": self.settings.network,
                "tip": {"height": tip.height, "hash": tip.hash},
                "k_max": self.mint.k_max,
            },
            "channels": channels,
            "levels": levels_json([c.stats for c in self.channels]),
            "epoch": open_epoch,
            "blocks": blocks,
            "epochs": epochs,
            "hashrate_history": list(self.history),
        }
