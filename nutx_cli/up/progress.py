"""What `nutx up --headless` prints: one line per event, from successive pool stats and wallet summaries.

Pure: the runner polls the pool's admin stats (DESIGN §5) and the miner's wallet and feeds them here;
this module compares with what it saw before and says what happened, in words.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from nutx_cli.core.epoch_status import EpochStatus
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

    def update(self, stats: dict[str, Any], wallet: dict[str, Any] | None) -> list[str]:
        """Lines for everything that changed since the previous call (the first call sets the baseline)."""
        lines: list[str] = []
        for block in reversed(stats.get("blocks", [])):
            if block["hash"] not in self.blocks:
                self.blocks.add(block["hash"])
                if self.started:
                    lines.append(
                        f"block found by the pool at height {block['height']} "
                        f"(epoch {block['epoch']}, reward {block['theta_b']} sat)"
                    )
        epochs = sorted(stats.get("epochs", []) or [stats["epoch"]], key=lambda e: e["epoch"])
        for epoch in epochs:
            n, status = epoch["epoch"], epoch["status"]
            before = self.epoch_status.get(n)
            self.epoch_status[n] = status
            self.epoch_work[n] = int(epoch.get("work") or 0)
            if before == status or not self.started:
                continue
            lines.append(_epoch_line(epoch, before))
        accepted = sum(c.get("accepted", 0) for c in stats.get("channels", []))
        rejected = sum(sum(c.get("rejected", {}).values()) for c in stats.get("channels", []))
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

    def share_line(self, stats: dict[str, Any]) -> str:
        pool = stats.get("pool", {})
        epoch = stats.get("epoch", {})
        return (
            f"shares: {self.accepted} accepted, {self.rejected} rejected · pool ~{hashrate(pool.get('hashrate', 0))}"
            f" · epoch {epoch.get('epoch')} work {epoch.get('work', 0)} ehash"
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


def _epoch_line(epoch: dict[str, Any], before: str | None) -> str:
    n, status = epoch["epoch"], epoch["status"]
    if status == EpochStatus.OPEN:
        return f"epoch {n} open (keyset {str(epoch.get('keyset_id', ''))[:12]}…)"
    if status == EpochStatus.WON:
        return f"epoch {n} won: our block at height {epoch.get('height')}, θ_C {epoch.get('theta_c')} sat for {epoch.get('work')} ehash"
    if status == EpochStatus.LOST:
        return f"epoch {n} lost: another miner found block {epoch.get('height')}; its ehash is worth nothing"
    if status == EpochStatus.MATURE:
        return f"epoch {n} mature after {epoch.get('confirmations')} confirmations: price {epoch.get('price')} sat/ehash"
    if status == EpochStatus.ORPHANED:
        return f"epoch {n} orphaned by a reorg (was {before}): its ehash is worth nothing now"
    return f"epoch {n} {status}"
