"""Shares of the miner and the proxy: a blinded message stored before submit, then completed or failed.

A share's (secret, r, B_) is stored before the share goes to the pool (`prepare`); the pool's
signature is checked (DLEQ against the key it claims, which must be the key the mint publishes)
before the proof is kept (`complete`); a refused share stays pending until its epoch closes, and
`recover_pending` asks the mint (NUT-09) whether a share whose answer was lost was signed after all.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from nutx_cli.core import bdhke
from nutx_cli.core.epoch_status import EpochStatus
from nutx_cli.core.models import DLEQ, BlindedMessage, Proof
from nutx_cli.core.vocabulary import Unit
from nutx_cli.wallet.client import BadMintAnswer, MintClient
from nutx_cli.wallet.errors import DleqFailure
from nutx_cli.wallet.keysets import Keysets
from nutx_cli.wallet.outputs import Output, Outputs
from nutx_cli.wallet.store import UNSPENT, PendingShareRow, StoredProof, WalletStore
from nutx_cli.wallet.vocabulary import per_request

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PreparedShare(Output):
    """A share's output, already stored as pending share `id` of `epoch`; hand `B_` to the pool,
    then complete or fail it."""

    id: int
    epoch: int

    @classmethod
    def of_row(cls, row: PendingShareRow) -> PreparedShare:
        return cls(row.keyset_id, row.amount, row.counter, row.secret, row.r, row.B_, row.id, row.epoch)


class Shares:
    """The share bookkeeping of one wallet."""

    def __init__(self, store: WalletStore, keysets: Keysets, outputs: Outputs) -> None:
        self.store = store
        self.keysets = keysets
        self.outputs = outputs

    def prepare(self, keyset_id: str, amount: int, epoch: int) -> PreparedShare:
        """A fresh blinded message for one share, stored durably before it is returned."""
        with self.store.transaction():
            if self.store.keyset(keyset_id) is None:
                self.store.upsert_keyset(
                    keyset_id, Unit.EHASH, epoch=epoch, active=True, input_fee_ppk=0, status=EpochStatus.OPEN
                )
            counter = self.store.reserve_counters(keyset_id, 1)
            out = self.outputs.derive(keyset_id, counter, amount)
            share_id = self.store.add_pending_share(
                keyset_id, epoch, counter, amount, out.secret, out.r, out.B_
            )
        return PreparedShare(keyset_id, amount, counter, out.secret, out.r, out.B_, share_id, epoch)

    def complete(self, prepared: PreparedShare, sig: bdhke.BlindSig, K: bytes) -> Proof:
        """Check the pool's signature (DLEQ against K), unblind it and keep the ehash proof.

        A failed check is kept as evidence, logged as an error and raised as `DleqFailure`.
        """
        row = self.store.keyset(prepared.keyset_id)
        published = row.keys.get(prepared.amount) if row and row.keys else None
        try:
            ok = (published is None or published == K) and bdhke.verify_blind_dleq(
                K, prepared.B_, sig.C_, sig.e, sig.s
            )
        except bdhke.CryptoError:
            ok = False
        if not ok:
            context = "share" if published in (None, K) else "share signed with an unpublished key"
            self.outputs.record_dleq_failure(context, prepared, prepared.amount, sig.C_, sig.e, sig.s, K)
            with self.store.transaction():
                self.store.delete_pending_shares([prepared.id])
            raise DleqFailure(
                f"the pool's signature for a share of epoch {prepared.epoch} fails its DLEQ proof; "
                f"kept as evidence in {self.store.path}"
            )
        C = bdhke.unblind(sig.C_, prepared.r, K)
        proof = Proof(
            prepared.amount,
            prepared.keyset_id,
            prepared.secret,
            C.hex(),
            DLEQ(sig.e.hex(), sig.s.hex(), prepared.r.hex()),
        )
        with self.store.transaction():
            self.store.add_proofs([StoredProof(proof, Unit.EHASH, prepared.epoch, UNSPENT)])
            self.store.delete_pending_shares([prepared.id])
        return proof

    def fail(self, prepared: PreparedShare, reason: str) -> None:
        """The pool refused the share (or never answered): keep the entry until the epoch closes,
        when `recover_pending` asks the mint whether it was signed after all."""
        with self.store.transaction():
            self.store.fail_pending_share(prepared.id, reason)
        log.debug("share %d of epoch %d failed: %s", prepared.id, prepared.epoch, reason)

    async def recover_pending(self, client: MintClient) -> int:
        """Settle pending shares: keep those the mint signed (NUT-09), forget those it never will."""
        rows = self.store.pending_shares()
        if not rows:
            return 0
        listed = {k.epoch: k.status for k in await self.keysets.learn_epochs(client)}
        recovered = 0
        by_keyset: dict[str, list[PendingShareRow]] = {}
        for row in rows:
            by_keyset.setdefault(row.keyset_id, []).append(row)
        for keyset_id, group in by_keyset.items():
            keys = await self.keysets.keys(client, keyset_id)
            for batch in per_request(group):
                found = await client.restore([BlindedMessage(r.amount, keyset_id, r.B_.hex()) for r in batch])
                sig_by_b = {bytes.fromhex(o.B_): sig for o, sig in found}
                done: list[int] = []
                for r in batch:
                    sig = sig_by_b.get(r.B_)
                    if sig is not None:
                        if sig.dleq is None or sig.amount != r.amount or r.amount not in keys:
                            raise BadMintAnswer(
                                f"the mint restored share {r.id} with another amount or no DLEQ"
                            )
                        try:
                            self.complete(PreparedShare.of_row(r), sig.blind_sig(), keys[r.amount])
                            recovered += 1
                        except DleqFailure:
                            pass
                    elif listed.get(r.epoch) not in (None, EpochStatus.OPEN):
                        done.append(r.id)  # the epoch is closed: the mint will never sign it now
                with self.store.transaction():
                    self.store.delete_pending_shares(done)
        return recovered
