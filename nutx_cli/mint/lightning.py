"""The mint's Lightning side (DESIGN §7): the backend interface, the regtest fake, and "no Lightning".

A backend does what a Lightning node does for a mint: create an invoice and say whether it is paid
(NUT-04), reserve a routing fee for a melt quote, pay an invoice within a fee limit, and say what became
of a payment (NUT-05). A payment's outcome may be unknown for a while (a slow route, a timeout, a mint
that crashed mid-payment): `pay` then answers PENDING rather than guess, and `payment_status` is asked
again later. A backend that has no record of a payment answers UNKNOWN; the mint counts that as "never
sent" only once the payment request is long past (`Melts`), since a request may still be on its way.

The fake backend issues real BOLT11 invoices (signed with a throwaway node key) that count as paid the
moment they exist, and "pays" any invoice at once. It creates sats out of nothing, so it runs on
regtest only. Real backends are in `lnbits` and `lnd`.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from enum import StrEnum

import bolt11
from bolt11 import Bolt11, MilliSatoshi, TagChar, Tags

from nutx_cli.core.networks import rules
from nutx_cli.errors import NutxError

DEFAULT_TIMEOUT_S = 30.0
"""How long a backend request may take; a payment not settled by then stays PENDING."""


class LightningError(NutxError):
    """An invoice that cannot be read or used, or a backend that cannot run here."""


class LightningUnavailable(LightningError):
    """The backend cannot be reached or refused the request; nothing was paid."""


class PaymentStatus(StrEnum):
    """What a backend knows of an outgoing payment."""

    PENDING = "pending"
    PAID = "paid"
    FAILED = "failed"
    UNKNOWN = "unknown"
    """The backend has no record of it (never sent, or the request has not arrived yet)."""


@dataclass(frozen=True)
class Invoice:
    """What the mint needs from a BOLT11 request."""

    request: str
    payment_hash: str
    amount_msat: int | None
    expiry: int


@dataclass(frozen=True)
class Payment:
    """An outgoing payment's state; a PAID one has its preimage and what routing really cost."""

    status: PaymentStatus
    preimage: str | None = None
    fee_msat: int = 0
    error: str | None = None


def decode_invoice(request: str, network: str) -> Invoice:
    """Parse a BOLT11 string of `network` (its currency prefix from `core.networks`)."""
    try:
        inv = bolt11.decode(request.strip().lower().removeprefix("lightning:"))
    except Exception as exc:  # noqa: BLE001 - bolt11 raises many types for bad strings
        raise LightningError(f"not a BOLT11 invoice: {exc}") from None
    expected = rules(network).bolt11_prefix
    if inv.currency != expected:
        raise LightningError(f"invoice is for {inv.currency!r}, this mint runs on {network}")
    return Invoice(request, inv.payment_hash, inv.amount_msat, inv.expiry_time)


class LightningBackend(ABC):
    """Receive (mint quotes) and send (melts) over Lightning on one network."""

    network: str
    name: str
    """What `nutx mint info` and the logs call it: fake, lnbits, lnd, none."""
    timeout_s: float = DEFAULT_TIMEOUT_S

    def decode(self, request: str) -> Invoice:
        return decode_invoice(request, self.network)

    @abstractmethod
    def create_invoice(self, amount_msat: int, memo: str, expiry_s: int) -> Invoice: ...

    @abstractmethod
    def invoice_paid(self, payment_hash: str) -> bool:
        """Whether an invoice this backend created has been paid."""

    @abstractmethod
    def fee_reserve_msat(self, invoice: Invoice) -> int:
        """The routing fee a melt of `invoice` must reserve; `pay` spends at most this much."""

    @abstractmethod
    def pay(self, invoice: Invoice, fee_limit_msat: int) -> Payment:
        """Pay `invoice` spending at most `fee_limit_msat` on fees: PAID, FAILED, or PENDING if not known yet.

        Never raises for an outcome it cannot tell (a timeout after the request went out is PENDING);
        only a request that surely never reached the node may answer FAILED."""

    @abstractmethod
    def payment_status(self, invoice: Invoice) -> Payment:
        """What became of an earlier `pay` of `invoice` (also after a restart)."""

    @abstractmethod
    def balance_msat(self) -> int | None:
        """What the backend can spend (its channels' or wallet's balance); None if it has none to report."""


class FakeBackend(LightningBackend):
    """Regtest only: invoices are paid as soon as they are created; payments always succeed.

    A fake invoice carries its preimage as its payment secret (fine for a fake: nothing is at stake),
    so paying one fake backend's invoice from another yields a preimage the wallet can check.

    `fee_reserve_sat` + `fee_reserve_ppm` of the amount is reserved per melt (like a real node's
    routing budget); `fee_paid_sat` is what a payment actually costs (≤ the reserve). It remembers the
    payments it made while it runs; one it has no record of (the mint restarted) was never made.
    """

    name = "fake"
    timeout_s = 0.0

    def __init__(
        self,
        network: str = "regtest",
        *,
        fee_reserve_sat: int = 2,
        fee_reserve_ppm: int = 10_000,
        fee_paid_sat: int = 0,
    ) -> None:
        if not rules(network).fake_lightning:
            raise LightningError(
                f"the fake Lightning backend mints sats for nothing and only runs on regtest, not {network}"
            )
        if min(fee_reserve_sat, fee_reserve_ppm, fee_paid_sat) < 0:
            raise LightningError("fees cannot be negative")
        self.network = network
        self.fee_reserve_sat = fee_reserve_sat
        self.fee_reserve_ppm = fee_reserve_ppm
        self.fee_paid_sat = fee_paid_sat
        self._node_key = secrets.token_bytes(32).hex()
        self._paid: dict[str, Payment] = {}

    def create_invoice(self, amount_msat: int, memo: str, expiry_s: int) -> Invoice:
        preimage = secrets.token_bytes(32)
        tags = Tags()
        tags.add(TagChar.payment_hash, hashlib.sha256(preimage).hexdigest())
        tags.add(TagChar.payment_secret, preimage.hex())  # lets a fake payer reveal a valid preimage
        tags.add(TagChar.description, memo)
        tags.add(TagChar.expire_time, expiry_s)
        now = int(time.time())
        request = bolt11.encode(
            Bolt11(
                currency=rules(self.network).bolt11_prefix,
                date=now,
                tags=tags,
                amount_msat=MilliSatoshi(amount_msat),
            ),
            self._node_key,
        )
        return self.decode(request)

    def invoice_paid(self, payment_hash: str) -> bool:
        """Every invoice of the fake is settled at once (also after a restart)."""
        return True

    def fee_reserve_msat(self, invoice: Invoice) -> int:
        return self.fee_reserve_sat * 1000 + (invoice.amount_msat or 0) * self.fee_reserve_ppm // 1_000_000

    def pay(self, invoice: Invoice, fee_limit_msat: int) -> Payment:
        """Succeeds at once; for invoices of a fake backend the preimage is the real one."""
        fee = min(self.fee_paid_sat * 1000, fee_limit_msat)
        secret = bolt11.decode(invoice.request).payment_secret or ""
        preimage = (
            secret if hashlib.sha256(bytes.fromhex(secret)).hexdigest() == invoice.payment_hash else None
        )
        payment = Payment(
            PaymentStatus.PAID, preimage=preimage or secrets.token_bytes(32).hex(), fee_msat=fee
        )
        self._paid[invoice.payment_hash] = payment
        return payment

    def payment_status(self, invoice: Invoice) -> Payment:
        """A payment this process made, or (nothing real is ever paid) one that was never made."""
        return self._paid.get(invoice.payment_hash) or Payment(
            PaymentStatus.FAILED, error="the fake backend made no such payment"
        )

    def balance_msat(self) -> int | None:
        return None


class NoLightning(LightningBackend):
    """No Lightning at all: a mint run without a backend (signet, testnet4) or read by `nutx mint info`.

    Mint and melt quotes are refused; what it is asked about payments is unknown to it."""

    name = "none"

    def __init__(self, network: str) -> None:
        self.network = network

    def _refuse(self) -> LightningUnavailable:
        return LightningUnavailable("this mint runs without a Lightning backend (see `--lightning`)")

    def create_invoice(self, amount_msat: int, memo: str, expiry_s: int) -> Invoice:
        raise self._refuse()

    def invoice_paid(self, payment_hash: str) -> bool:
        return False

    def fee_reserve_msat(self, invoice: Invoice) -> int:
        raise self._refuse()

    def pay(self, invoice: Invoice, fee_limit_msat: int) -> Payment:
        raise self._refuse()

    def payment_status(self, invoice: Invoice) -> Payment:
        return Payment(PaymentStatus.PENDING, error="no Lightning backend to ask")

    def balance_msat(self) -> int | None:
        return None
