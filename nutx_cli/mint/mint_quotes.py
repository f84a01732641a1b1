"""Minting sats over Lightning (NUT-04 bolt11, NUT-20 quotes locked to a key).

A quote carries an invoice; once the Lightning backend says it is paid, the quote's amount may be
minted exactly once, in outputs of the sat keyset. A quote with a pubkey needs a BIP340 signature
of that key over the request. Minting follows the request shape of the package docstring.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import time
from collections.abc import Sequence
from typing import Any

from coincurve import PublicKeyXOnly

from nutx_cli.core import bdhke
from nutx_cli.core.models import BlindedMessage, BlindSignature
from nutx_cli.core.vocabulary import MintQuoteState, Unit
from nutx_cli.mint.errors import MintError
from nutx_cli.mint.lightning import LightningBackend, LightningError
from nutx_cli.mint.outputs import Outputs, to_models
from nutx_cli.mint.quotes import (
    METHOD,
    QUOTE_EXPIRY_S,
    check_unit,
    expired,
    lightning_unavailable,
    new_quote_id,
)
from nutx_cli.mint.rows import MintQuoteRow
from nutx_cli.mint.store import MintStore

log = logging.getLogger(__name__)

MAX_MINT_SAT = 2**40


def _length_prefixed(data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + data


def quote_json(row: MintQuoteRow) -> dict[str, Any]:
    """The NUT-04 quote object."""
    return {
        "quote": row.quote,
        "method": row.method,
        "request": row.request,
        "amount": row.amount,
        "unit": row.unit,
        "state": row.state,
        "expiry": row.expiry,
        "pubkey": row.pubkey,
    }


class MintQuotes:
    """The mint's NUT-04 quotes over its Lightning backend."""

    def __init__(self, store: MintStore, outputs: Outputs, lightning: LightningBackend) -> None:
        self._store = store
        self._outputs = outputs
        self.lightning = lightning

    def create(
        self, amount: int, unit: str, description: str | None = None, pubkey: str | None = None
    ) -> dict[str, Any]:
        check_unit(unit)
        if not 0 < amount <= MAX_MINT_SAT:
            raise MintError("amount-out-of-range", f"amount must be 1..{MAX_MINT_SAT} sat")
        if pubkey is not None:
            try:
                bdhke.parse_point(pubkey)
            except bdhke.CryptoError as exc:
                raise MintError("malformed-request", f"pubkey: {exc}") from None
        try:
            invoice = self.lightning.create_invoice(amount * 1000, description or "nutx mint", QUOTE_EXPIRY_S)
        except LightningError as exc:
            raise lightning_unavailable(exc) from None
        row = MintQuoteRow(
            quote=new_quote_id(),
            method=METHOD,
            request=invoice.request,
            payment_hash=invoice.payment_hash,
            amount=amount,
            unit=Unit.SAT,
            state=MintQuoteState.UNPAID,
            expiry=invoice.expiry,
            pubkey=pubkey,
            created_at=int(time.time()),
        )
        with self._store.transaction():
            self._store.add_mint_quote(row)
        return quote_json(row)

    def _row(self, quote: str) -> MintQuoteRow:
        """The quote, PAID once the backend says its invoice is."""
        row = self._store.mint_quote(quote)
        if row is None:
            raise MintError("unknown-quote", f"no mint quote {quote!r}")
        if row.state == MintQuoteState.UNPAID and self._paid(row):
            with self._store.transaction():
                self._store.set_mint_quote_state(quote, MintQuoteState.PAID)
            row = dataclasses.replace(row, state=MintQuoteState.PAID)
        return row

    def _paid(self, row: MintQuoteRow) -> bool:
        """Whether the backend says the quote's invoice is paid; unpaid for now if it cannot be asked."""
        try:
            return self.lightning.invoice_paid(row.payment_hash)
        except LightningError as exc:
            log.warning("mint quote %s: cannot ask the Lightning backend (%s)", row.quote, exc)
            return False

    def get(self, quote: str) -> dict[str, Any]:
        return quote_json(self._row(quote))

    def mint(
        self, quote: str, outputs: Sequence[BlindedMessage], signature: str | None = None
    ) -> list[BlindSignature]:
        row = self._row(quote)
        if row.state == MintQuoteState.UNPAID:
            if expired(row.expiry):
                raise MintError(
                    "quote-expired", "the invoice of this quote expired unpaid; ask for a new quote"
                )
            raise MintError("quote-not-paid", "the invoice of this quote is not paid yet")
        if row.state == MintQuoteState.ISSUED:
            raise MintError("quote-already-issued", "this quote was already minted")
        if row.pubkey:
            check_quote_signature(quote, row.pubkey, outputs, signature)
        if not outputs:
            raise MintError("malformed-request", "no outputs")
        keyset = self._outputs.check(outputs, Unit.SAT)
        assert keyset is not None
        if sum(o.amount for o in outputs) != row.amount:
            raise MintError("transaction-unbalanced", f"outputs must add up to the quote's {row.amount} sat")
        signed = self._outputs.sign(keyset, outputs)
        with self._store.transaction():
            again = self._store.mint_quote(quote)
            if again is None or again.state == MintQuoteState.ISSUED:
                raise MintError("quote-already-issued", "this quote was already minted")
            self._outputs.check_unsigned(signed)
            self._store.add_signatures(signed)
            self._store.set_mint_quote_state(quote, MintQuoteState.ISSUED)
        return to_models(signed)


def check_quote_signature(
    quote: str, pubkey: str, outputs: Sequence[BlindedMessage], signature: str | None
) -> None:
    """NUT-20: a BIP340 signature by the quote's pubkey over the request.

    Two message forms are in use: the spec's SHA256(quote || B_0 hex || …) and the length-prefixed
    `Cashu_MintQuoteSig_v1` form the reference wallet 0.21 signs; either is accepted.
    """
    if not signature:
        raise MintError("quote-signature-invalid", "this quote is locked to a pubkey: sign the request")
    legacy = hashlib.sha256((quote + "".join(o.B_ for o in outputs)).encode()).digest()
    tagged = b"Cashu_MintQuoteSig_v1" + _length_prefixed(quote.encode())
    for o in outputs:
        tagged += _length_prefixed(o.amount.to_bytes((o.amount.bit_length() + 7) // 8, "big"))
        tagged += _length_prefixed(bytes.fromhex(o.B_))
    try:
        key = PublicKeyXOnly(bytes.fromhex(pubkey)[1:])
        sig = bytes.fromhex(signature)
        ok = any(key.verify(sig, m) for m in (hashlib.sha256(tagged).digest(), legacy))
    except ValueError:
        ok = False
    if not ok:
        raise MintError("quote-signature-invalid", "the mint request signature does not verify")
