"""The mint's Lightning side (DESIGN §7): a small backend interface and the regtest fake.

The fake backend issues real BOLT11 invoices (signed with a throwaway node key) that count as
paid the moment they exist, and "pays" any invoice at once. It creates sats out of nothing, so it
refuses every network but regtest.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass

import bolt11
from bolt11 import Bolt11, MilliSatoshi, TagChar, Tags

from nutx_cli.errors import NutxError

BOLT11_CURRENCY = {"regtest": "bcrt", "testnet": "tb", "testnet4": "tb", "signet": "tbs", "mainnet": "bc"}


class LightningError(NutxError):
    """An invoice that cannot be read or used, or a backend that cannot run here."""


@dataclass(frozen=True)
class Invoice:
    """What the mint needs from a BOLT11 request."""

    request: str
    payment_hash: str
    amount_msat: int | None
    expiry: int


@dataclass(frozen=True)
class Payment:
    """The outcome of paying an invoice; `fee_msat` is what routing really cost."""

    ok: bool
    preimage: str | None = None
    fee_msat: int = 0
    error: str | None = None


class LightningBackend(ABC):
    """Receive (mint quotes) and send (melts) over Lightning on one network."""

    network: str

    def decode(self, request: str) -> Invoice:
        """Parse a BOLT11 string of this backend's network."""
        try:
            inv = bolt11.decode(request.strip().lower().removeprefix("lightning:"))
        except Exception as exc:  # noqa: BLE001 - bolt11 raises many types for bad strings
            raise LightningError(f"not a BOLT11 invoice: {exc}") from None
        expected = BOLT11_CURRENCY.get(self.network)
        if inv.currency != expected:
            raise LightningError(f"invoice is for {inv.currency!r}, this mint runs on {self.network}")
        return Invoice(request, inv.payment_hash, inv.amount_msat, inv.expiry_time)

    @abstractmethod
    def create_invoice(self, amount_msat: int, memo: str, expiry_s: int) -> Invoice: ...

    @abstractmethod
    def invoice_paid(self, payment_hash: str) -> bool: ...

    @abstractmethod
    def fee_reserve_msat(self, amount_msat: int) -> int: ...

    @abstractmethod
    def pay_invoice(self, invoice: Invoice, fee_limit_msat: int) -> Payment: ...

    @abstractmethod
    def payment_result(self, invoice: Invoice) -> Payment | None:
        """What became of an earlier attempt to pay `invoice` (after a crash); None while unknown."""


class FakeBackend(LightningBackend):
    """Regtest only: invoices are paid as soon as they are created; payments always succeed.

    A fake invoice carries its preimage as its payment secret (fine for a fake: nothing is at stake),
    so paying one fake backend's invoice from another yields a preimage the wallet can check.

    `fee_reserve_sat` + `fee_reserve_ppm` of the amount is reserved per melt (like a real node's
    routing budget); `fee_paid_sat` is what a payment actually costs (≤ the reserve).
    """

    def __init__(
        self,
        network: str = "regtest",
        *,
        fee_reserve_sat: int = 2,
        fee_reserve_ppm: int = 10_000,
        fee_paid_sat: int = 0,
    ) -> None:
        if network != "regtest":
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
                currency=BOLT11_CURRENCY[self.network],
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

    def fee_reserve_msat(self, amount_msat: int) -> int:
        return self.fee_reserve_sat * 1000 + amount_msat * self.fee_reserve_ppm // 1_000_000

    def pay_invoice(self, invoice: Invoice, fee_limit_msat: int) -> Payment:
        """Succeeds at once; for invoices of a fake backend the preimage is the real one."""
        fee = min(self.fee_paid_sat * 1000, fee_limit_msat)
        secret = bolt11.decode(invoice.request).payment_secret or ""
        preimage = (
            secret if hashlib.sha256(bytes.fromhex(secret)).hexdigest() == invoice.payment_hash else None
        )
        return Payment(ok=True, preimage=preimage or secrets.token_bytes(32).hex(), fee_msat=fee)

    def payment_result(self, invoice: Invoice) -> Payment | None:
        """The fake keeps no record and nothing real was paid: an interrupted melt counts as failed."""
        return Payment(ok=False, error="the mint stopped before the payment finished")


class OfflineBackend(LightningBackend):
    """No Lightning at all: for reading a mint's data (`nutx mint info`); every payment is refused."""

    def __init__(self, network: str) -> None:
        self.network = network

    def create_invoice(self, amount_msat: int, memo: str, expiry_s: int) -> Invoice:
        raise LightningError("this mint has no Lightning backend")

    def invoice_paid(self, payment_hash: str) -> bool:
        return False

    def fee_reserve_msat(self, amount_msat: int) -> int:
        return 0

    def pay_invoice(self, invoice: Invoice, fee_limit_msat: int) -> Payment:
        return Payment(ok=False, error="this mint has no Lightning backend")

    def payment_result(self, invoice: Invoice) -> Payment | None:
        return None
