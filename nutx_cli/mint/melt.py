"""Melting sats over Lightning (NUT-05 bolt11, NUT-08 fee change), and melts a crash left in flight.

A melt reserves its proofs (PENDING) in one transaction, pays the invoice outside it, then burns the
proofs and signs the unused fee reserve back as change on the wallet's blank outputs, or frees the
proofs if the payment failed. One invoice has at most one melt in flight or paid, whichever quote it
came from: checked in the transaction that marks a quote PENDING, and enforced by the store. A
melt a crash interrupted stays PENDING until the backend says what became of its payment
(`recover`, at open): nothing is lost, nothing is paid twice (DESIGN §7). Each committed step tells
the mint's listeners what became of the quote and its proofs.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from nutx_cli.core.keysets import amount_split
from nutx_cli.core.models import BlindedMessage, Proof
from nutx_cli.core.vocabulary import MeltQuoteState, ProofState, sats_for_msat
from nutx_cli.mint.errors import MintError
from nutx_cli.mint.events import MintEvents
from nutx_cli.mint.inputs import Inputs, fee_of
from nutx_cli.mint.lightning import LightningBackend
from nutx_cli.mint.outputs import Outputs, to_models
from nutx_cli.mint.quotes import METHOD, check_unit, decode, expired, new_quote_id
from nutx_cli.mint.rows import MeltQuoteRow, SignatureRow, SpendRow
from nutx_cli.mint.store import MintStore


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


class Melts:
    """The mint's NUT-05 quotes and melts over its Lightning backend."""

    def __init__(
        self,
        store: MintStore,
        inputs: Inputs,
        outputs: Outputs,
        lightning: LightningBackend,
        events: MintEvents,
    ) -> None:
        self._store = store
        self._events = events
        self._inputs = inputs
        self._outputs = outputs
        self.lightning = lightning

    def recover(self) -> None:
        """Settle melts a crash left PENDING: burn their proofs if the payment went out, else free them."""
        for quote in self._store.melt_quotes_in_state(MeltQuoteState.PENDING):
            row = self._row(quote)
            result = self.lightning.payment_result(decode(self.lightning, row.request))
            if result is None:
                continue
            with self._store.transaction():
                if result.ok:
                    self._store.spend_pending(quote, int(time.time()))
                    self._store.update_melt_quote(
                        quote,
                        state=MeltQuoteState.PAID,
                        payment_preimage=result.preimage,
                        fee_paid=sats_for_msat(result.fee_msat),
                    )
                else:
                    self._store.drop_pending(quote)
                    self._store.update_melt_quote(quote, state=MeltQuoteState.UNPAID)

    def create(self, request: str, unit: str) -> dict[str, Any]:
        unit = check_unit(unit)
        invoice = decode(self.lightning, request)
        if invoice.amount_msat is None:
            raise MintError("amountless-invoice", "invoices without an amount are not supported")
        if self._store.payment_melt_state(invoice.payment_hash) == MeltQuoteState.PAID:
            raise MintError("invoice-already-paid", "this invoice was already paid")
        row = MeltQuoteRow(
            quote=new_quote_id(),
            method=METHOD,
            request=request,
            payment_hash=invoice.payment_hash,
            amount=sats_for_msat(invoice.amount_msat),
            unit=unit,
            fee_reserve=sats_for_msat(self.lightning.fee_reserve_msat(invoice.amount_msat)),
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
        return quote_json(self._row(quote))

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
        checked = self._inputs.check(inputs, outputs, quote)
        if any(i.keyset.unit != row.unit for i in checked):
            raise MintError("unit-mismatch", f"melt inputs must be {row.unit}")
        change_keyset = self._outputs.check(outputs, row.unit, allow_zero=True)
        fee = fee_of(checked)
        total_in = sum(i.proof.amount for i in checked)
        needed = row.amount + row.fee_reserve
        if total_in - fee < needed:
            raise MintError(
                "transaction-unbalanced", f"inputs {total_in} − fee {fee} < amount + fee reserve {needed}"
            )
        spends = [i.spend for i in checked]
        with self._store.transaction():
            if self._row(quote).state != MeltQuoteState.UNPAID:
                raise MintError("quote-pending", "this quote is being paid")
            self._check_payment_free(row.payment_hash)
            self._inputs.check_unspent(spends)
            if outputs and self._store.signed_among([bytes.fromhex(o.B_) for o in outputs]):
                raise MintError("blinded-message-reused", "a blank output B_ was signed before")
            self._store.add_pending(spends, quote, int(time.time()))
            self._store.update_melt_quote(quote, state=MeltQuoteState.PENDING)
        self._told(quote, spends, ProofState.PENDING)
        payment = self.lightning.pay_invoice(decode(self.lightning, row.request), row.fee_reserve * 1000)
        if not payment.ok:
            with self._store.transaction():
                self._store.drop_pending(quote)
                self._store.update_melt_quote(quote, state=MeltQuoteState.UNPAID)
            self._told(quote, spends, ProofState.UNSPENT)
            raise MintError("lightning-payment-failed", f"the Lightning payment failed: {payment.error}")
        fee_paid = sats_for_msat(payment.fee_msat)
        change_amounts = amount_split(total_in - fee - row.amount - fee_paid)[: len(outputs)]
        signed: list[SignatureRow] = []
        if change_keyset is not None and change_amounts:
            signed = self._outputs.sign(change_keyset, outputs[: len(change_amounts)], change_amounts)
        with self._store.transaction():
            already = self._store.signed_among([s.B_ for s in signed])
            signed = [s for s in signed if s.B_ not in already]
            self._store.drop_pending(quote)
            self._store.spend(spends, int(time.time()))
            self._store.add_signatures(signed)
            self._store.update_melt_quote(
                quote,
                state=MeltQuoteState.PAID,
                payment_preimage=payment.preimage,
                fee_paid=fee_paid,
                change=to_models(signed) or None,
            )
        return self._told(quote, spends, ProofState.SPENT)

    def _told(self, quote: str, spends: Sequence[SpendRow], state: ProofState) -> dict[str, Any]:
        """The quote as it is now, told to listeners with the new `state` of its proofs."""
        self._events.proofs(spends, state)
        now = self.get(quote)
        self._events.melt_quote(now)
        return now
