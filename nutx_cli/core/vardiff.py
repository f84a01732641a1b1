"""Variable difficulty over whole levels (DESIGN.md §3): which level a channel should mine at.

A level-k share of a miner hashing h H/s arrives at rate h·2^(k−256)/s, so the ideal level for a
share rate r is k* = 256 + log2(r/h). The controller keeps the count n of shares and the time t
since the channel last changed level and compares n with the m = r·t shares the target rate
expects. It moves only when n is outside the band [m/2, 2m] (one level either way) by three
Poisson standard deviations, and then jumps to its best estimate of k*. Because the evidence
keeps accumulating while the level stays put, a steady miner sitting within one level of k*
becomes ever less likely to trigger a move: the level converges and never flips between two
neighbours. Old evidence is halved once it covers more than `window` seconds, so a miner whose
hashrate really changes is followed.

Pure: the caller passes the clock (`now`, seconds) in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from nutx_cli.core.targets import AMOUNT_LEVELS, TargetError, level_at_or_below

DEFAULT_SHARES_PER_MINUTE = 6.0
DEFAULT_START_LEVEL_REGTEST = 236
BAND = 2.0
"""A level change is considered only when the observed rate is off by more than a factor 2 (one level)."""
Z = 3.0
"""Standard deviations the count must lie beyond the band before the level moves."""
DEFAULT_WINDOW = 3600.0


class VardiffError(TargetError):
    """A vardiff setting outside what the ladder allows."""


@dataclass(frozen=True)
class VardiffConfig:
    """Pool-wide settings: the ladder top `k_max`, the aimed share rate and the fallback start level."""

    k_max: int
    shares_per_minute: float = DEFAULT_SHARES_PER_MINUTE
    start_level: int = DEFAULT_START_LEVEL_REGTEST
    window: float = DEFAULT_WINDOW

    def __post_init__(self) -> None:
        if not self.shares_per_minute > 0:
            raise VardiffError(f"--shares-per-minute must be positive, got {self.shares_per_minute}")
        if not self.k_min <= self.start_level <= self.k_max:
            raise VardiffError(
                f"--start-level {self.start_level} is outside the ladder {self.k_min}..{self.k_max}"
            )

    @property
    def k_min(self) -> int:
        """The hardest level offered: k_max − 63 (amounts stop at 2^63)."""
        return self.k_max - (AMOUNT_LEVELS - 1)

    @property
    def rate(self) -> float:
        """Aimed shares per second."""
        return self.shares_per_minute / 60.0


def ideal_level(hashrate: float, shares_per_minute: float) -> float:
    """k* = 256 + log2(r/h): the (real) level at which `hashrate` yields the aimed share rate."""
    if not hashrate > 0:
        raise VardiffError(f"hashrate must be positive, got {hashrate}")
    return 256.0 + math.log2(shares_per_minute / 60.0 / hashrate)


class Vardiff:
    """The level controller of one channel."""

    def __init__(self, config: VardiffConfig, nominal_hashrate: float, max_target: int, now: float) -> None:
        self.config = config
        self._ceiling = config.k_max
        self.set_max_target(max_target)
        if math.isfinite(nominal_hashrate) and nominal_hashrate > 0:
            start = round(ideal_level(nominal_hashrate, config.shares_per_minute))
        else:
            start = config.start_level
        self.level = self._clamp(start)
        self._since = now
        self._shares = 0.0

    @property
    def ceiling(self) -> int:
        """The easiest level this channel may get: min(k_max, the miner's max_target)."""
        return self._ceiling

    def _clamp(self, k: int) -> int:
        return max(self.config.k_min, min(self._ceiling, k))

    def set_max_target(self, max_target: int) -> None:
        """Honour the miner's max_target (never hand out an easier target than it asked for).

        Any max_target no offered level meets (0 included) is a VardiffError, the one error callers catch.
        """
        ceiling = min(self.config.k_max, level_at_or_below(max_target)) if max_target >= 1 else 0
        if ceiling < self.config.k_min:
            raise VardiffError(
                f"max_target {max_target:#x} is harder than the hardest level offered ({self.config.k_min})"
            )
        self._ceiling = ceiling

    def update(self, nominal_hashrate: float, max_target: int, now: float) -> int | None:
        """UpdateChannel: new max_target (and hashrate hint). Returns the new level if it changed."""
        self.set_max_target(max_target)
        target = self.level
        if math.isfinite(nominal_hashrate) and nominal_hashrate > 0:
            target = round(ideal_level(nominal_hashrate, self.config.shares_per_minute))
        return self._move_to(target, now)

    def on_share(self, now: float) -> int | None:
        """Count an accepted share; returns the new level if the channel should move."""
        self._shares += 1
        return self.check(now)

    def check(self, now: float) -> int | None:
        """Periodic check (catches a channel whose shares stopped coming); returns a new level or None."""
        elapsed = now - self._since
        if elapsed <= 0:
            return None
        if elapsed > self.config.window:
            # forget half of the evidence: keep the observed rate, shrink its weight
            self._shares /= 2
            self._since = now - elapsed / 2
            elapsed /= 2
        expected = self.config.rate * elapsed
        n = self._shares
        high = expected * BAND
        low = expected / BAND
        if n > high + Z * math.sqrt(high) + 1:
            # jump by what even the low end of the count's confidence interval supports
            step = max(1, round(math.log2(max(n - Z * math.sqrt(n), high) / expected)))
            return self._move_to(self.level - step, now)
        if n < low - Z * math.sqrt(low):
            step = max(1, round(math.log2(expected / (n + Z * math.sqrt(n) + 1))))
            return self._move_to(self.level + step, now)
        return None

    def _move_to(self, k: int, now: float) -> int | None:
        k = self._clamp(k)
        if k == self.level:
            return None
        self.level = k
        self._since = now
        self._shares = 0.0
        return k
