"""The wallet without a mint: shares stored before submit, DLEQ evidence, dead epochs, seeds, coin selection."""

from __future__ import annotations

import sqlite3
from fractions import Fraction
from pathlib import Path

import pytest

from nutx_cli.core import bdhke, nut13
from nutx_cli.core.keysets import derive_keyset
from nutx_cli.errors import NutxError
from nutx_cli.wallet import DleqFailure, Wallet, WalletError
from nutx_cli.wallet.inputs import select_proofs
from nutx_cli.wallet.store import DB_NAME, PENDING, UNSPENT, StoredProof, WalletStore, WalletStoreError
from nutx_cli.wallet.view import open_wallet_view

MINT_SEED = b"\x07" * 32
URL = "http://127.0.0.1:9"
WORDS = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about"


@pytest.fixture
def wallet(tmp_path: Path):  # type: ignore[no-untyped-def]
    w = Wallet.open(tmp_path / "w", mint_url=URL)
    yield w
    w.close()


def sign(epoch: int, amount: int, B_: bytes) -> tuple[bdhke.BlindSig, bytes]:
    """What the pool's mint answers: its signature and the published key for the amount."""
    keyset = derive_keyset(MINT_SEED, "ehash", epoch)
    return bdhke.sign(keyset.private_keys[amount], B_), keyset.public_keys[amount]


def share(wallet: Wallet, epoch: int, amount: int) -> None:
    keyset = derive_keyset(MINT_SEED, "ehash", epoch)
    prepared = wallet.prepare_share(keyset.id, amount, epoch)
    sig, K = sign(epoch, amount, prepared.B_)
    wallet.complete_share(prepared, sig, K)


def test_share_secret_is_stored_and_durable_before_submit(wallet: Wallet, tmp_path: Path) -> None:
    keyset = derive_keyset(MINT_SEED, "ehash", 3)
    first = wallet.prepare_share(keyset.id, 16, 3)
    second = wallet.prepare_share(keyset.id, 16, 3)
    assert (first.counter, second.counter) == (0, 1)
    seed = nut13.seed_from_mnemonic(wallet.mnemonic)
    assert first.secret == nut13.derive_secret(seed, keyset.id, 0)
    assert first.r == nut13.derive_blinding_factor(seed, keyset.id, 0)
    assert first.B_ == bdhke.blind(first.secret, first.r)
    # another connection (another process after a crash) already sees both entries
    other = sqlite3.connect(tmp_path / "w" / DB_NAME)
    rows = other.execute("SELECT secret, r, B_, epoch, state FROM pending_shares ORDER BY id").fetchall()
    other.close()
    assert rows == [
        (first.secret, first.r, first.B_, 3, "pending"),
        (second.secret, second.r, second.B_, 3, "pending"),
    ]
    words = wallet.mnemonic
    wallet.close()
    again = Wallet.open(tmp_path / "w")
    try:
        assert again.prepare_share(keyset.id, 16, 3).counter == 2
        assert again.mnemonic == words and again.mint_url == URL
    finally:
        again.close()


def test_complete_share_checks_dleq_and_stores_a_valid_proof(wallet: Wallet) -> None:
    keyset = derive_keyset(MINT_SEED, "ehash", 4)
    prepared = wallet.prepare_share(keyset.id, 8, 4)
    sig, K = sign(4, 8, prepared.B_)
    proof = wallet.complete_share(prepared, sig, K)
    assert bdhke.verify(keyset.private_keys[8], proof.secret, bytes.fromhex(proof.C))
    assert proof.dleq is not None and proof.dleq.r == prepared.r.hex()
    assert wallet.store.pending_shares() == []
    assert [p.proof for p in wallet.store.proofs(unit="ehash", epoch=4)] == [proof]
    assert wallet.balance().ehash_by_epoch == {4: 8}


@pytest.mark.parametrize("tamper", ["s", "key", "unpublished"])
def test_a_signature_failing_dleq_is_kept_as_evidence_and_raises(
    wallet: Wallet, tamper: str, caplog: pytest.LogCaptureFixture
) -> None:
    keyset = derive_keyset(MINT_SEED, "ehash", 5)
    prepared = wallet.prepare_share(keyset.id, 4, 5)
    sig, K = sign(5, 4, prepared.B_)
    s = sig.s
    if tamper == "s":
        s = ((int.from_bytes(s, "big") + 1) % bdhke.CURVE_ORDER).to_bytes(32, "big")
    elif tamper == "key":  # signed with a key of another amount (a tagging key), claimed as K
        sig = bdhke.sign(keyset.private_keys[8], prepared.B_)
        s = sig.s
    else:  # the mint publishes K over HTTP, the pool signs with a different key and proves it honestly
        wallet.store.upsert_keyset(
            keyset.id, "ehash", epoch=5, active=True, input_fee_ppk=0, keys=dict(keyset.public_keys)
        )
        sig = bdhke.sign(keyset.private_keys[8], prepared.B_)
        s, K = sig.s, keyset.public_keys[8]
    with pytest.raises(DleqFailure, match="DLEQ"):
        wallet.complete_share(prepared, bdhke.BlindSig(sig.C_, sig.e, s), K)
    assert "DLEQ FAILURE" in caplog.text
    [evidence] = wallet.store.dleq_failures()
    assert (evidence["secret"], evidence["r"], evidence["B_"]) == (prepared.secret, prepared.r, prepared.B_)
    assert (evidence["C_"], evidence["e"], evidence["s"], evidence["K"]) == (sig.C_, sig.e, s, K)
    assert wallet.store.proofs(unit="ehash") == []


def test_lost_and_orphaned_epochs_are_dropped(wallet: Wallet) -> None:
    for epoch in (1, 2, 3):
        share(wallet, epoch, 2)
        share(wallet, epoch, 32)
    pending = wallet.prepare_share(derive_keyset(MINT_SEED, "ehash", 1).id, 1, 1)
    wallet.fail_share(wallet.prepare_share(derive_keyset(MINT_SEED, "ehash", 2).id, 1, 2), "stale-share")
    assert {p.id for p in wallet.store.pending_shares()} >= {pending.id}
    wallet.epoch_status_changed(1, "lost")
    wallet.epoch_status_changed(2, "won", Fraction(5, 2))
    wallet.epoch_status_changed(2, "orphaned")
    wallet.epoch_status_changed(3, "mature", Fraction(7, 3))
    balance = wallet.balance()
    assert balance.ehash_by_epoch == {3: 34}
    assert balance.epochs[0].status == "mature" and balance.epochs[0].estimated_sats == 34 * 7 // 3
    assert wallet.store.pending_shares() == []
    dropped = [
        (h["epoch"], h["amount"], h["detail"]["status"])
        for h in wallet.store.history()
        if h["kind"] == "dropped"
    ]
    assert sorted(dropped) == [(1, 34, "lost"), (2, 34, "orphaned")]


def test_failed_share_stays_until_its_epoch_is_settled(wallet: Wallet) -> None:
    prepared = wallet.prepare_share(derive_keyset(MINT_SEED, "ehash", 9).id, 1, 9)
    wallet.fail_share(prepared, "upstream: connection closed")
    [row] = wallet.store.pending_shares()
    assert (row.id, row.state, row.reason) == (prepared.id, "failed", "upstream: connection closed")


def test_seed_phrase_open_and_restore_rules(tmp_path: Path) -> None:
    w = Wallet.open(tmp_path / "a", mint_url=URL + "/", mnemonic=WORDS)
    assert w.mint_url == URL and w.mnemonic == WORDS
    w.close()
    assert Wallet.exists(tmp_path / "a") and not Wallet.exists(tmp_path / "b")
    with pytest.raises(WalletError, match="another seed phrase"):
        Wallet.open(tmp_path / "a", mnemonic=nut13.new_mnemonic())
    with pytest.raises(NutxError, match="BIP39"):
        Wallet.open(tmp_path / "b", mint_url=URL, mnemonic="abandon " * 12)
    assert not Wallet.exists(tmp_path / "b")
    moved = Wallet.open(tmp_path / "a", mint_url="http://127.0.0.1:10")
    moved.close()
    reopened = Wallet.open(tmp_path / "a")
    assert reopened.mint_url == "http://127.0.0.1:10"
    reopened.close()


def test_store_keeps_amounts_up_to_2_63_and_states(tmp_path: Path) -> None:
    store = WalletStore(tmp_path / "s.sqlite3")
    keyset = derive_keyset(MINT_SEED, "ehash", 1)
    from nutx_cli.core.models import Proof

    big = Proof(2**63, keyset.id, "a" * 64, keyset.public_keys[1].hex())
    small = Proof(1, keyset.id, "b" * 64, keyset.public_keys[1].hex())
    with store.transaction():
        assert (
            store.add_proofs([StoredProof(big, "ehash", 1, UNSPENT), StoredProof(small, "ehash", 1, UNSPENT)])
            == 2
        )
        assert store.add_proofs([StoredProof(small, "ehash", 1, UNSPENT)]) == 0
        store.set_proof_state([small.Y], PENDING)
    assert store.proof_totals() == [("ehash", 1, 2**63)]
    assert store.proof_totals(PENDING) == [("ehash", 1, 1)]
    with pytest.raises(NutxError, match="power of two"), store.transaction():
        store.add_proofs([StoredProof(Proof(3, keyset.id, "c" * 64, big.C), "ehash", 1, UNSPENT)])
    assert len(store.proofs(state=None)) == 2
    store.close()


def test_a_failing_database_raises_the_stores_own_error(tmp_path: Path) -> None:
    store = WalletStore(tmp_path / "s.sqlite3")
    keyset_id = derive_keyset(MINT_SEED, "ehash", 1).id
    refused = r"s\.sqlite3 failed \(IntegrityError: UNIQUE constraint failed: pending_shares\.B_\)"
    with pytest.raises(WalletStoreError, match=refused), store.transaction():  # one B_ twice: rolled back
        store.add_pending_share(keyset_id, 1, 0, 1, "d" * 64, b"r" * 32, b"B" * 33)
        store.add_pending_share(keyset_id, 1, 1, 1, "e" * 64, b"r" * 32, b"B" * 33)
    assert store.pending_shares() == []
    store.close()
    store.path.write_bytes(b"not a database" * 100)
    with pytest.raises(NutxError, match="s.sqlite3"):
        WalletStore(store.path)


def test_select_proofs_prefers_an_exact_subset() -> None:
    keyset_id = derive_keyset(MINT_SEED, "sat", 0).id
    from nutx_cli.core.models import Proof

    def proofs(*amounts: int) -> list[StoredProof]:
        return [
            StoredProof(Proof(a, keyset_id, f"{i:064x}", "02" + "11" * 32), "sat", None, UNSPENT)
            for i, a in enumerate(amounts)
        ]

    chosen, exact = select_proofs(proofs(1, 2, 4, 8, 64), 13)
    assert exact and sorted(p.amount for p in chosen) == [1, 4, 8]
    chosen, exact = select_proofs(proofs(1, 64, 4), 50)
    assert not exact and [p.amount for p in chosen] == [64]
    with pytest.raises(WalletError, match="not enough funds: 100 needed, 69 available"):
        select_proofs(proofs(1, 64, 4), 100)


def test_tui_view_reads_the_store(wallet: Wallet, tmp_path: Path) -> None:
    with pytest.raises(NutxError, match="no wallet"):
        open_wallet_view(tmp_path / "nowhere").summary()
    share(wallet, 7, 1024)
    assert open_wallet_view(tmp_path / "w").summary() == {"ehash_by_epoch": {7: 1024}, "sats": 0}
