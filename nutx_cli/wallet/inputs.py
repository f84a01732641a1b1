"""Proofs handed to the mint as inputs: which to choose, and spending them so that nothing is lost.

Inputs are marked pending before the request leaves the wallet; they are deleted once the mint's
answer is stored, put back when the mint refuses (after asking NUT-07 which of them it burned), and
left pending when the answer never came (`settle`, run by `restore`, decides them later).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import TypeVar

from nutx_cli.core.models import Proof
from nutx_cli.core.vocabulary import ProofState
from nutx_cli.wallet.client import BadMintAnswer, MintClient, MintRefused, MintUnreachable
from nutx_cli.wallet.errors import WalletError
from nutx_cli.wallet.keysets import Keysets
from nutx_cli.wallet.outputs import Outputs
from nutx_cli.wallet.store import PENDING, UNSPENT, KeysetRow, StoredProof, WalletStore
from nutx_cli.wallet.vocabulary import per_request

T = TypeVar("T")


def select_proofs(proofs: Sequence[StoredProof], amount: int) -> tuple[list[StoredProof], bool]:
    """Proofs worth at least `amount`: an exact subset when the greedy pick finds one (True), else
    the largest proofs until the sum is reached (False: the caller swaps for change)."""
    by_size = sorted(proofs, key=lambda p: p.amount, reverse=True)
    exact, remaining = [], amount
    for p in by_size:
        if p.amount <= remaining:
            exact.append(p)
            remaining -= p.amount
    if remaining == 0:
        return exact, True
    chosen, total = [], 0
    for p in by_size:
        if total >= amount:
            break
        chosen.append(p)
        total += p.amount
    if total < amount:
        raise WalletError(f"not enough funds: {amount} needed, {sum(p.amount for p in proofs)} available")
    return chosen, False


class Inputs:
    """Spends the wallet's proofs in mint requests (swap, redeem, melt) and settles those in doubt."""

    def __init__(self, store: WalletStore, keysets: Keysets, outputs: Outputs) -> None:
        self.store = store
        self.keysets = keysets
        self.outputs = outputs

    async def spend(
        self, client: MintClient, inputs: Sequence[StoredProof], request: Callable[[], Awaitable[T]]
    ) -> T:
        """Run a request that burns `inputs`: pending first; on a refusal put back what is unspent."""
        ys = [p.proof.Y for p in inputs]
        with self.store.transaction():
            self.store.set_proof_state(ys, PENDING)
        try:
            return await request()
        except MintRefused:
            await self.settle(client, ys)
            raise
        except (MintUnreachable, BadMintAnswer) as exc:
            raise WalletError(
                f"{exc}; {len(ys)} proofs stay pending until `nutx wallet restore` "
                f"asks the mint what happened"
            ) from None

    async def settle(self, client: MintClient, ys: Sequence[str]) -> int:
        """NUT-07 for proofs in doubt: spent ones are deleted, unspent ones become spendable again."""
        settled = 0
        for batch in per_request(list(ys)):
            try:
                states = await client.checkstate(batch)
            except (MintUnreachable, BadMintAnswer):
                return settled
            with self.store.transaction():
                self.store.delete_proofs(
                    [y for y, s in zip(batch, states, strict=True) if s == ProofState.SPENT]
                )
                self.store.set_proof_state(
                    [y for y, s in zip(batch, states, strict=True) if s == ProofState.UNSPENT], UNSPENT
                )
            settled += sum(1 for s in states if s != ProofState.PENDING)
        return settled

    def replace(
        self,
        spent: Sequence[StoredProof],
        new: Iterable[Proof],
        unit: str,
        epoch: int | None,
        state: str = UNSPENT,
    ) -> list[StoredProof]:
        """The mint's answer is in: the spent inputs go and the new proofs are kept, in one transaction."""
        stored = [StoredProof(p, unit, epoch, state) for p in new]
        with self.store.transaction():
            self.store.delete_proofs([p.proof.Y for p in spent])
            self.store.add_proofs(stored)
        return stored

    async def swap(
        self,
        client: MintClient,
        inputs: Sequence[StoredProof],
        keyset: KeysetRow,
        amounts: Sequence[int],
        unit: str,
        epoch: int | None,
    ) -> list[StoredProof]:
        """NUT-03: `inputs` for fresh proofs of `amounts` in `keyset`; returns the new proofs, stored."""
        keys = await self.keysets.keys(client, keyset.id)
        outputs = sorted(self.outputs.fresh(keyset.id, amounts), key=lambda o: o.amount)
        sigs = await self.spend(
            client, inputs, lambda: client.swap([p.proof for p in inputs], [o.message() for o in outputs])
        )
        proofs, failed = self.outputs.unblind_all(outputs, sigs, keys, "swap")
        stored = self.replace(inputs, proofs, unit, epoch)
        self.outputs.check_failures(failed, "swap")
        return stored
