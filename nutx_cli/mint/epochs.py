"""The mint's epochs (DESIGN §4): open one at a tip, close it won or lost, count confirmations, orphan.

Every status change goes through the one transition table of `core.epoch_status`, inside a store
transaction that reads the status it moves from. What the API shows of an epoch (the EPOCH JSON) is
computed here from the stored row and the work ledger: W_e, θ_C = θ_B − F_M and the price θ_C / W_e.
"""

from __future__ import annotations

from typing import Any

from nutx_cli.core.accounting import WorkLedger, epoch_price, theta_c
from nutx_cli.core.epoch_json import Epoch
from nutx_cli.core.epoch_status import (
    DEAD,
    DECIDED_WON,
    EpochEvent,
    EpochStatus,
    EpochTransitionError,
    advance,
    worthless_epoch,
)
from nutx_cli.core.keysets import Keyset
from nutx_cli.mint.errors import MintError
from nutx_cli.mint.keysets import MintKeysets
from nutx_cli.mint.rows import EpochRow
from nutx_cli.mint.store import MintStore

EPOCH_FLOOR = "epoch_floor"
"""Meta key: the highest epoch number `skip_through` set aside (0 if none)."""

DEAD_EPOCH_ERRORS = {EpochStatus.LOST: "epoch-lost", EpochStatus.ORPHANED: "epoch-orphaned"}


class MintEpochs:
    """The epochs of one mint; `k_max` and the mint fee F_M are fixed for its lifetime."""

    def __init__(self, store: MintStore, keysets: MintKeysets, k_max: int, mint_fee: int) -> None:
        self._store = store
        self._keysets = keysets
        self.k_max = k_max
        self.mint_fee = mint_fee

    def _row(self, epoch: int) -> EpochRow:
        row = self._store.epoch_row(epoch)
        if row is None:
            raise MintError("unknown-epoch", f"epoch {epoch} does not exist")
        return row

    def _view(self, row: EpochRow) -> Epoch:
        work_by_amount = self._store.work_counts(row.epoch)
        work = WorkLedger.of(work_by_amount).work
        reward = price = None
        if row.status in DECIDED_WON and row.theta_b is not None and row.mint_fee is not None:
            reward = theta_c(row.theta_b, row.mint_fee)
            price = epoch_price(row.theta_b, row.mint_fee, work)
        return Epoch(
            epoch=row.epoch,
            status=row.status,
            keyset_id=row.keyset_id,
            k_max=row.k_max,
            started_at=row.started_at,
            ended_at=row.ended_at,
            height=row.height,
            block_hash=row.block_hash,
            work=work,
            work_by_amount=work_by_amount,
            theta_b=row.theta_b,
            mint_fee=row.mint_fee,
            theta_c=reward,
            price=price,
            confirmations=row.confirmations,
            paid=row.paid,
        )

    def get(self, epoch: int) -> Epoch:
        return self._view(self._row(epoch))

    def all(self) -> list[Epoch]:
        """All epochs, newest first."""
        return [self._view(r) for r in self._store.epoch_rows()]

    def current(self) -> Epoch | None:
        n = self._store.open_epoch_number()
        return None if n is None else self.get(n)

    def start_tip(self, epoch: int) -> tuple[str, int]:
        """(hash, height) of the chain tip the epoch started at; the block after it decides the epoch."""
        row = self._row(epoch)
        return row.start_hash, row.start_height

    # -- transitions ----------------------------------------------------------------------------

    def open(self, *, tip_hash: str, height: int, now: int) -> Epoch:
        """Start the next epoch at a chain tip and derive its ehash keyset."""
        with self._store.transaction():
            still_open = self._store.open_epoch_number()
            if still_open is not None:
                raise MintError("epoch-state", f"epoch {still_open} is still open; close it first")
            n = max(self._store.last_epoch() or 0, self._floor()) + 1
            keyset = self._keysets.add_epoch_keyset(n, now)
            self._store.add_epoch(n, keyset.id, self.k_max, now, tip_hash, height)
        self._keysets.remember(keyset, n)
        return self.get(n)

    def _floor(self) -> int:
        return int(self._store.meta(EPOCH_FLOOR) or 0)

    def skip_through(self, epoch: int) -> None:
        """Never open an epoch numbered `epoch` or lower: after a restore, epochs the lost data dir opened
        later than its backup are unknown, and their keysets must not be handed out again."""
        with self._store.transaction():
            self._store.set_meta(EPOCH_FLOOR, str(max(self._floor(), epoch)))

    def _move(self, epoch: int, event: EpochEvent, **fields: Any) -> Epoch:
        """Apply `event` by the transition table, writing `fields` with the new status in one transaction."""
        with self._store.transaction():
            try:
                status = advance(self._row(epoch).status, event)
            except EpochTransitionError as exc:
                raise MintError("epoch-state", f"epoch {epoch}: {exc}") from None
            self._store.update_epoch(epoch, status=status, **fields)
        return self.get(epoch)

    def close_won(self, epoch: int, *, theta_b: int, block_hash: str, height: int, now: int) -> Epoch:
        """The pool's block ended the epoch: W_e is final, θ_C = θ_B − F_M."""
        if theta_b < 0:
            raise MintError("epoch-state", f"block reward cannot be negative ({theta_b})")
        return self._move(
            epoch,
            EpochEvent.WON,
            theta_b=theta_b,
            mint_fee=self.mint_fee,
            block_hash=block_hash,
            height=height,
            ended_at=now,
            confirmations=1,
        )

    def close_lost(self, epoch: int, *, height: int, now: int) -> Epoch:
        return self._move(epoch, EpochEvent.LOST, height=height, ended_at=now)

    def set_confirmations(self, epoch: int, confirmations: int, *, maturity: int) -> Epoch:
        """Won → mature once the block has `maturity` confirmations (the block itself counts 1)."""
        event = EpochEvent.MATURED if confirmations >= maturity else EpochEvent.CONFIRMED
        return self._move(epoch, event, confirmations=confirmations)

    def mark_orphaned(self, epoch: int) -> Epoch:
        """A reorg took the epoch's block out: its tokens are worth 0 from now on."""
        return self._move(epoch, EpochEvent.ORPHANED)

    # -- what the status allows -----------------------------------------------------------------

    def refuse_dead(self, keyset: Keyset) -> None:
        """epoch-lost / epoch-orphaned for an ehash keyset of a dead epoch (read now, in the caller's transaction)."""
        epoch = self._keysets.epoch_of(keyset)
        status = None if epoch is None else self._store.epoch_status(epoch)
        if epoch is not None and status in DEAD:
            raise MintError(DEAD_EPOCH_ERRORS[status], worthless_epoch(epoch, status))

    def redeemable(self, epoch: int) -> Epoch:
        """The epoch, if its ehash may be redeemed now (mature); the matching refusal otherwise."""
        info = self.get(epoch)
        if info.status in DEAD:
            raise MintError(DEAD_EPOCH_ERRORS[info.status], worthless_epoch(epoch, info.status))
        if info.status != EpochStatus.MATURE:
            raise MintError(
                "epoch-not-redeemable", f"epoch {epoch} is {info.status}; redeem once its block is mature"
            )
        return info
