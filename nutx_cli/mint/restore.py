"""What a wallet asks to find its ecash again: proof states (NUT-07) and earlier signatures (NUT-09).

Both only read the store: a Y the mint has not seen is UNSPENT; an output it never signed is left
out of the answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from nutx_cli.core import bdhke
from nutx_cli.core.models import BlindedMessage, BlindSignature
from nutx_cli.core.vocabulary import ProofState
from nutx_cli.mint.errors import MintError, check_request_size
from nutx_cli.mint.store import MintStore


def check_state(store: MintStore, ys: Sequence[str]) -> list[dict[str, Any]]:
    """NUT-07: `{"Y", "state", "witness"}` per Y, in the order asked."""
    check_request_size(len(ys), "Ys", "too-many-proofs")
    try:
        raw = [bdhke.parse_point(y).format() for y in ys]
    except bdhke.CryptoError as exc:
        raise MintError("malformed-request", f"a Y is not a point: {exc}") from None
    states = store.proof_states(raw)
    out = []
    for y, key in zip(ys, raw, strict=True):
        state, witness = states.get(key, (ProofState.UNSPENT, None))
        out.append({"Y": y, "state": state, "witness": witness})
    return out


def restore(
    store: MintStore, outputs: Sequence[BlindedMessage]
) -> tuple[list[BlindedMessage], list[BlindSignature]]:
    """NUT-09: the outputs among `outputs` the mint signed before (with the amount and keyset it signed
    them for), and those signatures, index-aligned."""
    check_request_size(len(outputs), "outputs", "too-many-outputs")
    found = store.signatures_for([bytes.fromhex(o.B_) for o in outputs])
    outs, sigs = [], []
    for o in outputs:
        row = found.get(bytes.fromhex(o.B_))
        if row is not None:
            outs.append(BlindedMessage(row.amount, row.keyset_id, o.B_))
            sigs.append(BlindSignature.of(row.sig, row.amount, row.keyset_id))
    return outs, sigs
