"""Claimed ehash in the mint (library, real SQLite): claimed shares in the group commit with W_e, the claims
of a key, minting a claim once with a signed request, dead epochs, and the schema-3 data dir migrated."""

from __future__ import annotations

import asyncio
import sqlite3
from fractions import Fraction
from pathlib import Path

import pytest

from nutx_cli.core.claims import claim_amounts, claim_pubkey, sign_claim
from nutx_cli.core.epoch_status import EpochStatus
from nutx_cli.mint import Mint, MintError
from nutx_cli.mint.store import SCHEMA_VERSION
from tests.helpers.mint import Outputs, mine_shares, open_epoch, outputs, won_epoch

ALICE = b"\x11" * 32
BOB = b"\x22" * 32


@pytest.fixture
def mint(tmp_path: Path) -> Mint:
    return Mint.open(tmp_path / "mint")


async def claim_shares(mint: Mint, secret: bytes, amounts: list[int]) -> None:
    epoch = mint.current_epoch()
    assert epoch is not None
    pubkey = claim_pubkey(secret)
    await asyncio.gather(
        *(mint.claim_share_nowait(pubkey=pubkey, keyset_id=epoch.keyset_id, amount=a) for a in amounts)
    )


def signed_outputs(mint: Mint, secret: bytes, epoch: int, amounts: list[int]) -> tuple[Outputs, str]:
    outs = outputs(mint.ehash_keyset(epoch).id, amounts)
    return outs, sign_claim(secret, epoch, outs.messages)


def refused(name: str, call: object, *args: object) -> None:
    with pytest.raises(MintError) as exc:
        call(*args)  # type: ignore[operator]
    assert exc.value.name == name, exc.value


async def test_claimed_shares_count_in_w_e_with_signed_ones_in_one_commit(mint: Mint) -> None:
    e = open_epoch(mint)
    keyset_id = mint.ehash_keyset(e).id
    alice, bob = claim_pubkey(ALICE), claim_pubkey(BOB)
    signing = mine_shares(mint, [4, 8])
    claims = [
        mint.claim_share_nowait(pubkey=alice, keyset_id=keyset_id, amount=a) for a in (1, 2, 2**63, 2**63)
    ] + [mint.claim_share_nowait(pubkey=bob, keyset_id=keyset_id, amount=16)]
    await asyncio.gather(signing, *claims)
    info = mint.epoch(e)
    assert info.work == 4 + 8 + 1 + 2 + 2**64 + 16  # W_e counts claimed work exactly like signed work
    assert mint.store.share_signature_work(keyset_id) == 12
    assert mint.store.claimed_work(e) == info.work - 12
    assert [(c.epoch, c.amount, c.paid, c.status) for c in mint.claims(alice)] == [
        (e, 3 + 2**64, False, EpochStatus.OPEN)
    ]
    assert [c.amount for c in mint.claims(bob)] == [16]
    assert mint.claims(claim_pubkey(b"\x33" * 32)) == []
    refused("malformed-request", mint.claims, "alice")


async def test_claims_of_a_closed_or_unknown_keyset_are_refused(mint: Mint) -> None:
    first = open_epoch(mint)
    old = mint.ehash_keyset(first).id
    mint.close_epoch_lost(first, height=101, now=1_700_000_050)
    open_epoch(mint)
    with pytest.raises(MintError, match="not the open epoch"):
        await mint.claim_share_nowait(pubkey=claim_pubkey(ALICE), keyset_id=old, amount=1)
    with pytest.raises(MintError) as exc:
        mint.claim_share_nowait(pubkey=claim_pubkey(ALICE), keyset_id="01" + "ee" * 32, amount=1)
    assert exc.value.name == "unknown-keyset"
    with pytest.raises(MintError) as exc:
        mint.claim_share_nowait(pubkey=claim_pubkey(ALICE), keyset_id=mint.sat_keyset.id, amount=1)
    assert exc.value.name == "inactive-keyset"
    assert mint.store.claimed_work(first) == 0


async def test_a_claim_is_minted_once_as_ehash_that_redeems_at_the_epoch_price(mint: Mint) -> None:
    e = open_epoch(mint)
    await mine_shares(mint, [64, 64])
    await claim_shares(mint, ALICE, [64] * 5)
    alice = claim_pubkey(ALICE)
    outs, sig = signed_outputs(mint, ALICE, e, claim_amounts(320))
    refused("claim-not-final", mint.mint_claim, alice, e, outs.messages, sig)  # the epoch is still open
    won_epoch(mint, e, theta_b=1000, mature=False)

    refused(
        "claim-signature-invalid", mint.mint_claim, alice, e, outs.messages, sign_claim(BOB, e, outs.messages)
    )
    refused("claim-signature-invalid", mint.mint_claim, alice, e, outs.messages[:1], sig)
    short, short_sig = signed_outputs(mint, ALICE, e, [256])
    refused("transaction-unbalanced", mint.mint_claim, alice, e, short.messages, short_sig)
    bob_outs, bob_sig = signed_outputs(mint, BOB, e, [64])
    refused("unknown-claim", mint.mint_claim, claim_pubkey(BOB), e, bob_outs.messages, bob_sig)
    sat = outputs(mint.sat_keyset.id, [64, 256])
    refused("unit-mismatch", mint.mint_claim, alice, e, sat.messages, sign_claim(ALICE, e, sat.messages))
    refused("no-outputs", mint.mint_claim, alice, e, [], sign_claim(ALICE, e, []))
    refused("unknown-epoch", mint.mint_claim, alice, e + 5, outs.messages, sig)

    sigs = mint.mint_claim(alice, e, outs.messages, sig)  # won, not yet mature: the ehash exists already
    proofs = outs.unblind(sigs, mint.ehash_keyset(e))
    assert sum(p.amount for p in proofs) == 320 and all(p.id == mint.ehash_keyset(e).id for p in proofs)
    assert [c.paid for c in mint.claims(alice)] == [True]
    again, again_sig = signed_outputs(mint, ALICE, e, claim_amounts(320))
    refused("claim-already-paid", mint.mint_claim, alice, e, again.messages, again_sig)
    refused("claim-already-paid", mint.mint_claim, alice, e, outs.messages, sig)  # the same request replayed

    mint.set_confirmations(e, 2, maturity=2)
    price = mint.epoch(e).price
    assert price == Fraction(1000, 448)
    value = int(320 * price)  # floor(work × price)
    paid = mint.redeem(proofs, outputs(mint.sat_keyset.id, claim_amounts(value)).messages)
    assert sum(s.amount for s in paid) == value == 714
    assert mint.epoch(e).paid == value


async def test_claims_of_a_lost_or_orphaned_epoch_are_worth_nothing(mint: Mint) -> None:
    lost = open_epoch(mint)
    await claim_shares(mint, ALICE, [8])
    mint.close_epoch_lost(lost, height=101, now=1_700_000_050)
    outs, sig = signed_outputs(mint, ALICE, lost, [8])
    refused("epoch-lost", mint.mint_claim, claim_pubkey(ALICE), lost, outs.messages, sig)

    orphaned = open_epoch(mint)
    await claim_shares(mint, ALICE, [8])
    won_epoch(mint, orphaned, theta_b=1000)
    mint.mark_orphaned(orphaned)
    outs, sig = signed_outputs(mint, ALICE, orphaned, [8])
    refused("epoch-orphaned", mint.mint_claim, claim_pubkey(ALICE), orphaned, outs.messages, sig)
    assert [c.status for c in mint.claims(claim_pubkey(ALICE))] == [EpochStatus.ORPHANED, EpochStatus.LOST]


async def test_a_schema_5_mint_gets_the_claims_tables(tmp_path: Path) -> None:
    mint = Mint.open(tmp_path / "mint")
    e = open_epoch(mint)
    await mine_shares(mint, [2, 2])
    mint.close()
    conn = sqlite3.connect(tmp_path / "mint" / "mint.sqlite3", isolation_level=None)
    conn.executescript("""
        DROP TABLE claims;
        DROP TABLE claims_paid;
        UPDATE meta SET value = '5' WHERE key = 'schema';""")
    conn.close()
    mint = Mint.open(tmp_path / "mint")
    try:
        assert mint.store.meta("schema") == str(SCHEMA_VERSION)
        assert mint.epoch(e).work == 4
        await claim_shares(mint, ALICE, [2])
        assert mint.epoch(e).work == 6 and mint.store.claimed_work(e) == 2
    finally:
        mint.close()
