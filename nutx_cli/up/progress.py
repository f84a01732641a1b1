"""What `nutx up --headless` prints: one line per event, from successive pool stats and wallet summaries.

Pure: the runner polls the pool's admin stats (DESIGN §5, parsed by `nutx_cli.tui.stats`) and the miner's
wallet and feeds them here; this module compares with what it saw before and says what happened, in words.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from nutx_cli.core.epoch_json import Epoch
from nutx_cli.core.epoch_status import EpochStatus
from nutx_cli.core.pool_stats import PoolStats, fraction_json
from nutx_cli.tui.format import hashrate


@dataclass
class Progress:
    """What has been reported so far."""

    epoch_status: dict[int, str] = field(default_factory=dict)
    epoch_work: dict[int, int] = field(default_factory=dict)
    blocks: set[str] = field(default_factory=set)
    accepted: int = 0
    rejected: int = 0
    sats: int = 0
    redeemed: int = 0
    started: bool = False

    def update(self, stats: PoolStats[Epoch], wallet: dict[str, Any] | None) -> list[str]:
        """Lines for everything that changed since the previous call (the first call sets the baseline)."""
        lines: list[str] = []
        for block in reversed(stats.blocks):
            if block.hash is not None and block.hash not in self.blocks:
                self.blocks.add(block.hash)
                if self.started:
                    lines.append(
                        f"block found by the pool at height {block.height} "
                        f"(epoch {block.epoch}, reward {block.theta_b} sat)"
                    )
        current = [stats.epoch] if stats.epoch is not None else []
        for epoch in sorted(stats.epochs or current, key=lambda e: e.epoch):
            before = self.epoch_status.get(epoch.epoch)
            self.epoch_status[epoch.epoch] = epoch.status
            self.epoch_work[epoch.epoch] = epoch.work
            if before == epoch.status or not self.started:
                continue
            lines.append(_epoch_line(epoch, before))
        accepted = sum(c.accepted for c in stats.channels)
        rejected = sum(c.rejected_total for c in stats.channels)
        self.accepted, self.rejected = max(self.accepted, accepted), max(self.rejected, rejected)
        if wallet is not None:
            sats = int(wallet.get("sats", 0))
            if sats > self.sats and self.started:
                self.redeemed += sats - self.sats
                lines.append(
                    f"wallet: redeemed mature ehash into {sats - self.sats} sat (wallet holds {sats} sat)"
                )
            self.sats = sats
        self.started = True
        return lines

    def share_line(self, stats: PoolStats[Epoch]) -> str:
        epoch = stats.epoch
        return (
            f"shares: {self.accepted} accepted, {self.rejected} rejected · pool ~{hashrate(stats.pool.hashrate)}"
            f" · epoch {epoch.epoch if epoch else None} work {epoch.work if epoch else 0} ehash"
        )

    def summary(self) -> str:
        won = sorted(n for n, s in self.epoch_status.items() if s in (EpochStatus.WON, EpochStatus.MATURE))
        lost = sorted(n for n, s in self.epoch_status.items() if s == EpochStatus.LOST)
        orphaned = sorted(n for n, s in self.epoch_status.items() if s == EpochStatus.ORPHANED)
        ehash = sum(self.epoch_work.values())
        ehash_won = sum(self.epoch_work[n] for n in won)
        blocks = f"{len(self.blocks)} block{'' if len(self.blocks) == 1 else 's'}"
        return (
            f"summary: {blocks} found by the pool · epochs won {len(won)}, lost {len(lost)}, "
            f"orphaned {len(orphaned)} · {self.accepted} shares accepted, {ehash} ehash signed "
            f"({ehash_won} in won epochs) · wallet {self.sats} sat ({self.redeemed} sat redeemed here)"
        )


def _epoch_line(epoch: Epoch, before: str | None) -> str:
    n, status = epoch.epoch, epoch.status
    if status == EpochStatus.OPEN:
        return f"epoch {n} open (keyset {(epoch.keyset_id or '')[:12]}…)"
    if status == EpochStatus.WON:
        return f"epoch {n} won: our block at height {epoch.height}, θ_C {epoch.theta_c} sat for {epoch.work} ehash"
    if status == EpochStatus.LOST:
        return f"epoch {n} lost: another miner found block {epoch.height}; its ehash is worth nothing"
    if status == EpochStatus.MATURE:
        return f"epoch {n} mature after {epoch.confirmations} confirmations: price {None if epoch.price is None else fraction_json(epoch.price)} sat/ehash"
    if status == EpochStatus.ORPHANED:
        return f"epoch {n} orphaned by a reorg (was {before}): its ehash is worth nothing now"
    return f"epoch {n} {status}"
