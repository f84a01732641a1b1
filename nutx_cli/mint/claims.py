"""Claimed ehash (DESIGN §4): the claims of a key, and minting one as ehash of its epoch.

A claim grows while its epoch is open (the pool's claimed shares, committed with W_e by `shares`) and is
paid once its epoch is won or mature: the key's owner sends blinded messages of the epoch's keyset worth
exactly the claim, signed with the key (`core.claims`). The mint signs them blind, so the ehash it issues
cannot be linked to the request at redeem time. One transaction re-checks the epoch's status and that the
claim is unpaid, stores the signatures and marks the claim paid, so concurrent requests pay it once; a
lost or orphaned epoch's claims are worth nothing. Minting follows the request shape of the package
docstring.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from nutx_cli.core.accounting import WorkLedger
from nutx_cli.core.claims import (
    Claim,
    ClaimError,
    IdentityError,
    check_claim,
    claim_signature_valid,
    parse_pubkey,
)
from nutx_cli.core.epoch_status import EpochStatus
from nutx_cli.core.models import BlindedMessage, BlindSignature
from nutx_cli.core.vocabulary import Unit
from nutx_cli.mint.epochs import MintEpochs
from nutx_cli.mint.errors import MintError
from nutx_cli.mint.outputs import Outputs, to_models
from nutx_cli.mint.store import MintStore


def _pubkey(text: str) -> str:
    try:
        return parse_pubkey(text)
    except IdentityError as exc:
        raise MintError("malformed-request", str(exc)) from None


class Claims:
    """The claims of the mint's keys."""

    def __init__(self, store: MintStore, epochs: MintEpochs, outputs: Outputs) -> None:
        self._store = store
        self._epochs = epochs
        self._outputs = outputs

    def of(self, pubkey: str) -> list[Claim]:
        """Every claim of `pubkey`, newest epoch first (`GET /v1/mining/claims/{pubkey}`)."""
        claims = []
        for row in self._store.claims_of(_pubkey(pubkey)):
            epoch = self._epochs.get(row.epoch)
            amount = WorkLedger.of(row.work_by_amount).work
            claims.append(Claim(row.epoch, epoch.keyset_id, epoch.status, amount, row.paid_at is not None))
        return claims

    def mint(
        self, pubkey: str, epoch: int, outputs: Sequence[BlindedMessage], signature: str
    ) -> list[BlindSignature]:
        """Sign `outputs` (ehash of `epoch`, worth exactly the claim) for a request signed by `pubkey`."""
        pubkey = _pubkey(pubkey)
        info = self._epochs.get(epoch)
        if not outputs:
            raise MintError("no-outputs", "a claim needs outputs worth the claim")
        keyset = self._outputs.check(outputs, Unit.EHASH)
        assert keyset is not None
        if keyset.id != info.keyset_id:
            raise MintError(
                "mixed-keysets", f"a claim of epoch {epoch} is minted in its keyset {info.keyset_id}"
            )
        if not claim_signature_valid(pubkey, epoch, outputs, signature):
            raise MintError("claim-signature-invalid", "the claim request is not signed by the claim's key")
        signed = self._outputs.sign(keyset, outputs)
        with self._store.transaction():
            self._store.lock_claim(pubkey, epoch)
            status = self._store.epoch_status(epoch) or EpochStatus.OPEN
            rows = self._store.claims_of(pubkey, epoch)
            claimed = WorkLedger.of(rows[0].work_by_amount).work if rows else 0
            paid = bool(rows) and rows[0].paid_at is not None
            try:
                check_claim(status, claimed, paid, [o.amount for o in outputs])
            except ClaimError as exc:
                raise MintError(exc.name, str(exc)) from None
            self._outputs.check_unsigned(signed)
            self._outputs.store(signed)
            self._store.mark_claim_paid(pubkey, epoch, int(time.time()))
        return to_models(signed)
