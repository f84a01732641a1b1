"""Melting sats over Lightning (NUT-05 bolt11, NUT-08 fee change), and melts whose outcome came later.

A melt reserves its proofs (PENDING) and stores its blank outputs in one transaction, asks the backend
to pay outside it, then settles: paid → the proofs are burned and the unused fee reserve is signed back
as change on the blank outputs; failed → the proofs are free again; not known yet (a timeout) → the
quote stays PENDING and the wallet gets `state: PENDING`. One invoice has at most one melt in flight or
paid, whichever quote it came from: checked in the transaction that marks a quote PENDING, and enforced
by the store.

A PENDING melt that no request of this process is paying is settled by asking the backend
(`payment_status`): when the mint opens (a crash interrupted it), when its quote is read, and every
`SETTLE_EVERY_S` while the mint serves. A payment the backend has no record of counts as never sent only
once its request is surely over (`unknown_grace_s`). Nothing is lost, nothing is paid twice (DESIGN §7).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

from nutx_cli.core.keysets import amount_split
from nutx_cli.core.models import BlindedMessage, Proof
from nutx_cli.core.vocabulary import MeltQuoteState, input_fee, sats_for_msat
from nutx_cli.mint.errors import MintError
from nutx_cli.mint.inputs import Inputs, fee_of
from nutx_cli.mint.keysets import MintKeysets
from nutx_cli.mint.lightning import LightningBackend, LightningError, Payment, PaymentStatus
from nutx_cli.mint.outputs import Outputs, to_models
from nutx_cli.mint.quotes import METHOD, check_unit, decode, expired, lightning_unavailable, new_quote_id
from nutx_cli.mint.rows import MeltQuoteRow, SignatureRow
from nutx_cli.mint.store import MintStore

log = logging.getLogger(__name__)

SETTLE_EVERY_S = 15.0
"""How often a serving mint asks its backend about PENDING melts."""


def quote_json(row: MeltQuoteRow) -> dict[str, Any]:
    """The NUT-05 quote object (with `change` once a paid melt returned some)."""
    out: dict[str, Any] = {
        "quote": row.quote,
        "method": row.method,
        "request": row.request,
        "amount": row.amount,
        "unit": row.unit,
        "fee_reserve": row.fee_reserve,
        "state": row.state,
        "expiry": row.expiry,
        "payment_preimage": row.payment_preimage,
    }
    if row.change:
        out["change"] = [c.to_json() for c in row.change]
    return out


def unknown_grace_s(backend: LightningBackend) -> float:
    """How long after a melt's request a payment the backend has no record of may still arrive there."""
    return 2 * backend.timeout_s + 5


class Melts:
    """The mint's NUT-05 quotes and melts over its Lightning backend."""

    def __init__(
        self,
        store: MintStore,
        keysets: MintKeysets,
        inputs: Inputs,
        outputs: Outputs,
        lightning: LightningBackend,
    ) -> None:
        self._store = store
        self._keysets = keysets
        self._inputs = inputs
        self._outputs = outputs
        self.lightning = lightning
        self._paying: set[str] = set()
        """Quotes a request of this process is paying right now (their status is its to settle)."""
        self._paying_lock = threading.Lock()

    def create(self, request: str, unit: str) -> dict[str, Any]:
        unit = check_unit(unit)
        invoice = decode(self.lightning, request)
        if invoice.amount_msat is None:
            raise MintError("amountless-invoice", "invoices without an amount are not supported")
        if self._store.payment_melt_state(invoice.payment_hash) == MeltQuoteState.PAID:
            raise MintError("invoice-already-paid", "this invoice was already paid")
        try:
            reserve_msat = self.lightning.fee_reserve_msat(invoice)
        except LightningError as exc:
            raise lightning_unavailable(exc) from None
        row = MeltQuoteRow(
            quote=new_quote_id(),
            method=METHOD,
            request=request,
            payment_hash=invoice.payment_hash,
            amount=sats_for_msat(invoice.amount_msat),
            unit=unit,
            fee_reserve=sats_for_msat(reserve_msat),
            state=MeltQuoteState.UNPAID,
            expiry=invoice.expiry,
            created_at=int(time.time()),
        )
        with self._store.transaction():
            self._store.add_melt_quote(row)
        return quote_json(row)

    def _row(self, quote: str) -> MeltQuoteRow:
        row = self._store.melt_quote(quote)
        if row is None:
            raise MintError("unknown-quote", f"no melt quote {quote!r}")
        return row

    def get(self, quote: str) -> dict[str, Any]:
        """The quote; a PENDING one is first settled if the backend knows how its payment ended."""
        row = self._row(quote)
        if row.state == MeltQuoteState.PENDING:
            self._check(row)
            row = self._row(quote)
        return quote_json(row)

    def settle_pending(self) -> None:
        """Ask the backend about every PENDING melt no request here is paying, and settle those it knows."""
        for quote in self._store.melt_quotes_in_state(MeltQuoteState.PENDING):
            self._check(self._row(quote))

    def _check(self, row: MeltQuoteRow) -> None:
        with self._paying_lock:
            if row.quote in self._paying:
                return
        try:
            payment = self.lightning.payment_status(decode(self.lightning, row.request))
        except (LightningError, MintError) as exc:
            log.warning("melt %s stays PENDING: cannot ask the Lightning backend (%s)", row.quote, exc)
            return
        if payment.status == PaymentStatus.UNKNOWN:
            _, since = self._store.pending_of(row.quote)
            if since is not None and time.time() - since < unknown_grace_s(self.lightning):
                return
            payment = Payment(PaymentStatus.FAILED, error="the Lightning backend never received the payment")
        self._settle(row.quote, payment)

    def _check_payment_free(self, payment_hash: str) -> None:
        """An invoice has at most one melt in flight or paid, whichever quote and request it came from.

        Called inside the transaction that marks a quote PENDING, so concurrent melts are decided one by one.
        """
        state = self._store.payment_melt_state(payment_hash)
        if state == MeltQuoteState.PAID:
            raise MintError("invoice-already-paid", "this invoice was already paid")
        if state == MeltQuoteState.PENDING:
            raise MintError("quote-pending", "another melt of this invoice is being paid")

    def melt(
        self, quote: str, inputs: Sequence[Proof], outputs: Sequence[BlindedMessage] = ()
    ) -> dict[str, Any]:
        """Pay the quote's invoice with `sat` proofs; overpaid fees come back as change on blank outputs."""
        row = self._row(quote)
        if row.state == MeltQuoteState.PAID:
            raise MintError("invoice-already-paid", "this quote is already paid")
        if row.state == MeltQuoteState.PENDING:
            raise MintError("quote-pending", "this quote is being paid")
        if expired(row.expiry):
            raise MintError("quote-expired", "the invoice of this quote has expired; ask for a new quote")
        checked = self._inputs.check(inputs)
        if any(i.keyset.unit != row.unit for i in checked):
            raise MintError("unit-mismatch", f"melt inputs must be {row.unit}")
        self._outputs.check(outputs, row.unit, allow_zero=True)
        fee = fee_of(checked)
        total_in = sum(i.proof.amount for i in checked)
        needed = row.amount + row.fee_reserve
        if total_in - fee < needed:
            raise MintError(
                "transaction-unbalanced", f"inputs {total_in} − fee {fee} < amount + fee reserve {needed}"
            )
        spends = [i.spend for i in checked]
        with self._paying_lock:  # before the quote is PENDING, so no reader settles it meanwhile
            if quote in self._paying:
                raise MintError("quote-pending", "this quote is being paid")
            self._paying.add(quote)
        try:
            with self._store.transaction():
                if self._row(quote).state != MeltQuoteState.UNPAID:
                    raise MintError("quote-pending", "this quote is being paid")
                self._check_payment_free(row.payment_hash)
                self._inputs.check_unspent(spends)
                if outputs and self._store.signed_among([bytes.fromhex(o.B_) for o in outputs]):
                    raise MintError("blinded-message-reused", "a blank output B_ was signed before")
                self._store.add_pending(spends, quote, int(time.time()))
                self._store.set_melt_outputs(quote, outputs)
                self._store.update_melt_quote(quote, state=MeltQuoteState.PENDING)
            try:
                payment = self.lightning.pay(decode(self.lightning, row.request), row.fee_reserve * 1000)
            except LightningError as exc:  # refused before anything was sent
                payment = Payment(PaymentStatus.FAILED, error=str(exc))
            self._settle(quote, payment)
        finally:
            with self._paying_lock:
                self._paying.discard(quote)
        if payment.status == PaymentStatus.FAILED:
            raise MintError("lightning-payment-failed", f"the Lightning payment failed: {payment.error}")
        return quote_json(self._row(quote))

    def _settle(self, quote: str, payment: Payment) -> None:
        """Apply a payment's known outcome to its PENDING quote (once, whoever calls first)."""
        if payment.status == PaymentStatus.PAID:
            self._settle_paid(quote, payment)
        elif payment.status == PaymentStatus.FAILED:
            with self._store.transaction():
                if self._row(quote).state == MeltQuoteState.PENDING:
                    self._store.drop_pending(quote)
                    self._store.update_melt_quote(quote, state=MeltQuoteState.UNPAID)
                    log.info("melt %s failed, its proofs are free again: %s", quote, payment.error)

    def _settle_paid(self, quote: str, payment: Payment) -> None:
        """Burn the melt's proofs and sign its change: Σ inputs − input fee − amount − fee paid."""
        row = self._row(quote)
        if row.state != MeltQuoteState.PENDING:
            return
        spends, _ = self._store.pending_of(quote)
        fee = input_fee(self._keysets.get(s.keyset_id).input_fee_ppk for s in spends)
        fee_paid = sats_for_msat(payment.fee_msat)
        excess = sum(s.amount for s in spends) - fee - row.amount - fee_paid
        if excess < 0:
            log.error("melt %s: the backend paid %d sat in fees, more than the reserve", quote, fee_paid)
        blanks = row.outputs or ()
        change_amounts = amount_split(max(excess, 0))[: len(blanks)]
        signed: list[SignatureRow] = []
        if blanks and change_amounts:
            keyset = self._keysets.get(blanks[0].id)
            signed = self._outputs.sign(keyset, blanks[: len(change_amounts)], change_amounts)
        with self._store.transaction():
            if self._row(quote).state != MeltQuoteState.PENDING:
                return
            already = self._store.signed_among([s.B_ for s in signed])
            signed = [s for s in signed if s.B_ not in already]
            self._store.spend_pending(quote, int(time.time()))
            self._store.add_signatures(signed)
            self._store.update_melt_quote(
                quote,
                state=MeltQuoteState.PAID,
                payment_preimage=payment.preimage,
                fee_paid=fee_paid,
                change=to_models(signed) or None,
            )
