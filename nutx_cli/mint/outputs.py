"""Outputs: which blinded messages a request may have signed, and their signatures.

All outputs of a request are in one active keyset of the request's unit (ehash keysets of dead
epochs refused by name), with distinct B_ and amounts the keyset has. They are signed before the
request's transaction (signatures are deterministic, so a refused request loses nothing), and
`check_unsigned` re-checks inside it that no B_ was signed meanwhile; `store` refuses the request if
another process stored one of its B_ between that check and the insert.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from nutx_cli.core import bdhke
from nutx_cli.core.keysets import Keyset
from nutx_cli.core.models import BlindedMessage, BlindSignature
from nutx_cli.core.vocabulary import Unit
from nutx_cli.mint.epochs import MintEpochs
from nutx_cli.mint.errors import MintError, check_request_size
from nutx_cli.mint.keysets import MintKeysets
from nutx_cli.mint.rows import SignatureRow
from nutx_cli.mint.store import MintStore


def to_models(rows: Iterable[SignatureRow]) -> list[BlindSignature]:
    """The signatures in the Cashu JSON form the API answers with."""
    return [BlindSignature.of(r.sig, r.amount, r.keyset_id) for r in rows]


class Outputs:
    """Checks and signs the outputs of swap, redeem, mint and melt requests."""

    def __init__(self, store: MintStore, keysets: MintKeysets, epochs: MintEpochs) -> None:
        self._store = store
        self._keysets = keysets
        self._epochs = epochs

    def check(
        self, outputs: Sequence[BlindedMessage], unit: str, *, allow_zero: bool = False
    ) -> Keyset | None:
        """The one active keyset of `unit` all outputs are in (None for no outputs)."""
        check_request_size(len(outputs), "outputs", "too-many-outputs")
        if not outputs:
            return None
        if len({o.B_.lower() for o in outputs}) != len(outputs):
            raise MintError("duplicate-outputs", "the same B_ appears twice")
        keysets = {self._keysets.get(o.id).id for o in outputs}
        if len(keysets) != 1:
            raise MintError("mixed-keysets", "all outputs of a request must use one keyset")
        keyset = self._keysets.get(keysets.pop())
        if keyset.unit != unit:
            raise MintError("unit-mismatch", f"outputs are in unit {keyset.unit}, this request needs {unit}")
        if keyset.unit == Unit.EHASH:
            self._epochs.refuse_dead(keyset)
        if not self._keysets.is_active(keyset):
            raise MintError("output-keyset-inactive", f"keyset {keyset.id} is inactive and signs nothing")
        for o in outputs:
            if o.amount not in keyset.private_keys and not (allow_zero and o.amount == 0):
                raise MintError("amount-mismatch", f"keyset {keyset.id} has no key for amount {o.amount}")
        return keyset

    @staticmethod
    def sign(
        keyset: Keyset, outputs: Sequence[BlindedMessage], amounts: Sequence[int] | None = None
    ) -> list[SignatureRow]:
        """Signatures of `outputs` (for `amounts` instead of theirs: NUT-08 change), not yet stored."""
        out = []
        for i, o in enumerate(outputs):
            amount = o.amount if amounts is None else amounts[i]
            try:
                B_ = bytes.fromhex(o.B_)
                sig = bdhke.sign(keyset.private_keys[amount], B_, keyset.public_keys[amount])
            except (bdhke.CryptoError, ValueError) as exc:
                raise MintError(
                    "invalid-blinded-message", f"output {i}: B_ is not a valid point ({exc})"
                ) from None
            out.append(SignatureRow(B_, sig, amount, keyset.id))
        return out

    def check_unsigned(self, rows: Sequence[SignatureRow]) -> None:
        """Inside the request's transaction: no output B_ was signed before."""
        if self._store.signed_among([r.B_ for r in rows]):
            raise MintError("blinded-message-reused", "an output B_ was signed before")

    def store(self, rows: Sequence[SignatureRow]) -> None:
        """Inside the request's transaction: store every signature, or refuse the request (rolled back)."""
        if len(self._store.add_signatures(rows)) != len(rows):
            raise MintError("blinded-message-reused", "an output B_ was signed before")
