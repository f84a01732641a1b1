"""Statistics of one stream of shares for people and the TUI (DESIGN.md §5): counts, hashrate windows, best share.

A stream is a pool channel or a proxy worker; both report it in the same shape.

The hashrate is the draft's estimator ĥ = Σ 2^32·D_k / t over the shares of a window t (1 min,
5 min, 1 h, 1 d), using each share's assigned level. Work is kept in 10-second buckets so a day of
history costs a bounded amount of memory at any share rate. Pure: times are passed in.
"""

from __future__ import annotations

import functools
from collections import Counter, deque
from dataclasses import dataclass, field
from fractions import Fraction

from nutx_cli.core.pool_stats import HASHRATE_WINDOWS, ChannelSummary
from nutx_cli.core.targets import T_MAX, difficulty_of_level

BUCKET_SECONDS = 10


@functools.cache
def share_hashes(level: int) -> float:
    """The draft's work estimate of one share at a level: 2^32 · D_k hashes."""
    return float(difficulty_of_level(level) * 2**32)


def share_difficulty(hash_int: int) -> float:
    """The difficulty a hash actually reached, T_max / h (for "best share"; display only)."""
    return T_MAX / max(hash_int, 1)


@dataclass
class ShareStats:
    """Counters and windows of one channel (pool) or worker (proxy)."""

    id: int
    user: str
    level: int
    opened_at: float
    accepted: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    last_share: float | None = None
    best_share: float = 0.0
    _buckets: deque[list[float]] = field(default_factory=deque)  # [bucket start, Σ 2^32·D]

    def record_accepted(self, level: int, hash_int: int, now: float) -> None:
        self.accepted += 1
        self.last_share = now
        self.best_share = max(self.best_share, share_difficulty(hash_int))
        work = share_hashes(level)
        start = now - now % BUCKET_SECONDS
        if self._buckets and self._buckets[-1][0] == start:
            self._buckets[-1][1] += work
        else:
            self._buckets.append([start, work])
        horizon = now - HASHRATE_WINDOWS["1d"] - BUCKET_SECONDS
        while self._buckets and self._buckets[0][0] < horizon:
            self._buckets.popleft()

    def record_rejected(self, reason: str) -> None:
        self.rejected[reason] += 1

    def hashrate(self, now: float) -> dict[str, float]:
        """H/s over each window (a channel younger than a window is averaged over its age)."""
        out = {}
        for name, seconds in HASHRATE_WINDOWS.items():
            since = now - seconds
            work = sum(w for start, w in self._buckets if start + BUCKET_SECONDS > since)
            span = max(min(seconds, now - self.opened_at), 1.0)
            out[name] = work / span
        return out

    def summary(self, now: float) -> ChannelSummary:
        """The stats document's entry for this stream at `now`."""
        return ChannelSummary(
            id=str(self.id),
            user=self.user,
            level=self.level,
            difficulty=difficulty_of_level(self.level),
            hashrate=self.hashrate(now),
            accepted=self.accepted,
            rejected=dict(self.rejected),
            last_share=None if self.last_share is None else int(self.last_share),
            best_share=Fraction(self.best_share),
        )
