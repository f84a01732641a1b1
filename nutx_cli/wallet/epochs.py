"""The fate of the epochs this wallet holds ehash of: status and price, and dropping dead epochs.

A lost or orphaned epoch will never pay (DESIGN §4): its proofs, pending entries and secrets are
dropped, with a history entry saying how much went.
"""

from __future__ import annotations

import logging
from fractions import Fraction

from nutx_cli.core.accounting import format_price
from nutx_cli.core.epoch_status import DEAD, DECIDED_WON, EpochStatus
from nutx_cli.core.vocabulary import Unit
from nutx_cli.wallet.client import MintClient
from nutx_cli.wallet.keysets import Keysets
from nutx_cli.wallet.store import PENDING, UNSPENT, WalletStore

log = logging.getLogger(__name__)


class Epochs:
    """Keeps the wallet's view of epoch statuses and prices up to date."""

    def __init__(self, store: WalletStore, keysets: Keysets) -> None:
        self.store = store
        self.keysets = keysets

    def status_changed(self, epoch: int, status: EpochStatus, price: Fraction | None = None) -> None:
        """Record an epoch's new status; a lost or orphaned epoch's secrets, entries and proofs go."""
        with self.store.transaction():
            self.store.set_epoch_status(epoch, status, format_price(price))
            if status not in DEAD:
                return
            dropped, pending = self.store.drop_epoch(epoch)
            if dropped or pending:
                self.store.add_history(
                    "dropped", Unit.EHASH, dropped, epoch, {"status": status, "pending": pending}
                )
        if dropped or pending:
            log.warning(
                "epoch %d is %s: dropped %d ehash and %d pending shares (worth nothing)",
                epoch,
                status,
                dropped,
                pending,
            )

    def held(self) -> set[int]:
        """Epochs this wallet holds proofs of (spendable or pending) or has shares pending in."""
        held = {e for unit, e, _ in self.store.proof_totals(UNSPENT) if unit == Unit.EHASH and e is not None}
        held |= {e for unit, e, _ in self.store.proof_totals(PENDING) if unit == Unit.EHASH and e is not None}
        return held | {p.epoch for p in self.store.pending_shares()}

    async def refresh(self, client: MintClient) -> None:
        """Ask the mint about every epoch this wallet holds ehash of: status, price; drop dead ones."""
        listed = {k.epoch: k.status for k in await self.keysets.learn_epochs(client)}
        for epoch in sorted(self.held()):
            status = listed.get(epoch)
            known = self.store.keyset_for_epoch(epoch)
            if (
                status in (EpochStatus.WON, EpochStatus.MATURE)
                and known is not None
                and known.price is not None
            ):
                self.status_changed(epoch, status)  # the price of a won epoch never changes
            elif status in DECIDED_WON:
                info = await client.epoch(epoch)
                self.status_changed(epoch, info.status, info.price)
            elif status is not None:
                self.status_changed(epoch, status)
