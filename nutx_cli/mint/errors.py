"""The mint's one error type: a name (the SV2 `error_code`) and a number (the HTTP `code`).

Names and numbers follow DESIGN.md §5 and the current Cashu table (spec/cashu.md §20). Share
submission errors exist on the SV2 wire only; their HTTP code is never sent but is kept in the
project range so every name has one. Names without a NUT code (a malformed body, a bad B_, an
amount the keyset has no key for) also use the project range 41xxx; the HTTP API's own limits are
41413 and 41429, after their HTTP statuses (`http_limits`).
"""

from __future__ import annotations

from nutx_cli.core.vocabulary import MAX_PER_REQUEST
from nutx_cli.errors import NutxError

CODES: dict[str, int] = {
    "proof-invalid": 10001,
    "proof-spent": 11001,
    "proof-pending": 11002,
    "blinded-message-reused": 11003,
    "outputs-pending": 11004,
    "transaction-unbalanced": 11005,
    "amount-out-of-range": 11006,
    "duplicate-inputs": 11007,
    "duplicate-outputs": 11008,
    "unit-mismatch": 11010,
    "amountless-invoice": 11011,
    "unit-unsupported": 11013,
    "too-many-proofs": 11014,
    "too-many-outputs": 11015,
    "unknown-keyset": 12001,
    "output-keyset-inactive": 12002,
    "quote-not-paid": 20001,
    "quote-already-issued": 20002,
    "lightning-payment-failed": 20004,
    "quote-pending": 20005,
    "invoice-already-paid": 20006,
    "quote-expired": 20007,
    "quote-signature-invalid": 20008,
    "epoch-not-redeemable": 41001,
    "epoch-orphaned": 41002,
    "epoch-lost": 41003,
    "outputs-exceed-value": 41004,
    "mixed-epochs": 41005,
    "no-outputs": 41006,
    "mixed-keysets": 41007,
    "invalid-blinded-message": 41008,
    "malformed-request": 41009,
    "amount-mismatch": 41010,
    "unknown-quote": 41011,
    "unknown-epoch": 41012,
    "epoch-state": 41013,
    "inactive-keyset": 41014,
    "stale-share": 41015,
    "lightning-unavailable": 41016,
    "claim-not-final": 41017,
    "unknown-claim": 41018,
    "claim-already-paid": 41019,
    "claim-signature-invalid": 41020,
    "request-too-large": 41413,
    "rate-limited": 41429,
}


class MintError(NutxError):
    """A request the mint refuses; `name` goes on the SV2 wire, `code` into the HTTP body."""

    def __init__(self, name: str, detail: str) -> None:
        if name not in CODES:
            raise ValueError(f"unknown mint error name {name!r}")
        super().__init__(detail)
        self.name = name
        self.code = CODES[name]
        self.detail = detail

    def to_json(self) -> dict[str, object]:
        return {"detail": self.detail, "code": self.code}


def check_request_size(count: int, what: str, name: str) -> None:
    """Refuse (`name`: too-many-proofs / too-many-outputs) a request with more than MAX_PER_REQUEST `what`."""
    if count > MAX_PER_REQUEST:
        raise MintError(name, f"{count} {what}; at most {MAX_PER_REQUEST} per request")
