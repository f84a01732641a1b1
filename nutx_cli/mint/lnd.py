"""LND as the mint's Lightning backend, over LND's REST API (written to its REST documentation; no LND
runs in the tests here, so the parsers below are tested on the documented JSON shapes).

Every request carries the macaroon as hex in `Grpc-Metadata-macaroon` and checks the node's TLS
certificate (`tls.cert`). The REST gateway writes 64-bit integers as strings, `bytes` as base64, and
enums by name; a streaming call answers one JSON object per line, `{"result": …}` or `{"error": …}`.

- invoices: `POST /v1/invoices` `{"value_msat", "memo", "expiry"}` → `payment_request`, `r_hash`;
  `GET /v1/invoice/{r_hash hex}` → `state` OPEN / ACCEPTED / SETTLED / CANCELED;
- paying: `POST /v2/router/send` (SendPaymentV2) `{"payment_request", "fee_limit_msat",
  "timeout_seconds", "no_inflight_updates": true}` streams the Payment until it is final:
  `status` SUCCEEDED (with `payment_preimage`, `fee_msat`), FAILED (`failure_reason`), or
  IN_FLIGHT / INITIATED;
- a payment's fate: `GET /v2/router/track/{payment_hash base64url}?no_inflight_updates=true`
  (TrackPaymentV2), the same Payment; a hash LND never paid is gRPC NOT_FOUND (5);
- the balance: `GET /v1/balance/channels` → `local_balance.msat`.

LND has no fee reserve to ask for, so the mint reserves 1 % of the amount, at least 2 sat (as the
reference Cashu mint does), and passes it to LND as the payment's fee limit.
"""

from __future__ import annotations

import base64
import json
import ssl
from pathlib import Path
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
from nutx_cli.mint.lightning_http import RestClient, error_detail, field

FEE_RESERVE_PPM = 10_000
FEE_RESERVE_MIN_MSAT = 2_000
GRPC_NOT_FOUND = 5

_PAYMENT_STATES = {
    "SUCCEEDED": PaymentStatus.PAID,
    "FAILED": PaymentStatus.FAILED,
    "IN_FLIGHT": PaymentStatus.PENDING,
    "INITIATED": PaymentStatus.PENDING,
}


def fee_reserve_msat(amount_msat: int) -> int:
    return max(FEE_RESERVE_MIN_MSAT, amount_msat * FEE_RESERVE_PPM // 1_000_000)


def payment_of(obj: Any) -> Payment:
    """A Payment message (lnrpc.Payment) as the REST gateway writes it."""
    status = field(obj, "status", str, "LND payment")
    if status not in _PAYMENT_STATES:
        raise LightningError(f"LND payment: unknown status {status!r}")
    state = _PAYMENT_STATES[status]
    if state == PaymentStatus.PAID:
        return Payment(state, preimage=obj.get("payment_preimage"), fee_msat=int(obj.get("fee_msat") or 0))
    if state == PaymentStatus.FAILED:
        return Payment(state, error=str(obj.get("failure_reason") or "failed"))
    return Payment(state)


def last_stream_payment(lines: list[str]) -> Payment:
    """The last Payment of a streamed answer; an `{"error"}` line (or a plain rpcStatus) becomes
    UNKNOWN for NOT_FOUND (LND never made that payment) and LightningError otherwise."""
    payment: Payment | None = None
    for line in lines:
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            raise LightningError(f"LND answered a line that is not JSON: {line[:120]!r}") from None
        error = obj.get("error") if isinstance(obj, dict) and "result" not in obj else None
        if error is None and isinstance(obj, dict) and "code" in obj and "message" in obj:
            error = obj
        if error is not None:
            if isinstance(error, dict) and error.get("code") == GRPC_NOT_FOUND:
                return Payment(PaymentStatus.UNKNOWN, error=error_detail(error))
            raise LightningError(f"LND refused: {error_detail(error)}")
        payment = payment_of(obj.get("result") if isinstance(obj, dict) else None)
    if payment is None:
        raise LightningError("LND answered no payment update")
    return payment


def invoice_settled(obj: Any) -> bool:
    """Whether a lnrpc.Invoice (GET /v1/invoice/{hash}) is paid."""
    return field(obj, "state", str, "LND invoice") == "SETTLED"


def added_invoice_hash(obj: Any) -> str:
    """The payment hash (hex) of an AddInvoiceResponse, whose `r_hash` is base64."""
    try:
        return base64.b64decode(field(obj, "r_hash", str, "LND invoice"), validate=True).hex()
    except ValueError:
        raise LightningError(f"LND invoice: r_hash is not base64: {obj!r:.200}") from None


def channel_balance_msat(obj: Any) -> int:
    """Spendable msat of a ChannelBalanceResponse (`local_balance.msat`)."""
    return int(field(field(obj, "local_balance", dict, "LND channel balance"), "msat", str, "LND balance"))


def macaroon_hex(path: Path) -> str:
    try:
        return path.read_bytes().hex()
    except OSError as exc:
        raise LightningError(
            f"cannot read the LND macaroon {path} ({exc.strerror}); check --lnd-macaroon"
        ) from None


def tls_context(cert: Path | None) -> ssl.SSLContext | bool:
    """Trust exactly LND's own certificate (it is self-signed), or the system's CAs without one."""
    if cert is None:
        return True
    try:
        return ssl.create_default_context(cafile=str(cert))
    except (OSError, ssl.SSLError) as exc:
        raise LightningError(
            f"cannot read the LND TLS certificate {cert} ({exc}); check --lnd-cert"
        ) from None


class LNDBackend(LightningBackend):
    """One LND node's REST API with a macaroon that may create invoices and pay (admin.macaroon)."""

    name = "lnd"

    def __init__(
        self,
        url: str,
        macaroon: Path,
        cert: Path | None,
        network: str,
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        self.network = network
        self.timeout_s = timeout_s
        headers = {"Grpc-Metadata-macaroon": macaroon_hex(macaroon)}
        self._rest = RestClient("LND", url, headers, timeout_s, verify=tls_context(cert))

    def create_invoice(self, amount_msat: int, memo: str, expiry_s: int) -> Invoice:
        _, body = self._rest.call(
            "POST",
            "/v1/invoices",
            json={"value_msat": str(amount_msat), "memo": memo, "expiry": str(expiry_s)},
        )
        invoice = self.decode(field(body, "payment_request", str, "LND invoice"))
        if invoice.payment_hash != added_invoice_hash(body):
            raise LightningError("LND answered an invoice whose payment hash is not its r_hash")
        return invoice

    def invoice_paid(self, payment_hash: str) -> bool:
        _, body = self._rest.call("GET", f"/v1/invoice/{payment_hash}")
        return invoice_settled(body)

    def fee_reserve_msat(self, invoice: Invoice) -> int:
        return fee_reserve_msat(invoice.amount_msat or 0)

    def _stream(self, method: str, path: str, **kwargs: Any) -> Payment:
        """The last Payment a streaming call answers before it ends or the timeout passes (PENDING then)."""
        lines: list[str] = []
        try:
            with self._rest.stream(method, path, **kwargs) as response:
                for line in response.iter_lines():
                    lines.append(line)  # noqa: PERF402 - what came before a failure is kept
        except LightningUnavailable:
            raise
        except httpx.HTTPError as exc:
            if not lines:
                return Payment(PaymentStatus.PENDING, error=f"no answer from LND: {exc!r}")
        try:
            return last_stream_payment(lines)
        except LightningError as exc:
            return Payment(PaymentStatus.PENDING, error=str(exc))

    def pay(self, invoice: Invoice, fee_limit_msat: int) -> Payment:
        request = {
            "payment_request": invoice.request,
            "fee_limit_msat": str(fee_limit_msat),
            "timeout_seconds": max(1, int(self.timeout_s)),
            "no_inflight_updates": True,
        }
        # LND gives up routing after timeout_seconds; its final answer gets a few more seconds to arrive
        return self._stream("POST", "/v2/router/send", json=request, timeout=self.timeout_s + 5)

    def payment_status(self, invoice: Invoice) -> Payment:
        key = base64.urlsafe_b64encode(bytes.fromhex(invoice.payment_hash)).decode()
        return self._stream("GET", f"/v2/router/track/{key}", params={"no_inflight_updates": "true"})

    def balance_msat(self) -> int | None:
        _, body = self._rest.call("GET", "/v1/balance/channels")
        return channel_balance_msat(body)
