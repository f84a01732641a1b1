"""Restore (NUT-09 + NUT-13): find at the mint everything this seed was ever signed.

Each keyset is scanned from counter 0 in batches of outputs derived from the seed: 100 at a time
for sat, 1,000 for ehash, until 3 batches in a row come back unsigned. What the scan finds is
checked (DLEQ, NUT-07 unspent) before it is kept, and the counters move past it so no B_ is reused.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from nutx_cli.core.epoch_status import DEAD
from nutx_cli.core.models import Proof
from nutx_cli.core.vocabulary import MAX_PER_REQUEST, Unit
from nutx_cli.wallet.balance import balance_of
from nutx_cli.wallet.client import BadMintAnswer, MintClient
from nutx_cli.wallet.epochs import Epochs
from nutx_cli.wallet.inputs import Inputs
from nutx_cli.wallet.keysets import Keysets
from nutx_cli.wallet.lightning import Lightning
from nutx_cli.wallet.outputs import Outputs
from nutx_cli.wallet.shares import Shares
from nutx_cli.wallet.store import PENDING, UNSPENT, StoredProof, WalletStore
from nutx_cli.wallet.vocabulary import BLANK_AMOUNT, per_request

RESTORE_BATCH: dict[str, int] = {Unit.SAT: 100, Unit.EHASH: MAX_PER_REQUEST}
RESTORE_EMPTY_BATCHES = 3
"""NUT-13 restore: outputs in batches of 100, stop after 3 batches in a row the mint never signed.
An ehash keyset is scanned 1,000 at a time: a miner's counters can skip long runs of shares the pool
refused (stale after a job switch, a pool restart), which must not end the scan early."""


@dataclass(frozen=True)
class RestoreReport:
    sats: int
    ehash_by_epoch: dict[int, int]
    settled_pending: int


class Restorer:
    """Restores one wallet from its seed, settling whatever was left unfinished on the way."""

    def __init__(
        self,
        store: WalletStore,
        keysets: Keysets,
        outputs: Outputs,
        inputs: Inputs,
        shares: Shares,
        lightning: Lightning,
        epochs: Epochs,
    ) -> None:
        self.store = store
        self.keysets = keysets
        self.outputs = outputs
        self.inputs = inputs
        self.shares = shares
        self.lightning = lightning
        self.epochs = epochs

    async def restore(
        self, client: MintClient, progress: Callable[[str], None] | None = None
    ) -> RestoreReport:
        """Sats and live-epoch ehash of this seed; also settles proofs left pending by an interrupted
        request, shares left pending by a miner that stopped between submit and answer, and invoices."""
        settled = await self.inputs.settle(client, [p.proof.Y for p in self.store.proofs(state=PENDING)])
        keysets: list[tuple[str, str, int | None]] = [
            (k.id, Unit.SAT, None) for k in await client.keysets() if k.unit == Unit.SAT
        ]
        keysets += [
            (k.id, Unit.EHASH, k.epoch)
            for k in await self.keysets.learn_epochs(client)
            if k.status not in DEAD
        ]
        for keyset_id, unit, epoch in keysets:
            if progress:
                progress(f"keyset {keyset_id[:16]}… ({unit}{'' if epoch is None else f', epoch {epoch}'})")
            await self._scan(client, keyset_id, unit, epoch)
        await self.shares.recover_pending(client)
        await self.lightning.check_invoices(client)
        await self.epochs.refresh(client)
        balance = balance_of(self.store)
        with self.store.transaction():
            self.store.add_history("restore", Unit.SAT, balance.sats, None, {"ehash": balance.ehash_by_epoch})
        return RestoreReport(balance.sats, balance.ehash_by_epoch, settled)

    async def _scan(self, client: MintClient, keyset_id: str, unit: str, epoch: int | None) -> None:
        """Keep the unspent proofs the mint ever signed for this seed in one keyset."""
        keys = await self.keysets.keys(client, keyset_id)
        counter, empty, next_counter = 0, 0, 0
        found: list[Proof] = []
        size = RESTORE_BATCH[unit]
        while empty < RESTORE_EMPTY_BATCHES:
            outputs = [
                self.outputs.derive(keyset_id, c, BLANK_AMOUNT) for c in range(counter, counter + size)
            ]
            by_b = {o.B_: o for o in outputs}
            pairs = await client.restore([o.message() for o in outputs])
            for message, sig in pairs:
                out = by_b.get(bytes.fromhex(message.B_))
                if out is None:
                    raise BadMintAnswer("the mint restored an output this wallet did not ask for")
                proof = self.outputs.unblind(replace(out, amount=sig.amount), sig, keys, "restore")
                if proof is not None:
                    found.append(proof)
                next_counter = max(next_counter, out.counter + 1)
            empty = 0 if pairs else empty + 1
            counter += size
        unspent: list[Proof] = []
        for batch in per_request(found):
            states = await client.checkstate([p.Y for p in batch])
            unspent += [p for p, s in zip(batch, states, strict=True) if s == "UNSPENT"]
        with self.store.transaction():
            self.store.raise_counter(keyset_id, next_counter)
            self.store.add_proofs(StoredProof(p, unit, epoch, UNSPENT) for p in unspent)
