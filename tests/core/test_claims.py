"""Claimed ehash, the pure parts: miner identities, the wallet's claim key, the signed message (a fixed
vector), the claim JSON and the rules a claim is paid by."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from coincurve import PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from nutx_cli.core.claims import (
    HOW_TO_GET_A_KEY,
    Claim,
    ClaimError,
    ClaimJsonError,
    IdentityError,
    check_claim,
    claim_amounts,
    claim_message,
    claim_pubkey,
    claim_secret,
    claim_signature_valid,
    parse_identity,
    sign_claim,
)
from nutx_cli.core.epoch_status import EpochStatus
from nutx_cli.core.models import BlindedMessage
from nutx_cli.core.nut13 import seed_from_mnemonic

G = "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"
WORDS = "half depart obvious quality work element tank gorilla view sugar picture humble"
KEYSET = "01" + "ab" * 32
OUTPUTS = [BlindedMessage(1, KEYSET, "02" + "11" * 32), BlindedMessage(2**40, KEYSET, "03" + "22" * 32)]


def test_identities_are_a_compressed_key_and_an_optional_worker() -> None:
    assert parse_identity(f"{G}.rig1") == parse_identity(f"{G.upper()}.rig1")
    identity = parse_identity(f"{G}.rig.1")
    assert (identity.pubkey, identity.worker, identity.user) == (G, "rig.1", f"{G}.rig.1")
    assert parse_identity(G).worker == "" and parse_identity(G).user == G


@pytest.mark.parametrize(
    "user",
    [
        "alice.rig1",  # a name, not a key
        "04" + "79" * 32 + ".rig",  # not a compressed key
        "02" + "ff" * 32,  # not on the curve
        G[:-1],  # too short
        G + "0",  # too long
        "zz" + G[2:],  # not hex
        "",
    ],
)
def test_a_user_that_is_no_key_is_refused_saying_how_to_get_one(user: str) -> None:
    with pytest.raises(IdentityError) as refused:
        parse_identity(user)
    assert HOW_TO_GET_A_KEY in str(refused.value) and "nutx wallet pubkey" in str(refused.value)


def test_the_claim_key_follows_from_the_seed_alone() -> None:
    seed = seed_from_mnemonic(WORDS)
    secret = claim_secret(seed)
    assert claim_secret(seed_from_mnemonic(" ".join(WORDS.split()))) == secret  # a restore: the same key
    assert claim_secret(seed_from_mnemonic(WORDS, "other passphrase")) != secret
    assert claim_pubkey(secret) == PrivateKey(secret).public_key.format().hex()
    assert parse_identity(claim_pubkey(secret)).pubkey == claim_pubkey(secret)


def test_the_claim_message_is_the_documented_bytes() -> None:
    """The message of the module docstring, written out by hand."""

    def lp(b: bytes) -> bytes:
        return len(b).to_bytes(4, "big") + b

    expected = (
        b"nutx_MiningClaimSig_v1"
        + lp(bytes.fromhex(G))
        + lp(b"\x07")
        + lp(b"\x01")
        + lp(bytes.fromhex(KEYSET))
        + lp(bytes.fromhex("02" + "11" * 32))
        + lp(b"\x01\x00\x00\x00\x00\x00")
        + lp(bytes.fromhex(KEYSET))
        + lp(bytes.fromhex("03" + "22" * 32))
    )
    assert claim_message(G, 7, OUTPUTS) == hashlib.sha256(expected).digest()
    assert (
        claim_message(G, 7, OUTPUTS).hex()
        == "71eebc92df8bafcfc0424781361fb271638dc46f150c89aadbaf58a43ec4692e"
    )


def test_a_signed_claim_verifies_and_any_change_breaks_it() -> None:
    secret = claim_secret(seed_from_mnemonic(WORDS))
    pubkey = claim_pubkey(secret)
    signature = sign_claim(secret, 7, OUTPUTS)
    assert claim_signature_valid(pubkey, 7, OUTPUTS, signature)
    other = claim_pubkey(claim_secret(seed_from_mnemonic(WORDS, "x")))
    changed_output = [OUTPUTS[0], BlindedMessage(2**40, KEYSET, "03" + "33" * 32)]
    for args in (
        (other, 7, OUTPUTS, signature),  # someone else's key
        (pubkey, 8, OUTPUTS, signature),  # another epoch
        (pubkey, 7, OUTPUTS[:1], signature),  # an output dropped
        (pubkey, 7, changed_output, signature),  # an output swapped
        (pubkey, 7, OUTPUTS[::-1], signature),  # the order matters
        (pubkey, 7, OUTPUTS, "00" * 64),
        (pubkey, 7, OUTPUTS, "not hex"),
        (pubkey, 7, OUTPUTS, signature[:-2]),
    ):
        assert not claim_signature_valid(*args)


@given(st.integers(min_value=1, max_value=2**80))
def test_claim_amounts_add_up_and_are_keyset_amounts(amount: int) -> None:
    amounts = claim_amounts(amount)
    assert sum(amounts) == amount
    assert all(a > 0 and a & (a - 1) == 0 and a <= 2**63 for a in amounts)


@pytest.mark.parametrize(
    ("status", "claimed", "paid", "outputs", "name"),
    [
        (EpochStatus.OPEN, 10, False, [10], "claim-not-final"),
        (EpochStatus.LOST, 10, False, [10], "epoch-lost"),
        (EpochStatus.ORPHANED, 10, False, [10], "epoch-orphaned"),
        (EpochStatus.WON, 0, False, [1], "unknown-claim"),
        (EpochStatus.MATURE, 10, True, [10], "claim-already-paid"),
        (EpochStatus.MATURE, 10, False, [8], "transaction-unbalanced"),
        (EpochStatus.WON, 10, False, [8, 4], "transaction-unbalanced"),
    ],
)
def test_a_claim_that_cannot_be_paid_is_refused_by_name(
    status: EpochStatus, claimed: int, paid: bool, outputs: list[int], name: str
) -> None:
    with pytest.raises(ClaimError) as refused:
        check_claim(status, claimed, paid, outputs)
    assert refused.value.name == name


def test_a_claim_of_a_won_or_mature_epoch_is_paid_exactly() -> None:
    assert check_claim(EpochStatus.WON, 10, False, [8, 2]) == 10
    assert check_claim(EpochStatus.MATURE, 2**70, False, claim_amounts(2**70)) == 2**70


def test_the_claim_json_round_trips_and_malformed_ones_are_named() -> None:
    claim = Claim(3, KEYSET, EpochStatus.MATURE, 2**70, False)
    assert claim.to_json() == {
        "epoch": 3,
        "keyset_id": KEYSET,
        "status": "mature",
        "amount": 2**70,
        "paid": False,
    }
    assert Claim.from_json(claim.to_json()) == claim
    bad: list[tuple[Any, str]] = [
        ([], "JSON object"),
        ({**claim.to_json(), "epoch": "3"}, "epoch"),
        ({**claim.to_json(), "paid": 0}, "paid"),
        ({**claim.to_json(), "amount": True}, "amount"),
        ({**claim.to_json(), "amount": -1}, "negative"),
        ({**claim.to_json(), "status": "maybe"}, "status"),
    ]
    for d, what in bad:
        with pytest.raises(ClaimJsonError, match=what):
            Claim.from_json(d)
