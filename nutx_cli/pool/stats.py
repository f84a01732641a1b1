"""The pool's admin stats (`GET /v1/pool/stats`, DESIGN.md §5; the schema is `nutx_cli.core.pool_stats`)
from its live state, the epoch history it shows and the hashrate history it keeps.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from nutx_cli.core.pool_stats import Block, ChainTip, HashrateSample, PoolStats, PoolSummary
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


def levels(channels: Iterable[ShareStats]) -> dict[int, int]:
    """The anonymity set per level: how many channels mine at it."""
    return dict(sorted(Counter(c.level for c in channels).items()))


@dataclass(eq=False)
class PoolStatsBuilder:
    """Builds the stats document from the pool's live state; keeps the hashrate history."""

    mint: Mint
    settings: PoolSettings
    current: CurrentEpoch
    channels: Channels
    epochs: EpochHistory
    started_at: float
    history: deque[HashrateSample] = field(default_factory=lambda: deque(maxlen=HISTORY_SAMPLES), init=False)

    def hashrate(self, now: float) -> float:
        return sum(c.stats.hashrate(now)["5m"] for c in self.channels)

    def sample(self, now: float) -> None:
        """Add a hashrate sample if the last one is a minute old."""
        if not self.history or now - self.history[-1].time >= SAMPLE_SECONDS:
            self.history.append(HashrateSample(int(now), self.hashrate(now)))

    def stats(self, now: float) -> PoolStats[dict[str, Any]]:
        """`GET /v1/pool/stats` at `now`; the epochs are the mint's EPOCH JSON."""
        number, tip = self.current.number, self.current.tip
        open_epoch = self.mint.epoch(number).to_json()
        open_epoch["age"] = max(0, int(now) - int(open_epoch["started_at"]))
        epochs = [open_epoch if e["epoch"] == number else e for e in self.epochs.all(now)]
        blocks = [Block.of_epoch(e) for e in epochs if e["block_hash"] is not None]
        channels = [c.stats.summary(now) for c in self.channels]
        return PoolStats(
            pool=PoolSummary(
                hashrate=self.hashrate(now),
                channels=len(channels),
                blocks_found=len(blocks),
                uptime=int(now - self.started_at),
                network=self.settings.network,
                tip=ChainTip(tip.height, tip.hash),
                k_max=self.mint.k_max,
            ),
            channels=channels,
            levels=levels(c.stats for c in self.channels),
            epoch=open_epoch,
            epochs=epochs,
            blocks=blocks,
            hashrate_history=list(self.history),
        )
