"""LNbits as the mint's Lightning backend, over LNbits' REST API (one wallet, its admin key).

- invoices: `POST /api/v1/payments` `{"out": false, "amount": sats, "memo", "expiry"}` → `bolt11`,
  `payment_hash`; paid when `GET /api/v1/payments/{hash}` says `"paid": true`;
- the fee reserve: `GET /api/v1/payments/fee-reserve?invoice=…` (msat). LNbits takes no fee limit per
  payment: the reserve it reports is the limit it passes its funding source, so the mint quotes exactly it;
- paying: `POST /api/v1/payments` `{"out": true, "bolt11"}` answers the payment with its `status`
  (`success`, `pending`, `failed`); an error answers `{"detail", "status"}` (HTTP 520 for payment errors,
  `status` "pending" when LNbits itself does not know the outcome);
- a payment's fate: the same `GET /api/v1/payments/{hash}` with our key shows our wallet's record of that
  hash (`details.amount` < 0 for an outgoing one) or 404 if there is none;
- the balance: `GET /api/v1/wallet` → `balance` in msat.

Operators with LND, CLN or another node can put LNbits in front of it.
"""

from __future__ import annotations

from typing import Any

import httpx

from nutx_cli.mint.lightning import (
    DEFAULT_TIMEOUT_S,
    Invoice,
    LightningBackend,
    LightningError,
    LightningUnavailable,
    Payment,
    PaymentStatus,
)
from nutx_cli.mint.lightning_http import RestClient, error_detail, field, json_body

PAYMENTS = "/api/v1/payments"


def payment_of_record(body: Any) -> Payment:
    """A payment from the answer to paying (the payment object) or from `GET /api/v1/payments/{hash}`
    with our key (`paid`, `status`, `preimage` and the payment object as `details`)."""
    if not isinstance(body, dict):
        raise LightningError(f"LNbits answered a payment that is not a JSON object: {body!r:.200}")
    record = body["details"] if isinstance(body.get("details"), dict) else body
    status = body.get("status", record.get("status"))
    if body.get("paid") is True or status == "success":
        preimage = body.get("preimage") or record.get("preimage")
        return Payment(PaymentStatus.PAID, preimage=preimage, fee_msat=abs(int(record.get("fee") or 0)))
    if status == "failed":
        return Payment(PaymentStatus.FAILED, error="LNbits says the payment failed")
    return Payment(PaymentStatus.PENDING)


class LNbitsBackend(LightningBackend):
    """One LNbits wallet: the mint's invoices are paid into it, melts are paid from it."""

    name = "lnbits"

    def __init__(self, url: str, admin_key: str, network: str, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        if not admin_key:
            raise LightningError("LNbits needs the wallet's admin key: --lnbits-key KEY")
        self.network = network
        self.timeout_s = timeout_s
        self._rest = RestClient("LNbits", url, {"X-Api-Key": admin_key}, timeout_s)

    def create_invoice(self, amount_msat: int, memo: str, expiry_s: int) -> Invoice:
        if amount_msat % 1000:
            raise LightningError("LNbits invoices are for whole sats")
        _, body = self._rest.call(
            "POST",
            PAYMENTS,
            json={"out": False, "amount": amount_msat // 1000, "memo": memo, "expiry": expiry_s},
        )
        request = body.get("bolt11") or body.get("payment_request") if isinstance(body, dict) else None
        if not isinstance(request, str):
            raise LightningError(f"LNbits answered an invoice request without a bolt11: {body!r:.200}")
        invoice = self.decode(request)
        if invoice.payment_hash != field(body, "payment_hash", str, "LNbits invoice"):
            raise LightningError("LNbits answered an invoice whose payment hash is not the one it named")
        return invoice

    def _record(self, payment_hash: str) -> Any | None:
        status, body = self._rest.call("GET", f"{PAYMENTS}/{payment_hash}", allow=(404,))
        return None if status == 404 else body

    def invoice_paid(self, payment_hash: str) -> bool:
        body = self._record(payment_hash)
        return isinstance(body, dict) and body.get("paid") is True

    def fee_reserve_msat(self, invoice: Invoice) -> int:
        _, body = self._rest.call("GET", f"{PAYMENTS}/fee-reserve", params={"invoice": invoice.request})
        reserve = field(body, "fee_reserve", int, "LNbits fee reserve")
        if reserve < 0:
            raise LightningError(f"LNbits reported a negative fee reserve ({reserve})")
        return int(reserve)

    def pay(self, invoice: Invoice, fee_limit_msat: int) -> Payment:
        try:
            response = self._rest.send("POST", PAYMENTS, json={"out": True, "bolt11": invoice.request})
        except LightningUnavailable:
            raise
        except httpx.HTTPError as exc:  # sent, but no answer: LNbits may be paying it
            return Payment(PaymentStatus.PENDING, error=f"no answer from LNbits: {exc!r}")
        try:
            body = json_body(response)
        except LightningError as exc:
            return Payment(PaymentStatus.PENDING, error=str(exc))
        if response.status_code < 400:
            return payment_of_record(body)
        status = body.get("status") if isinstance(body, dict) else None
        if status == "pending" or (status is None and response.status_code >= 500):
            return Payment(PaymentStatus.PENDING, error=error_detail(body))
        return Payment(PaymentStatus.FAILED, error=error_detail(body))

    def payment_status(self, invoice: Invoice) -> Payment:
        body = self._record(invoice.payment_hash)
        details = body.get("details") if isinstance(body, dict) else None
        if body is None or (isinstance(details, dict) and int(details.get("amount", -1)) > 0):
            return Payment(PaymentStatus.UNKNOWN)  # no outgoing payment of this hash from our wallet
        return payment_of_record(body)

    def balance_msat(self) -> int | None:
        _, body = self._rest.call("GET", "/api/v1/wallet")
        return int(field(body, "balance", int, "LNbits wallet"))
