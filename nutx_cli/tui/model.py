"""What the dashboard knows about the pool: the last stats, the events since, and the connection state.

Pure (no I/O, no clock: callers pass `now`), so the recorded stats of the snapshot tests and the live
feed go through the same code. `version` grows with every change, so the app redraws only when needed.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, replace

from nutx_cli.core.epoch_json import Epoch
from nutx_cli.core.pool_stats import (
    Block,
    BlockEvent,
    ChannelEvent,
    ChannelSummary,
    EpochEvent,
    HashrateSample,
    PoolEvent,
    PoolStats,
    PoolSummary,
    ShareEvent,
)

FEED_SIZE = 200
HISTORY_SIZE = 240


@dataclass(frozen=True)
class Connection:
    """Whether the stats poll reaches the pool (`connected`, None before the first try) and whether the
    event stream is open (`live`)."""

    connected: bool | None = None
    detail: str = "connecting…"
    live: bool = False


class DashboardModel:
    def __init__(self, url: str, feed_size: int = FEED_SIZE, history_size: int = HISTORY_SIZE) -> None:
        self.url = url
        self.pool: PoolSummary | None = None
        self.channels: dict[str, ChannelSummary] = {}
        self.levels: dict[int, int] = {}
        self.epoch: Epoch | None = None
        self.epochs: list[Epoch] = []
        self.blocks: list[Block] = []
        self.shares: deque[ShareEvent] = deque(maxlen=feed_size)
        self.history: deque[HashrateSample] = deque(maxlen=history_size)
        self.connection = Connection()
        self.updated_at: float | None = None
        self.version = 0

    def apply_stats(self, stats: PoolStats[Epoch], now: float) -> None:
        """Replace everything with a fresh stats document (it is the truth; events only fill the gaps)."""
        self.pool = stats.pool
        self.channels = {c.id: c for c in stats.channels}
        self.levels = dict(stats.levels)
        self.epochs = list(stats.epochs)
        self.epoch = None
        if stats.epoch is not None:
            self._upsert_epoch(stats.epoch)
        self.blocks = list(stats.blocks)
        if stats.hashrate_history:
            self.history.clear()
            self.history.extend(stats.hashrate_history)
        elif not self.history or self.history[-1].time < now:
            self.history.append(HashrateSample(now, stats.pool.hashrate))
        self.updated_at = now
        self.version += 1

    def apply_event(self, event: PoolEvent[Epoch]) -> None:
        if isinstance(event, ShareEvent):
            self.shares.appendleft(event)
        elif isinstance(event, ChannelEvent):
            self.channels[event.channel.id] = event.channel
        elif isinstance(event, EpochEvent):
            self._upsert_epoch(event.epoch)
        elif isinstance(event, BlockEvent):
            self._add_block(event.block)
        self.version += 1

    def set_connection(self, connected: bool, detail: str) -> None:
        if (connected, detail) != (self.connection.connected, self.connection.detail):
            self.connection = replace(self.connection, connected=connected, detail=detail)
            self.version += 1

    def set_live(self, live: bool) -> None:
        if live != self.connection.live:
            self.connection = replace(self.connection, live=live)
            self.version += 1

    @property
    def last_block(self) -> Block | None:
        return self.blocks[0] if self.blocks else None

    def epoch_by_index(self, index: int) -> Epoch | None:
        return next((e for e in self.epochs if e.epoch == index), None)

    def share_totals(self) -> tuple[int, dict[str, int]]:
        """Accepted count and rejected counts by reason over the shares in the feed."""
        accepted = 0
        rejected: dict[str, int] = {}
        for share in self.shares:
            if share.accepted:
                accepted += 1
            else:
                reason = share.reason or "rejected"
                rejected[reason] = rejected.get(reason, 0) + 1
        return accepted, rejected

    def _upsert_epoch(self, epoch: Epoch) -> None:
        others = [e for e in self.epochs if e.epoch != epoch.epoch]
        self.epochs = sorted([epoch, *others], key=lambda e: e.epoch, reverse=True)
        if self.epoch is None or epoch.epoch >= self.epoch.epoch:
            self.epoch = epoch

    def _add_block(self, block: Block) -> None:
        if any(b.hash == block.hash for b in self.blocks):
            return
        self.blocks.insert(0, block)
        if self.pool is not None:
            self.pool = replace(self.pool, blocks_found=self.pool.blocks_found + 1)
