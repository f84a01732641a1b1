"""The mint library on real SQLite files: keysets, sats over the fake Lightning, epochs, shares, redeem."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from fractions import Fraction
from pathlib import Path

import pytest

from nutx_cli.core import bdhke
from nutx_cli.core.keysets import amount_split
from nutx_cli.core.models import BlindedMessage, Proof
from nutx_cli.core.vocabulary import MAX_PER_REQUEST, MeltQuoteState
from nutx_cli.errors import NutxError
from nutx_cli.mint import FakeBackend, Mint, MintError
from nutx_cli.mint.lightning import LightningError, NoLightning
from nutx_cli.mint.store import MintStoreError
from tests.helpers.mint import mine_shares, mint_sats, open_epoch, outputs, won_epoch


@pytest.fixture
def mint(tmp_path: Path):  # type: ignore[no-untyped-def]
    m = Mint.open(tmp_path / "mint")
    yield m
    m.close()


def snapshot(mint: Mint) -> tuple[object, ...]:
    """Everything a refused request must leave unchanged."""
    conn = mint.store.db.conn
    counts = tuple(
        conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
        for t in ("signatures", "spent", "pending", "epoch_work", "redemptions")
    )
    return counts, tuple(sorted(mint.liabilities().items())), tuple(e.paid for e in mint.epochs())


def refused(name: str, mint: Mint, call, *args) -> None:  # type: ignore[no-untyped-def]
    before = snapshot(mint)
    with pytest.raises(MintError) as info:
        call(*args)
    assert info.value.name == name, info.value
    assert snapshot(mint) == before


# -- keysets and opening ----------------------------------------------------------------------


def test_keysets_survive_restart_and_ehash_is_not_listed(tmp_path: Path) -> None:
    m = Mint.open(tmp_path)
    assert m.k_max == 256
    sat_id = m.sat_keyset.id
    assert sat_id.startswith("01") and len(sat_id) == 66 and len(m.sat_keyset.public_keys) == 64
    e1 = open_epoch(m)
    ehash_id = m.ehash_keyset(e1).id
    keys = m.ehash_keyset(e1).public_keys
    assert [k["id"] for k in m.keysets_json()["keysets"]] == [sat_id]
    assert [k["id"] for k in m.keys_json()["keysets"]] == [sat_id]
    assert m.keys_json(ehash_id)["keysets"][0]["unit"] == "ehash"
    assert m.keys_json(ehash_id[:16])["keysets"][0]["id"] == ehash_id
    assert m.mining_keysets_json()["keysets"] == [
        {
            "id": ehash_id,
            "unit": "ehash",
            "active": True,
            "input_fee_ppk": 0,
            "epoch": e1,
            "status": "open",
            "k_max": 256,
        }
    ]
    m.close()
    again = Mint.open(tmp_path)
    assert again.sat_keyset.id == sat_id
    assert again.ehash_keyset(e1).id == ehash_id and again.ehash_keyset(e1).public_keys == keys
    assert again.current_epoch() is not None and again.current_epoch().epoch == e1  # type: ignore[union-attr]
    again.close()


def test_fake_lightning_only_on_regtest(tmp_path: Path) -> None:
    with pytest.raises(LightningError, match="only runs on regtest"):
        FakeBackend("mainnet")
    with pytest.raises(NutxError, match="regtest only"):
        Mint.open(tmp_path / "a", network="mainnet")
    Mint.open(tmp_path / "b").close()
    with pytest.raises(NutxError, match="regtest mint, not signet"):
        Mint.open(tmp_path / "b", network="signet", lightning=NoLightning("signet"))


def test_unknown_keyset(mint: Mint) -> None:
    with pytest.raises(MintError) as info:
        mint.keys_json("01" + "00" * 32)
    assert (info.value.name, info.value.code) == ("unknown-keyset", 12001)


# -- sats: mint, swap, checkstate, restore, melt ---------------------------------------------


def test_mint_swap_checkstate_restore(mint: Mint) -> None:
    proofs = mint_sats(mint, 100)
    assert sum(p.amount for p in proofs) == 100
    assert mint.liabilities()["sat"] == 100
    outs = outputs(mint.sat_keyset.id, [4, 32, 64])
    sigs = mint.swap(proofs, outs.messages)
    assert [s.amount for s in sigs] == [4, 32, 64]
    new = outs.unblind(sigs, mint.sat_keyset)
    states = mint.check_state([p.Y for p in proofs] + [new[0].Y])
    assert [s["state"] for s in states] == ["SPENT"] * len(proofs) + ["UNSPENT"]
    assert mint.liabilities()["sat"] == 100
    restored_outs, restored = mint.restore(outs.messages + outputs(mint.sat_keyset.id, [1]).messages)
    assert [s.C_ for s in restored] == [s.C_ for s in sigs]
    assert [o.B_ for o in restored_outs] == [o.B_ for o in outs.messages]
    refused("proof-spent", mint, mint.swap, proofs, outputs(mint.sat_keyset.id, amount_split(100)).messages)
    refused("blinded-message-reused", mint, mint.swap, new, outs.messages)


def test_mint_quote_rules(mint: Mint) -> None:
    quote = mint.create_mint_quote(8, "sat")
    assert quote["state"] == "UNPAID" and quote["request"].startswith("lnbcrt")
    assert mint.mint_quote(quote["quote"])["state"] == "PAID"
    refused(
        "transaction-unbalanced", mint, mint.mint, quote["quote"], outputs(mint.sat_keyset.id, [4]).messages
    )
    mint.mint(quote["quote"], outputs(mint.sat_keyset.id, [8]).messages)
    refused(
        "quote-already-issued", mint, mint.mint, quote["quote"], outputs(mint.sat_keyset.id, [8]).messages
    )
    with pytest.raises(MintError, match="not supported"):
        mint.create_mint_quote(8, "usd")
    with pytest.raises(MintError) as info:
        mint.mint("nope", outputs(mint.sat_keyset.id, [8]).messages)
    assert info.value.name == "unknown-quote"


class UnpaidBackend(FakeBackend):
    """The fake Lightning network where nobody pays the mint's invoices."""

    def invoice_paid(self, payment_hash: str) -> bool:
        return False


def test_expired_quotes_are_refused(tmp_path: Path) -> None:
    mint = Mint.open(tmp_path, lightning=UnpaidBackend())
    try:
        conn = mint.store.db.conn
        quote = mint.create_mint_quote(8, "sat")
        assert quote["expiry"] > time.time()
        refused("quote-not-paid", mint, mint.mint, quote["quote"], outputs(mint.sat_keyset.id, [8]).messages)
        conn.execute(
            "UPDATE mint_quotes SET expiry = ? WHERE quote = ?", (int(time.time()) - 1, quote["quote"])
        )
        refused("quote-expired", mint, mint.mint, quote["quote"], outputs(mint.sat_keyset.id, [8]).messages)

        mint.lightning = FakeBackend()
        proofs = mint_sats(mint, 64)
        melt = mint.create_melt_quote(FakeBackend().create_invoice(40_000, "pay me", 600).request, "sat")
        conn.execute(
            "UPDATE melt_quotes SET expiry = ? WHERE quote = ?", (int(time.time()) - 1, melt["quote"])
        )
        refused("quote-expired", mint, mint.melt, melt["quote"], proofs, [])
        assert {s["state"] for s in mint.check_state([p.Y for p in proofs])} == {"UNSPENT"}
    finally:
        mint.close()


def test_mint_quote_locked_to_pubkey(mint: Mint) -> None:
    from coincurve import PrivateKey

    key = PrivateKey()
    quote = mint.create_mint_quote(2, "sat", pubkey=key.public_key.format().hex())
    outs = outputs(mint.sat_keyset.id, [2])
    refused("quote-signature-invalid", mint, mint.mint, quote["quote"], outs.messages, None)
    import hashlib

    bad = PrivateKey().sign_schnorr(hashlib.sha256(b"x").digest()).hex()
    refused("quote-signature-invalid", mint, mint.mint, quote["quote"], outs.messages, bad)
    message = hashlib.sha256((quote["quote"] + outs.messages[0].B_).encode()).digest()
    assert len(mint.mint(quote["quote"], outs.messages, key.sign_schnorr(message).hex())) == 1


def test_melt_with_fee_change(tmp_path: Path) -> None:
    mint = Mint.open(tmp_path, lightning=FakeBackend(fee_reserve_sat=10, fee_reserve_ppm=0, fee_paid_sat=3))
    proofs = mint_sats(mint, 64)
    invoice = FakeBackend().create_invoice(40_000, "pay me", 600).request
    quote = mint.create_melt_quote(invoice, "sat")
    assert (quote["amount"], quote["fee_reserve"], quote["state"]) == (40, 10, "UNPAID")
    blanks = outputs(mint.sat_keyset.id, [0, 0, 0, 0])
    paid = mint.melt(quote["quote"], proofs, blanks.messages)
    assert paid["state"] == "PAID" and paid["payment_preimage"]
    change = [c["amount"] for c in paid["change"]]
    assert change == amount_split(64 - 40 - 3) == [1, 4, 16]
    assert mint.liabilities()["sat"] == 21
    assert mint.melt_quote(quote["quote"])["state"] == "PAID"
    refused("invoice-already-paid", mint, mint.melt, quote["quote"], mint_sats(mint, 64), [])
    with pytest.raises(MintError) as info:
        mint.create_melt_quote(invoice, "sat")
    assert info.value.name == "invoice-already-paid"
    small = mint.create_melt_quote(FakeBackend().create_invoice(60_000, "x", 600).request, "sat")
    refused("transaction-unbalanced", mint, mint.melt, small["quote"], mint_sats(mint, 64), [])
    with pytest.raises(MintError) as info:
        mint.create_melt_quote("lnbc1notaninvoice", "sat")
    assert info.value.name == "malformed-request"
    mint.close()


# -- bad input ---------------------------------------------------------------------------------


def test_bad_swaps_change_nothing(mint: Mint) -> None:
    proofs = mint_sats(mint, 15)  # 1, 2, 4, 8
    sat = mint.sat_keyset.id
    forged = [Proof(p.amount, p.id, p.secret, proofs[-1].C) for p in proofs[:1]]
    refused("proof-invalid", mint, mint.swap, forged, outputs(sat, [1]).messages)
    wrong_amount = [Proof(2, sat, proofs[0].secret, proofs[0].C)]
    refused("proof-invalid", mint, mint.swap, wrong_amount, outputs(sat, [2]).messages)
    refused(
        "unknown-keyset",
        mint,
        mint.swap,
        [Proof(1, "01" + "11" * 32, "s", proofs[0].C)],
        outputs(sat, [1]).messages,
    )
    refused("unknown-keyset", mint, mint.swap, proofs, outputs("01" + "22" * 32, amount_split(15)).messages)
    refused("duplicate-inputs", mint, mint.swap, [proofs[0], proofs[0]], outputs(sat, [2]).messages)
    dup = outputs(sat, [1]).messages * 2
    refused("duplicate-outputs", mint, mint.swap, proofs[:2], [dup[0], BlindedMessage(2, sat, dup[0].B_)])
    refused("transaction-unbalanced", mint, mint.swap, proofs, outputs(sat, amount_split(16)).messages)
    refused("amount-mismatch", mint, mint.swap, proofs[:2], outputs(sat, [3]).messages)
    off_curve = "02" + "00" * 31 + "07"
    refused("invalid-blinded-message", mint, mint.swap, proofs[:1], [BlindedMessage(1, sat, off_curve)])
    refused(
        "too-many-proofs", mint, mint.swap, proofs * (MAX_PER_REQUEST // 4 + 1), outputs(sat, [1]).messages
    )
    refused("too-many-outputs", mint, mint.swap, proofs, outputs(sat, [1] * 1001).messages)
    refused("malformed-request", mint, mint.swap, proofs, [])
    # an ehash output for sat inputs
    e = open_epoch(mint)
    refused(
        "unit-mismatch", mint, mint.swap, proofs, outputs(mint.ehash_keyset(e).id, amount_split(15)).messages
    )
    assert len(mint.swap(proofs, outputs(sat, [8, 4, 2, 1]).messages)) == 4


# -- shares and epochs -------------------------------------------------------------------------


async def test_shares_group_commit_and_work_ledger(mint: Mint) -> None:
    e = open_epoch(mint)
    keyset = mint.ehash_keyset(e)
    amounts = [1, 2, 4, 8] * 100
    proofs = await mine_shares(mint, amounts)
    info = mint.epoch(e)
    assert info.work == sum(amounts) == mint.store.share_signature_work(keyset.id)
    assert info.work_by_amount == {1: 100, 2: 100, 4: 100, 8: 100}
    assert all(bdhke.verify(keyset.private_keys[p.amount], p.secret, bytes.fromhex(p.C)) for p in proofs)
    # ehash -> ehash swap inside the epoch keeps W_e
    outs = outputs(keyset.id, [16, 8, 4, 2])
    mint.swap(proofs[:8], outs.messages)
    assert mint.epoch(e).work == sum(amounts)


async def test_share_errors(mint: Mint) -> None:
    e = open_epoch(mint)
    keyset = mint.ehash_keyset(e)
    B_ = bytes.fromhex(outputs(keyset.id, [1]).messages[0].B_)
    await mint.sign_share(keyset_id=keyset.id, amount=1, B_=B_)
    cases = [
        ({"keyset_id": keyset.id, "amount": 2, "B_": B_}, "blinded-message-reused"),
        ({"keyset_id": "01" + "33" * 32, "amount": 1, "B_": B_}, "unknown-keyset"),
        ({"keyset_id": mint.sat_keyset.id, "amount": 1, "B_": B_}, "inactive-keyset"),
        ({"keyset_id": keyset.id, "amount": 3, "B_": B_}, "amount-mismatch"),
        ({"keyset_id": keyset.id, "amount": 1, "B_": b"\x02" + b"\x00" * 32}, "invalid-blinded-message"),
    ]
    for kwargs, name in cases:
        with pytest.raises(MintError) as info:
            await mint.sign_share(**kwargs)  # type: ignore[arg-type]
        assert info.value.name == name
    # the same fresh B_ twice in one batch: exactly one signature
    fresh = bytes.fromhex(outputs(keyset.id, [1]).messages[0].B_)
    results = await asyncio.gather(
        *(mint.sign_share(keyset_id=keyset.id, amount=1, B_=fresh) for _ in range(5)), return_exceptions=True
    )
    assert sum(not isinstance(r, Exception) for r in results) == 1
    assert mint.epoch(e).work == 2
    mint.close_epoch_lost(e, height=150, now=1_700_000_200)
    with pytest.raises(MintError) as info:
        await mint.sign_share(
            keyset_id=keyset.id, amount=1, B_=bytes.fromhex(outputs(keyset.id, [1]).messages[0].B_)
        )
    assert info.value.name == "inactive-keyset"
    assert mint.epoch(e).work == 2


async def test_epoch_lifecycle_and_redeem(mint: Mint) -> None:
    e = open_epoch(mint)
    with pytest.raises(MintError):
        open_epoch(mint)
    proofs = await mine_shares(mint, [1, 1, 2, 4, 8])  # W_e = 16
    sat = mint.sat_keyset.id
    refused("epoch-not-redeemable", mint, mint.redeem, proofs, outputs(sat, [1]).messages)
    won_epoch(mint, e, theta_b=5_000_000_000 + 1234, mature=False)
    info = mint.epoch(e)
    assert (
        info.status == "won" and info.price == Fraction(5_000_001_234, 16) and info.theta_c == 5_000_001_234
    )
    assert info.to_json()["price"] == "2500000617/8" and info.to_json()["work_by_amount"] == {
        "1": 2,
        "2": 1,
        "4": 1,
        "8": 1,
    }
    refused("epoch-not-redeemable", mint, mint.redeem, proofs, outputs(sat, [1]).messages)
    assert mint.set_confirmations(e, 5, maturity=10).status == "won"
    assert mint.set_confirmations(e, 10, maturity=10).status == "mature"
    refused("no-outputs", mint, mint.redeem, proofs, [])
    value = (1 + 1 + 2 + 4) * 5_000_001_234 // 16
    refused(
        "outputs-exceed-value", mint, mint.redeem, proofs[:4], outputs(sat, amount_split(value + 1)).messages
    )
    refused("unit-mismatch", mint, mint.redeem, mint_sats(mint, 1), outputs(sat, [1]).messages)
    refused("unit-mismatch", mint, mint.redeem, proofs[:1], outputs(mint.ehash_keyset(e).id, [1]).messages)
    sigs = mint.redeem(proofs[:4], outputs(sat, amount_split(value)).messages)
    assert sum(s.amount for s in sigs) == value and mint.epoch(e).paid == value
    refused("proof-spent", mint, mint.redeem, proofs[:1], outputs(sat, [1]).messages)
    # a second epoch: mixing epochs is refused; lost and orphaned epochs pay nothing
    e2 = open_epoch(mint)
    proofs2 = await mine_shares(mint, [2, 2])
    refused("mixed-epochs", mint, mint.redeem, [proofs[4], proofs2[0]], outputs(sat, [1]).messages)
    refused("mixed-keysets", mint, mint.swap, [proofs[4]], outputs(mint.ehash_keyset(e2).id, [8]).messages)
    mint.close_epoch_lost(e2, height=200, now=1_700_000_300)
    refused("epoch-lost", mint, mint.redeem, proofs2, outputs(sat, [1]).messages)
    refused("epoch-lost", mint, mint.swap, proofs2, outputs(mint.ehash_keyset(e2).id, [4]).messages)
    assert mint.mining_keysets_json()["keysets"][0]["active"] is False
    mint.mark_orphaned(e)
    refused("epoch-orphaned", mint, mint.redeem, proofs[4:], outputs(sat, [1]).messages)
    refused("epoch-orphaned", mint, mint.swap, proofs[4:], outputs(mint.ehash_keyset(e).id, [8]).messages)
    assert mint.epoch(e).paid == value  # what was paid stays paid
    assert [x.epoch for x in mint.epochs()] == [e2, e]


async def test_mint_fee_and_zero_price(tmp_path: Path) -> None:
    mint = Mint.open(tmp_path, mint_fee=1000)
    e = open_epoch(mint)
    proofs = await mine_shares(mint, [4])
    won_epoch(mint, e, theta_b=900)
    info = mint.epoch(e)
    assert (info.mint_fee, info.theta_c, info.price) == (1000, 0, Fraction(0))
    refused("outputs-exceed-value", mint, mint.redeem, proofs, outputs(mint.sat_keyset.id, [1]).messages)
    mint.close()


def test_store_is_durable_wal(mint: Mint, tmp_path: Path) -> None:
    conn = mint.store.db.conn
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    with pytest.raises(MintStoreError), mint.store.transaction():
        mint.store.set_meta("x", "1")
        mint.store.add_keyset(mint.sat_keyset.id, "sat", 0, None, 0, 0)
    assert mint.store.meta("x") is None


async def test_a_schema_1_mint_is_migrated_with_its_signatures(tmp_path: Path) -> None:
    """A data dir of the first release (signatures clustered on B_) opens, keeps every row, and is version 2."""
    mint = Mint.open(tmp_path / "mint")
    e = open_epoch(mint)
    await mine_shares(mint, [1, 2, 4, 8] * 5)
    keyset_id = mint.ehash_keyset(e).id
    rows = mint.store.db.conn.execute(
        "SELECT B_, C_, e, s, amount_log2, keyset_id, share FROM signatures"
    ).fetchall()
    mint.close()
    conn = sqlite3.connect(tmp_path / "mint" / "mint.sqlite3", isolation_level=None)
    conn.executescript("""
        DROP TABLE signatures;
        CREATE TABLE signatures (
            B_ BLOB PRIMARY KEY, C_ BLOB NOT NULL, e BLOB NOT NULL, s BLOB NOT NULL,
            amount_log2 INTEGER NOT NULL, keyset_id TEXT NOT NULL, share INTEGER NOT NULL) WITHOUT ROWID;
        CREATE INDEX signatures_keyset ON signatures (keyset_id, share);
        UPDATE meta SET value = '1' WHERE key = 'schema';""")
    conn.executemany("INSERT INTO signatures VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
    conn.close()

    mint = Mint.open(tmp_path / "mint")
    try:
        assert mint.store.meta("schema") == "4"
        got = mint.store.db.conn.execute(
            "SELECT rowid, B_, C_, e, s, amount_log2, keyset_id, share FROM signatures"
        )
        assert sorted(tuple(r[1:]) for r in got.fetchall()) == sorted(rows)
        assert mint.store.share_signature_work(keyset_id) == mint.epoch(e).work == 15 * 5
        with pytest.raises(MintError, match="signed before"):  # a B_ signed before the migration stays spent
            await mint.sign_share(keyset_id=keyset_id, amount=1, B_=rows[0][0])
    finally:
        mint.close()
    conn = sqlite3.connect(tmp_path / "mint" / "mint.sqlite3", isolation_level=None)
    conn.execute("UPDATE meta SET value = '5' WHERE key = 'schema'")
    conn.close()
    with pytest.raises(NutxError, match="newer nutx"):
        Mint.open(tmp_path / "mint")


def test_a_schema_2_mint_gets_one_melt_per_payment(tmp_path: Path) -> None:
    """Schema 3: the store itself refuses a second melt quote of one payment hash going PENDING or PAID;
    a schema-2 file gets that index when opened, or a one-line refusal if it already paid an invoice twice."""
    mint = Mint.open(tmp_path / "mint")
    invoice = FakeBackend().create_invoice(10_000, "x", 600).request
    first, second = (mint.create_melt_quote(invoice, "sat")["quote"] for _ in range(2))
    with mint.store.transaction():
        mint.store.update_melt_quote(first, state=MeltQuoteState.PAID)
    for state in (MeltQuoteState.PENDING, MeltQuoteState.PAID):
        with pytest.raises(MintStoreError), mint.store.transaction():
            mint.store.update_melt_quote(second, state=state)
    mint.close()
    conn = sqlite3.connect(tmp_path / "mint" / "mint.sqlite3", isolation_level=None)
    conn.executescript("""
        DROP INDEX melt_quotes_one_payment;
        UPDATE meta SET value = '2' WHERE key = 'schema';""")
    conn.close()
    mint = Mint.open(tmp_path / "mint")
    assert mint.store.meta("schema") == "4"
    with pytest.raises(MintStoreError), mint.store.transaction():
        mint.store.update_melt_quote(second, state=MeltQuoteState.PENDING)
    mint.close()
    conn = sqlite3.connect(tmp_path / "mint" / "mint.sqlite3", isolation_level=None)
    conn.executescript(f"""
        DROP INDEX melt_quotes_one_payment;
        UPDATE melt_quotes SET state = 'PAID' WHERE quote = '{second}';
        UPDATE meta SET value = '2' WHERE key = 'schema';""")
    conn.close()
    with pytest.raises(NutxError, match="UNIQUE constraint failed: melt_quotes.payment_hash"):
        Mint.open(tmp_path / "mint")


def test_melt_interrupted_by_a_crash_is_settled_on_restart(tmp_path: Path) -> None:
    from nutx_cli.mint.store import SpendRow

    mint = Mint.open(tmp_path)
    proofs = mint_sats(mint, 16)
    quote = mint.create_melt_quote(FakeBackend().create_invoice(10_000, "x", 600).request, "sat")["quote"]
    with mint.store.transaction():  # the state the first melt transaction leaves before paying
        mint.store.add_pending(
            [SpendRow(bdhke.secret_to_y(p.secret), p.amount, p.id) for p in proofs], quote, 0
        )
        mint.store.update_melt_quote(quote, state=MeltQuoteState.PENDING)
    assert {s["state"] for s in mint.check_state([p.Y for p in proofs])} == {"PENDING"}
    refused("proof-pending", mint, mint.swap, proofs, outputs(mint.sat_keyset.id, [16]).messages)
    refused("quote-pending", mint, mint.melt, quote, proofs, [])
    mint.close()
    mint = Mint.open(tmp_path)  # the fake paid nothing: the proofs are free again
    assert {s["state"] for s in mint.check_state([p.Y for p in proofs])} == {"UNSPENT"}
    assert mint.melt(quote, proofs, [])["state"] == "PAID"
    mint.close()
