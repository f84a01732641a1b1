"""Blinded outputs from the seed's counters, and the proofs the mint's signatures unblind to.

Every secret and blinding factor comes from the seed (NUT-13) and a per-keyset counter; `fresh`
advances the counters in the store *before* the outputs leave the wallet, so a crash loses nothing
`restore` cannot find again. Every signature's NUT-12 DLEQ proof is checked before its proof is
kept; a signature that fails is stored as evidence (`dleq_failures`) and logged as an error.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from nutx_cli.core import bdhke, nut13
from nutx_cli.core.models import DLEQ, BlindedMessage, BlindSignature, Proof
from nutx_cli.wallet.client import BadMintAnswer
from nutx_cli.wallet.errors import DleqFailure
from nutx_cli.wallet.store import WalletStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Output:
    """A blinded message this wallet made, with what it needs to unblind the answer."""

    keyset_id: str
    amount: int
    counter: int
    secret: str
    r: bytes
    B_: bytes

    def message(self) -> BlindedMessage:
        return BlindedMessage(self.amount, self.keyset_id, self.B_.hex())


class Outputs:
    """Makes outputs from one seed and reads the mint's answers to them."""

    def __init__(self, store: WalletStore, seed: bytes) -> None:
        self.store = store
        self._seed = seed

    def derive(self, keyset_id: str, counter: int, amount: int) -> Output:
        """The output of `counter` in `keyset_id` (the counter is not reserved: see `fresh`)."""
        secret = nut13.derive_secret(self._seed, keyset_id, counter)
        r = nut13.derive_blinding_factor(self._seed, keyset_id, counter)
        return Output(keyset_id, amount, counter, secret, r, bdhke.blind(secret, r))

    def fresh(self, keyset_id: str, amounts: Sequence[int]) -> list[Output]:
        """Outputs on fresh counters; the counters are advanced durably before anything is sent."""
        with self.store.transaction():
            start = self.store.reserve_counters(keyset_id, len(amounts))
        return [self.derive(keyset_id, start + i, a) for i, a in enumerate(amounts)]

    def record_dleq_failure(
        self, context: str, out: Output, amount: int, C_: bytes, e: bytes, s: bytes, K: bytes
    ) -> None:
        """Keep a signature that fails its DLEQ proof, with the secret and r it was for, as evidence."""
        with self.store.transaction():
            self.store.add_dleq_failure(
                context=context,
                keyset_id=out.keyset_id,
                amount=amount,
                B_=out.B_,
                C_=C_,
                e=e,
                s=s,
                K=K,
                secret=out.secret,
                r=out.r,
            )
        log.error(
            "DLEQ FAILURE (%s): the mint's signature for keyset %s amount %d was not made with its "
            "published key; kept as evidence in %s",
            context,
            out.keyset_id,
            amount,
            self.store.path,
        )

    def unblind(self, out: Output, sig: BlindSignature, keys: dict[int, bytes], context: str) -> Proof | None:
        """The proof for one answered output, or None (evidence kept) when the DLEQ does not hold."""
        K = keys.get(sig.amount)
        if K is None or sig.id != out.keyset_id or sig.amount != out.amount:
            raise BadMintAnswer(
                f"the mint signed with keyset {sig.id} amount {sig.amount}, "
                f"which is not what output {out.counter} asked for"
            )
        if sig.dleq is None:
            self.record_dleq_failure(
                context + " (no DLEQ)", out, sig.amount, bytes.fromhex(sig.C_), b"", b"", K
            )
            return None
        blind = sig.blind_sig()
        try:
            ok = bdhke.verify_blind_dleq(K, out.B_, blind.C_, blind.e, blind.s)
        except bdhke.CryptoError:
            ok = False
        if not ok:
            self.record_dleq_failure(context, out, sig.amount, blind.C_, blind.e, blind.s, K)
            return None
        C = bdhke.unblind(blind.C_, out.r, K)
        return Proof(
            sig.amount, out.keyset_id, out.secret, C.hex(), DLEQ(sig.dleq.e, sig.dleq.s, out.r.hex())
        )

    def unblind_all(
        self, outputs: Sequence[Output], sigs: Sequence[BlindSignature], keys: dict[int, bytes], context: str
    ) -> tuple[list[Proof], int]:
        """The proofs of the signatures that hold, and how many failed their DLEQ (see `check_failures`)."""
        proofs, failed = [], 0
        for out, sig in zip(outputs, sigs, strict=False):
            proof = self.unblind(out, sig, keys, context)
            if proof is None:
                failed += 1
            else:
                proofs.append(proof)
        return proofs, failed

    def check_failures(self, failed: int, context: str) -> None:
        """Raise DleqFailure once the good proofs of an answer are stored and `failed` of it were bad."""
        if failed:
            raise DleqFailure(
                f"{failed} signatures of the mint's {context} answer fail their DLEQ proof; "
                f"kept as evidence in {self.store.path}"
            )
