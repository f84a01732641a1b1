"""Mature ehash into sats: one redeem per epoch, after consolidating swaps when it is held in > 1,000 proofs.

Each epoch is paid by one redeem asking for exactly floor(Σ amounts × price), sent over the wallet's
redeem path: SV2 to its pool when it knows the pool (`pool_redeem`), else the mint's HTTP API. An epoch
held in more than 1,000 proofs is first consolidated by ehash→ehash swaps in its own keyset, 1,000 proofs
per request, so the price is floored once and no sat is lost to rounding.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from fractions import Fraction

from nutx_cli.core.accounting import parse_price, redeem_value
from nutx_cli.core.epoch_status import EpochStatus
from nutx_cli.core.keysets import amount_split
from nutx_cli.core.vocabulary import MAX_PER_REQUEST, Unit
from nutx_cli.wallet.balance import balance_of
from nutx_cli.wallet.client import MintClient
from nutx_cli.wallet.errors import WalletError
from nutx_cli.wallet.inputs import Inputs
from nutx_cli.wallet.keysets import Keysets
from nutx_cli.wallet.outputs import Outputs
from nutx_cli.wallet.pool_redeem import RedeemPath
from nutx_cli.wallet.store import KeysetRow, StoredProof, WalletStore
from nutx_cli.wallet.vocabulary import per_request

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
"""progress(done, total), called as a long operation advances."""


class Redeemer:
    """Redeems the mature ehash of one wallet."""

    def __init__(self, store: WalletStore, keysets: Keysets, outputs: Outputs, inputs: Inputs) -> None:
        self.store = store
        self.keysets = keysets
        self.outputs = outputs
        self.inputs = inputs

    def _epochs(self, epoch: int | None) -> list[int]:
        """The epochs to redeem: `epoch` (which must be mature and held), else every mature one held."""
        if epoch is None:
            return [e.epoch for e in balance_of(self.store).epochs if e.status == EpochStatus.MATURE]
        row = self.store.keyset_for_epoch(epoch)
        if row is None or not self.store.proofs(unit=Unit.EHASH, epoch=epoch):
            raise WalletError(f"this wallet holds no ehash of epoch {epoch}")
        if row.status != EpochStatus.MATURE:
            raise WalletError(
                f"epoch {epoch} is {row.status}: only mature epochs can be redeemed; "
                f"wait for its block to mature"
            )
        return [epoch]

    async def redeem(
        self, client: MintClient, epoch: int | None, progress: Progress | None, path: RedeemPath
    ) -> int:
        """Turn mature ehash into sats (all mature epochs, or one) over `path`; returns the sats gained.

        `progress(done, total)` counts requests. Call after the epochs were synced with the mint.
        """
        work = {e: self.store.proofs(unit=Unit.EHASH, epoch=e) for e in self._epochs(epoch)}
        swaps = [len(per_request(p)) if len(p) > MAX_PER_REQUEST else 0 for p in work.values()]
        steps = [0, len(work) + sum(swaps)]  # requests done, requests planned

        def step() -> None:
            steps[0] += 1
            steps[1] = max(steps[1], steps[0])  # a second consolidation pass (> 15,000 proofs) adds steps
            if progress:
                progress(steps[0], steps[1])

        if progress:
            progress(0, steps[1])
        gained = 0
        for e, proofs in work.items():
            row = self.store.keyset_for_epoch(e)
            price = parse_price(row.price) if row else None
            if row is None or price is None:
                raise WalletError(f"the mint has published no price for epoch {e}")
            batch = await self._consolidate(client, proofs, row, step)
            sat = await self.keysets.sat_keyset(client)
            gained += await self._redeem_batch(client, path, batch, sat, price, e)
            step()
        return gained

    async def _consolidate(
        self, client: MintClient, proofs: Sequence[StoredProof], keyset: KeysetRow, step: Callable[[], None]
    ) -> Sequence[StoredProof]:
        """Swap proofs into as few as their amounts allow until at most 1,000 are left."""
        while len(proofs) > MAX_PER_REQUEST:
            merged: list[StoredProof] = []
            for chunk in per_request(proofs):
                value = sum(p.amount for p in chunk) - await self.keysets.fee(client, chunk)
                merged += await self.inputs.swap(
                    client, chunk, keyset, amount_split(value), Unit.EHASH, keyset.epoch
                )
                step()
            proofs = merged
        return proofs

    async def _redeem_batch(
        self,
        client: MintClient,
        path: RedeemPath,
        batch: Sequence[StoredProof],
        sat: KeysetRow,
        price: Fraction,
        epoch: int,
    ) -> int:
        value = redeem_value([p.amount for p in batch], price)
        ehash = sum(p.amount for p in batch)
        if value == 0:
            log.warning("epoch %d: %d ehash are worth less than 1 sat; kept", epoch, ehash)
            return 0
        keys = await self.keysets.keys(client, sat.id)
        outputs = self.outputs.fresh(sat.id, amount_split(value))
        sigs = await self.inputs.spend(
            client, batch, lambda: path.redeem([p.proof for p in batch], [o.message() for o in outputs])
        )
        proofs, failed = self.outputs.unblind_all(outputs, sigs, keys, "redeem")
        self.inputs.replace(batch, proofs, Unit.SAT, None)
        with self.store.transaction():
            self.store.add_history("redeem", Unit.SAT, value, epoch, {"ehash": ehash, "proofs": len(batch)})
        self.outputs.check_failures(failed, "redeem")
        return value
