"""What the wallet holds and did, from the store alone (no seed, no mint): balance and listing.

The CLI, the proxy's stats and the TUI's wallet view read these; nothing here talks to the mint.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from fractions import Fraction

from nutx_cli.core.accounting import parse_price, redeem_value
from nutx_cli.core.vocabulary import Unit
from nutx_cli.wallet.store import PENDING, UNSPENT, WalletStore


@dataclass(frozen=True)
class EpochBalance:
    """ehash held for one epoch, with what the wallet last heard of the epoch."""

    epoch: int
    amount: int
    status: str | None
    price: Fraction | None

    @property
    def estimated_sats(self) -> int | None:
        """floor(amount × price) once the epoch has a price (what a redeem would pay)."""
        return None if self.price is None else redeem_value([self.amount], self.price) if self.amount else 0


@dataclass(frozen=True)
class WalletBalance:
    sats: int
    epochs: list[EpochBalance] = field(default_factory=list)
    pending_shares: int = 0
    pending_sats: int = 0
    pending_ehash: int = 0

    @property
    def ehash_by_epoch(self) -> dict[int, int]:
        return {e.epoch: e.amount for e in self.epochs}

    @property
    def ehash(self) -> int:
        return sum(e.amount for e in self.epochs)


def balance_of(store: WalletStore) -> WalletBalance:
    """ehash per epoch (status, price, estimated sats when known), sats and what is pending."""
    status = {k.epoch: k for k in store.keysets(Unit.EHASH) if k.epoch is not None}
    sats, epochs = 0, []
    for unit, epoch, amount in store.proof_totals(UNSPENT):
        if unit == Unit.SAT:
            sats += amount
        elif unit == Unit.EHASH and epoch is not None:
            k = status.get(epoch)
            epochs.append(
                EpochBalance(epoch, amount, k.status if k else None, parse_price(k.price) if k else None)
            )
    pending = store.proof_totals(PENDING)
    return WalletBalance(
        sats=sats,
        epochs=sorted(epochs, key=lambda e: e.epoch),
        pending_shares=len(store.pending_shares()),
        pending_sats=sum(a for u, _, a in pending if u == Unit.SAT),
        pending_ehash=sum(a for u, _, a in pending if u == Unit.EHASH),
    )


@dataclass(frozen=True)
class ProofCount:
    """`count` proofs of `amount` in one unit, epoch, keyset and state."""

    unit: str
    epoch: int | None
    keyset_id: str
    state: str
    amount: int
    count: int


@dataclass(frozen=True)
class HistoryEntry:
    """One entry of the wallet's history: created, redeem, send, receive, invoice, withdraw, dropped, restore."""

    at: datetime.datetime
    kind: str
    unit: str
    amount: int
    epoch: int | None


@dataclass(frozen=True)
class WalletListing:
    """`nutx wallet list`: proofs held by kind, shares awaiting the pool's answer, recent history."""

    proofs: list[ProofCount]
    pending_shares: int
    history: list[HistoryEntry]


def listing_of(store: WalletStore, history_limit: int) -> WalletListing:
    """The proofs by unit/epoch/keyset/state/amount, the pending shares and the newest history entries."""
    return WalletListing(
        proofs=[ProofCount(**row) for row in store.proof_counts()],
        pending_shares=len(store.pending_shares()),
        history=[
            HistoryEntry(
                datetime.datetime.fromtimestamp(h["at"], datetime.UTC),
                h["kind"],
                h["unit"],
                h["amount"],
                h["epoch"],
            )
            for h in store.history(history_limit)
        ],
    )
