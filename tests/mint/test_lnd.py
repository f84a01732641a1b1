"""The LND REST backend's parsing, on the JSON shapes LND's REST documentation gives (lnrpc.Payment streamed
as `{"result": …}` lines, rpcStatus errors, lnrpc.Invoice, AddInvoiceResponse, ChannelBalanceResponse).

No LND can run here, so nothing below talks to one; what does run is the backend against a port where no
LND listens (a refused connection surely sent nothing: the melt is FAILED, not PENDING).
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest

from nutx_cli.mint import Mint, MintError
from nutx_cli.mint.lightning import LightningError, LightningUnavailable, PaymentStatus
from nutx_cli.mint.lnd import (
    LNDBackend,
    added_invoice_hash,
    channel_balance_msat,
    fee_reserve_msat,
    invoice_settled,
    last_stream_payment,
    payment_of,
)
from tests.helpers.procs import free_port

PREIMAGE = "0f" * 32
HASH = hashlib.sha256(bytes.fromhex(PREIMAGE)).hexdigest()


def payment(status: str, **extra: object) -> dict[str, object]:
    """An lnrpc.Payment as the REST gateway writes it: int64 as strings, enums by name."""
    return {
        "payment_hash": HASH,
        "value": "1000",
        "creation_date": "1700000000",
        "fee": "0",
        "payment_preimage": "00" * 32,
        "value_sat": "1000",
        "value_msat": "1000000",
        "payment_request": "lnbc10u1…",
        "status": status,
        "fee_sat": "0",
        "fee_msat": "0",
        "creation_time_ns": "1700000000000000000",
        "htlcs": [],
        "payment_index": "7",
        "failure_reason": "FAILURE_REASON_NONE",
        **extra,
    }


def lines(*objects: object) -> list[str]:
    return [json.dumps(o) for o in objects]


def test_payment_states() -> None:
    paid = payment_of(payment("SUCCEEDED", payment_preimage=PREIMAGE, fee_msat="1234", fee_sat="1"))
    assert (paid.status, paid.preimage, paid.fee_msat) == (PaymentStatus.PAID, PREIMAGE, 1234)
    failed = payment_of(payment("FAILED", failure_reason="FAILURE_REASON_NO_ROUTE"))
    assert (failed.status, failed.error) == (PaymentStatus.FAILED, "FAILURE_REASON_NO_ROUTE")
    assert payment_of(payment("IN_FLIGHT")).status == PaymentStatus.PENDING
    assert payment_of(payment("INITIATED")).status == PaymentStatus.PENDING
    with pytest.raises(LightningError, match="unknown status 'UNKNOWN'"):
        payment_of(payment("UNKNOWN"))  # documented as never returned
    with pytest.raises(LightningError, match="expected 'status'"):
        payment_of({"payment_hash": HASH})


def test_streamed_answers() -> None:
    """SendPaymentV2 / TrackPaymentV2 stream Payment updates; the last one counts."""
    flight = {"result": payment("IN_FLIGHT")}
    done = {"result": payment("SUCCEEDED", payment_preimage=PREIMAGE, fee_msat="2000")}
    assert last_stream_payment(lines(flight, done)).status == PaymentStatus.PAID
    assert last_stream_payment([*lines(flight), ""]).status == PaymentStatus.PENDING
    not_found = {"error": {"code": 5, "message": "payment isn't initiated", "details": []}}
    assert last_stream_payment(lines(not_found)).status == PaymentStatus.UNKNOWN
    plain_status = {"code": 5, "message": "payment isn't initiated", "details": []}  # before any message
    assert last_stream_payment(lines(plain_status)).status == PaymentStatus.UNKNOWN
    in_transition = {"error": {"code": 6, "message": "payment is in transition", "details": []}}
    with pytest.raises(LightningError, match="LND refused: payment is in transition"):
        last_stream_payment(lines(in_transition))
    with pytest.raises(LightningError, match="no payment update"):
        last_stream_payment([])
    with pytest.raises(LightningError, match="not JSON"):
        last_stream_payment(["<html>502 Bad Gateway</html>"])


def test_invoices_and_balance() -> None:
    invoice = {"memo": "nutx mint", "r_preimage": base64.b64encode(bytes.fromhex(PREIMAGE)).decode()}
    assert invoice_settled({**invoice, "state": "SETTLED", "settled": True})
    assert not invoice_settled({**invoice, "state": "OPEN"})
    assert not invoice_settled({**invoice, "state": "ACCEPTED"})  # a hold invoice: HTLCs held, not paid
    assert not invoice_settled({**invoice, "state": "CANCELED"})
    added = {
        "r_hash": base64.b64encode(bytes.fromhex(HASH)).decode(),
        "payment_request": "lnbc…",
        "add_index": "12",
        "payment_addr": base64.b64encode(b"\x01" * 32).decode(),
    }
    assert added_invoice_hash(added) == HASH
    with pytest.raises(LightningError, match="r_hash is not base64"):
        added_invoice_hash({**added, "r_hash": "not base64!"})
    balance = {
        "balance": "5000",
        "local_balance": {"sat": "5000", "msat": "5000123"},
        "remote_balance": {"sat": "100", "msat": "100000"},
    }
    assert channel_balance_msat(balance) == 5_000_123
    with pytest.raises(LightningError):
        channel_balance_msat({"balance": "5000"})


def test_fee_reserve() -> None:
    assert fee_reserve_msat(1000) == 2000  # at least 2 sat
    assert fee_reserve_msat(10_000_000) == 100_000  # 1 %


def test_no_lnd_listening(tmp_path: Path) -> None:
    """A refused connection: invoices are lightning-unavailable, a melt fails and frees its proofs."""
    from tests.helpers.mint import mint_sats

    macaroon = tmp_path / "admin.macaroon"
    macaroon.write_bytes(b"\x02\x01macaroon")
    backend = LNDBackend(f"https://127.0.0.1:{free_port()}", macaroon, None, "regtest", 5.0)
    with pytest.raises(LightningUnavailable, match="cannot reach LND"):
        backend.create_invoice(1000, "x", 60)
    mint = Mint.open(tmp_path / "mint")
    try:
        proofs = mint_sats(mint, 64)
        mint.lightning = backend
        quote = mint.create_melt_quote(_regtest_invoice(), "sat")
        assert quote["fee_reserve"] == 2
        with pytest.raises(MintError) as info:
            mint.melt(quote["quote"], proofs, [])
        assert info.value.name == "lightning-payment-failed" and "cannot reach LND" in info.value.detail
        assert {s["state"] for s in mint.check_state([p.Y for p in proofs])} == {"UNSPENT"}
    finally:
        mint.close()
    with pytest.raises(LightningError, match="cannot read the LND macaroon"):
        LNDBackend("https://127.0.0.1:1", tmp_path / "missing", None, "mainnet")
    with pytest.raises(LightningError, match="cannot read the LND TLS certificate"):
        LNDBackend("https://127.0.0.1:1", macaroon, tmp_path / "missing.cert", "mainnet")


def _regtest_invoice() -> str:
    from nutx_cli.mint.lightning import FakeBackend

    return FakeBackend().create_invoice(1000, "x", 60).request
