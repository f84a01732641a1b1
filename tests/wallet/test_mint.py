"""The wallet against a real mint HTTP server (in-process mint on a free loopback port).

The test drives the mint library directly for what the pool would do (open epochs, sign shares,
close them won or lost, count confirmations) and the wallet over HTTP for everything else.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from nutx_cli.core.accounting import redeem_value
from nutx_cli.core.tokens import decode_token, encode_token_v4
from nutx_cli.mint import Mint
from nutx_cli.wallet import Wallet, WalletError
from nutx_cli.wallet.client import MintClient, MintRefused, MintUnreachable
from nutx_cli.wallet.store import PENDING, UNSPENT
from tests.helpers.mint import ServerThread, open_epoch, won_epoch


@pytest.fixture
async def wallet(tmp_path: Path, served_mint: tuple[Mint, ServerThread]) -> AsyncIterator[Wallet]:
    w = Wallet.open(tmp_path / "wallet", mint_url=served_mint[1].url)
    yield w
    w.close()


async def mine(mint: Mint, wallet: Wallet, amounts: list[int]) -> int:
    """Shares as the miner makes them: prepare (stored), the pool signs, complete (DLEQ checked)."""
    epoch = mint.current_epoch()
    assert epoch is not None
    keyset = mint.keyset(epoch.keyset_id)
    prepared = [wallet.prepare_share(keyset.id, a, epoch.epoch) for a in amounts]
    sigs = await asyncio.gather(
        *(mint.sign_share(keyset_id=keyset.id, amount=p.amount, B_=p.B_) for p in prepared)
    )
    for p, sig in zip(prepared, sigs, strict=True):
        wallet.complete_share(p, sig, keyset.public_keys[p.amount])
    return epoch.epoch


async def test_sats_invoice_send_receive_withdraw(
    wallet: Wallet, served_mint: tuple[Mint, ServerThread], tmp_path: Path
) -> None:
    mint, server = served_mint
    request, minted = await wallet.invoice(1000)
    assert request.startswith("lnbcrt") and minted == 1000 and wallet.balance().sats == 1000
    token = await wallet.send(300, memo="for bob")
    assert token.startswith("cashuB") and wallet.balance().sats == 700
    bob = Wallet.open(tmp_path / "bob", mint_url=server.url)
    try:
        assert await bob.receive(token) == ("sat", 300, None)
        assert bob.balance().sats == 300
        with pytest.raises(WalletError, match="already received"):
            await bob.receive(token)
        assert bob.balance().sats == 300
        other = Wallet.open(tmp_path / "carol", mint_url="http://127.0.0.1:1")
        with pytest.raises(WalletError, match="from the mint"):
            await other.receive(token)
        other.close()
    finally:
        bob.close()
    invoice = mint.lightning.create_invoice(200_000, "coffee", 3600).request
    result = await wallet.withdraw(invoice)
    preimage = result["preimage"]
    assert result["amount"] == 200 and result["fee"] == 0 and preimage is not None and len(preimage) == 64
    assert wallet.balance().sats == 500
    with pytest.raises(WalletError, match="not enough funds"):
        await wallet.withdraw(mint.lightning.create_invoice(600_000, "too much", 3600).request)
    assert wallet.balance().sats == 500 and wallet.balance().pending_sats == 0
    with pytest.raises(MintRefused) as refused:
        await wallet.withdraw(invoice)
    assert refused.value.name == "invoice-already-paid" and wallet.balance().sats == 500
    kinds = [h["kind"] for h in wallet.store.history()]
    assert kinds[:4] == ["withdraw", "send", "invoice", "created"]


async def test_redeem_floors_once_per_epoch_and_lost_epochs_are_dropped(
    wallet: Wallet, served_mint: tuple[Mint, ServerThread]
) -> None:
    mint, _ = served_mint
    open_epoch(mint)
    won = await mine(mint, wallet, [1] * 1100 + [4, 256])
    won_epoch(mint, won, theta_b=977, mature=False)
    open_epoch(mint)
    lost = await mine(mint, wallet, [8, 8])
    mint.close_epoch_lost(lost, height=300, now=1_700_000_200)
    open_epoch(mint)
    with pytest.raises(WalletError, match="epoch 1 is won: only mature epochs"):
        await wallet.redeem(won)
    mint.set_confirmations(won, 2, maturity=2)
    await wallet.refresh_epochs()
    balance = wallet.balance()
    assert balance.ehash_by_epoch == {won: 1360}
    [e] = balance.epochs
    price = mint.epoch(won).price
    assert price is not None
    assert e.status == "mature" and e.price == price and e.estimated_sats == redeem_value([1360], price)
    seen: list[tuple[int, int]] = []
    gained = await wallet.redeem(progress=lambda done, total: seen.append((done, total)))
    # 1,102 proofs: two consolidating swaps inside the epoch keyset, then one redeem that floors once
    assert gained == redeem_value([1360], price) == mint.epoch(won).paid
    assert seen == [(0, 3), (1, 3), (2, 3), (3, 3)]
    assert wallet.balance().ehash_by_epoch == {} and wallet.balance().sats == gained
    assert await wallet.redeem() == 0


async def test_restore_recovers_sats_ehash_and_unanswered_shares(
    wallet: Wallet, served_mint: tuple[Mint, ServerThread], tmp_path: Path
) -> None:
    mint, server = served_mint
    await wallet.invoice(4321)
    await wallet.send(21)  # reserved in this wallet; unspent at the mint, so restore finds it too
    open_epoch(mint)
    await mine(mint, wallet, [2] * 150 + [64])  # more than one restore batch of 100
    # the miner dies between submitting a share and reading the pool's answer
    current = mint.current_epoch()
    assert current is not None
    keyset = mint.keyset(current.keyset_id)
    for _ in range(350):  # a long run of shares the pool refused must not end the restore scan early
        wallet.fail_share(wallet.prepare_share(keyset.id, 2, 1), "stale-share")
    lost_answer = wallet.prepare_share(keyset.id, 16, 1)
    await mint.sign_share(keyset_id=keyset.id, amount=16, B_=lost_answer.B_)
    never_signed = wallet.prepare_share(keyset.id, 16, 1)
    assert wallet.balance().pending_shares == 352
    words = wallet.mnemonic

    fresh = Wallet.open(tmp_path / "restored", mint_url=server.url, mnemonic=words)
    try:
        report = await fresh.restore()
        assert report.sats == 4321 and report.ehash_by_epoch == {1: 300 + 64 + 16}
        # new outputs continue after the restored counters: no B_ is reused
        assert await fresh.send(5)
        assert fresh.balance().sats == 4316
    finally:
        fresh.close()
    # the original wallet settles its own pending entries: the signed one becomes ehash
    assert await wallet.recover_pending() == 1
    assert wallet.balance().ehash_by_epoch == {1: 300 + 64 + 16}
    assert [p.id for p in wallet.store.pending_shares() if p.state == "pending"] == [never_signed.id]
    mint.close_epoch_won(1, theta_b=1000, block_hash="cd" * 32, height=101, now=1_700_000_100)
    assert await wallet.recover_pending() == 0
    assert wallet.store.pending_shares() == []


async def test_interrupted_requests_stay_pending_until_restore_settles_them(
    wallet: Wallet, tmp_path: Path
) -> None:
    await wallet.invoice(64)
    ys = [p.proof.Y for p in wallet.store.proofs(unit="sat")]
    wallet.store.set_proof_state(ys, PENDING)  # as if the wallet died while a swap was in flight
    assert wallet.balance().sats == 0 and wallet.balance().pending_sats == 64
    with wallet.store.transaction():  # a quote the mint does not know (another mint's, or forgotten)
        wallet.store.add_mint_quote("gone", 5, "lnbcrt50n1…", "UNPAID")
    report = await wallet.restore()
    assert report.settled_pending == 1 and wallet.balance().sats == 64
    assert [(q["quote"], q["state"]) for q in wallet.store.mint_quotes()][-1] == ("gone", "unknown-quote")
    assert [p.state for p in wallet.store.proofs(state=None)] == [UNSPENT]
    offline = Wallet.open(tmp_path / "offline", mint_url="http://127.0.0.1:1")
    try:
        with pytest.raises(MintUnreachable, match="cannot reach the mint at http://127.0.0.1:1"):
            await offline.invoice(5)
    finally:
        offline.close()


async def test_mint_errors_become_typed(served_mint: tuple[Mint, ServerThread]) -> None:
    async with MintClient(served_mint[1].url) as client:
        with pytest.raises(MintRefused) as refused:
            await client.keys("01" + "00" * 32)
        assert (refused.value.code, refused.value.name) == (12001, "unknown-keyset")
        with pytest.raises(MintRefused) as refused:
            await client.epoch(99)
        assert refused.value.name == "unknown-epoch"
        with pytest.raises(MintRefused) as refused:
            await client.redeem([], [])
        assert refused.value.name == "no-outputs"


async def test_ehash_tokens_move_within_one_epoch(
    wallet: Wallet, served_mint: tuple[Mint, ServerThread], tmp_path: Path
) -> None:
    mint, server = served_mint
    open_epoch(mint)
    epoch = await mine(mint, wallet, [64, 64, 1024])
    token = await wallet.send(100, "ehash", epoch)  # needs a swap inside the epoch keyset for change
    assert wallet.balance().ehash_by_epoch == {epoch: 1052}
    bob = Wallet.open(tmp_path / "bob", mint_url=server.url)
    try:
        tampered = decode_token(token)
        first = tampered.proofs[0]
        last = tampered.proofs[-1]
        assert first.dleq is not None and first.dleq.r is not None and last.dleq is not None
        wrong_r = replace(first.dleq, r=last.dleq.r)
        bad = encode_token_v4(replace(tampered, proofs=[replace(first, dleq=wrong_r), *tampered.proofs[1:]]))
        with pytest.raises(WalletError, match="fails its DLEQ check"):
            await bob.receive(bad)
        assert await bob.receive(token) == ("ehash", 100, epoch)
        assert bob.balance().ehash_by_epoch == {epoch: 100}
        # an epoch that is lost makes its tokens worthless: refused, not swapped
        lost_token = await wallet.send(1052, "ehash", epoch)
        mint.close_epoch_lost(epoch, height=200, now=1_700_000_300)
        await bob.refresh_epochs()
        assert bob.balance().ehash_by_epoch == {}
        with pytest.raises(WalletError, match="was lost: it is worth nothing"):
            await bob.receive(lost_token)
    finally:
        bob.close()
