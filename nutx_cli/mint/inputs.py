"""Input verification: whether the proofs of a request may be spent, before anything is written.

Shape and size first (at most MAX_PER_REQUEST proofs, bounded secrets and witnesses, no proof
twice), then each proof's signature against the key of its keyset and amount, then the spending
conditions of its secret (NUT-10/11/14, `core.conditions`, at the mint's clock). This is the one
place a proof is judged: swap, melt and redeem (HTTP and SV2) all come through `check`. A
condition that is not met, a malformed well-known secret or witness and a secret of an unknown
kind are all `proof-invalid` (10001, "Proof verification failed"). Whether a proof is already spent
or pending can race with other requests, so that is re-checked by `check_unspent` inside the
request's transaction.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from nutx_cli.core import bdhke
from nutx_cli.core.conditions import ConditionError, check_inputs
from nutx_cli.core.keysets import Keyset
from nutx_cli.core.models import BlindedMessage, Proof
from nutx_cli.core.vocabulary import ProofState, input_fee
from nutx_cli.mint.errors import MintError, check_request_size
from nutx_cli.mint.keysets import MintKeysets
from nutx_cli.mint.rows import SpendRow
from nutx_cli.mint.store import MintStore

MAX_SECRET_LENGTH = 1024
MAX_WITNESS_LENGTH = 1024


@dataclass(frozen=True, slots=True)
class CheckedInput:
    """A proof whose signature holds, with its keyset and the row that burns it."""

    proof: Proof
    keyset: Keyset
    spend: SpendRow


def fee_of(inputs: Iterable[CheckedInput]) -> int:
    """The request's input fee (NUT-02): each input pays its keyset's input_fee_ppk."""
    return input_fee(i.keyset.input_fee_ppk for i in inputs)


class Inputs:
    """Verifies the proofs of swap, redeem and melt requests against the mint's keysets."""

    def __init__(self, store: MintStore, keysets: MintKeysets) -> None:
        self._store = store
        self._keysets = keysets

    def check(
        self, inputs: Sequence[Proof], outputs: Sequence[BlindedMessage], quote: str | None = None
    ) -> list[CheckedInput]:
        """The inputs, verified and unlocked for this request's `outputs` (and melt `quote`, for SIG_ALL)."""
        if not inputs:
            raise MintError("malformed-request", "no inputs")
        check_request_size(len(inputs), "inputs", "too-many-proofs")
        located: list[tuple[Proof, Keyset, bytes]] = []
        seen: set[bytes] = set()
        for p in inputs:
            if len(p.secret) > MAX_SECRET_LENGTH:
                raise MintError("proof-invalid", f"secret longer than {MAX_SECRET_LENGTH} characters")
            if p.witness is not None and len(p.witness) > MAX_WITNESS_LENGTH:
                raise MintError("proof-invalid", f"witness longer than {MAX_WITNESS_LENGTH} characters")
            y = bdhke.secret_to_y(p.secret)
            if y in seen:
                raise MintError("duplicate-inputs", "the same proof appears twice")
            seen.add(y)
            located.append((p, self._keysets.get(p.id), y))
        out = []
        for i, (p, keyset, y) in enumerate(located):
            k = keyset.private_keys.get(p.amount)
            try:
                valid = k is not None and bdhke.verify(k, p.secret, bytes.fromhex(p.C))
            except (bdhke.CryptoError, ValueError):
                valid = False
            if not valid:
                raise MintError("proof-invalid", f"proof {i} (amount {p.amount}) does not verify")
            out.append(CheckedInput(p, keyset, SpendRow(y, p.amount, keyset.id, p.witness)))
        try:
            check_inputs(inputs, outputs, int(time.time()), quote)
        except ConditionError as exc:
            raise MintError("proof-invalid", f"spending conditions: {exc}") from None
        return out

    def check_unspent(self, spends: Sequence[SpendRow]) -> None:
        """Inside the request's transaction: no input is spent or pending."""
        states = self._store.proof_states([s.Y for s in spends])
        if any(state == ProofState.SPENT for state, _ in states.values()):
            raise MintError("proof-spent", "a proof is already spent")
        if states:
            raise MintError("proof-pending", "a proof is pending in another transaction")
