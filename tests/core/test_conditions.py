"""Spending conditions (NUT-10/11/14): every case of the official nut11 vectors, then malformed secrets and
witnesses and the pathways the vectors do not cover, with keys and signatures made here by coincurve."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from coincurve import PrivateKey

from nutx_cli.core.conditions import ConditionError, check_inputs, parse_secret, sig_all_message
from nutx_cli.core.models import BlindedMessage, Proof
from tests.conftest import load_vectors
from tests.helpers.locks import locked_secret, pub, signatures, witness

NOW = 1_800_000_000
"""The verifier's clock: after the vectors' past locktimes (21, 1), before their future ones."""

VECTORS = load_vectors("nut11")["cases"]
C = "02698c4e2b5f9534cd0687d87513c759790cf829aa5739184a3e3735471fbda904"
B_ = "038ec853d65ae1b79b5cdbc2774150b2cb288d6d26e12958a16fb33c32d9a86c39"


def _request(case: dict[str, Any]) -> tuple[list[Proof], list[BlindedMessage], str | None]:
    given = case["input"]
    if "proof" in given:
        return [Proof.from_json(given["proof"])], [], None
    request = given.get("swap_request") or given["melt_request"]
    inputs = [Proof.from_json(p) for p in request["inputs"]]
    outputs = [BlindedMessage.from_json(o, allow_zero=True) for o in request["outputs"]]
    return inputs, outputs, request.get("quote")


def _spendable(inputs: list[Proof], outputs: list[BlindedMessage], quote: str | None = None) -> bool:
    try:
        check_inputs(inputs, outputs, NOW, quote)
    except ConditionError:
        return False
    return True


@pytest.mark.parametrize("case", [c for c in VECTORS if "valid" in c["expected"]], ids=lambda c: c["id"])
def test_vector_validity(case: dict[str, Any]) -> None:
    assert _spendable(*_request(case)) is case["expected"]["valid"]


@pytest.mark.parametrize(
    "case", [c for c in VECTORS if "msg_to_sign" in c["expected"]], ids=lambda c: c["id"]
)
def test_vector_sig_all_message(case: dict[str, Any]) -> None:
    message = sig_all_message(*_request(case))
    assert message == case["expected"]["msg_to_sign"]
    assert hashlib.sha256(message.encode()).hexdigest() == case["expected"]["sha256_hex"]


def test_vector_base_proof_without_witness_is_refused() -> None:
    """The multisig base proof (locktime passed, but a refund tag) needs signatures: without a witness it is locked."""
    (case,) = [c for c in VECTORS if c["id"] == "multisig_base_proof"]
    assert not _spendable(*_request(case))


def test_every_vector_is_used() -> None:
    used = {c["id"] for c in VECTORS if {"valid", "msg_to_sign"} & set(c["expected"])} | {
        "multisig_base_proof"
    }
    assert used == {c["id"] for c in VECTORS} and len(used) == 20


# -- secrets and witnesses made here ------------------------------------------------------------------


def key() -> PrivateKey:
    return PrivateKey()


def proof(secret_: str, witness_: dict[str, Any] | None = None, amount: int = 1) -> Proof:
    return Proof(amount, "00" * 8, secret_, C, witness=None if witness_ is None else json.dumps(witness_))


def signed(secret_: str, *keys: PrivateKey, **extra: Any) -> Proof:
    return Proof(1, "00" * 8, secret_, C, witness=witness(secret_, *keys, **extra))


def test_plain_secrets_need_nothing() -> None:
    for plain in ("a" * 64, "[1, {}]", '["P2PK"]', "[not json", '{"P2PK": 1}'):
        assert parse_secret(plain) is None
        assert _spendable([proof(plain)], [])


def test_p2pk_sig_inputs() -> None:
    alice, bob = key(), key()
    locked = locked_secret("P2PK", pub(alice))
    assert _spendable([signed(locked, alice)], [])
    assert not _spendable([signed(locked, bob)], [])
    assert not _spendable([proof(locked)], [])
    assert not _spendable([proof(locked, {"signatures": signatures("another secret", alice)})], [])
    upper = locked_secret("P2PK", pub(alice).upper())
    assert _spendable([signed(upper, alice)], []), "keys are hex, either case"


def test_multisig_counts_distinct_keys() -> None:
    a, b, c = key(), key(), key()
    locked = locked_secret("P2PK", pub(a), ["pubkeys", pub(b), pub(c)], ["n_sigs", "2"])
    assert _spendable([signed(locked, a, c)], [])
    assert not _spendable([signed(locked, b)], [])
    twice = signed(locked, b)
    again = proof(
        locked, {"signatures": [*json.loads(twice.witness or "")["signatures"], *signatures(locked, b)]}
    )
    assert not _spendable([again], []), "two signatures by one key count once"


def test_locktime_and_refund() -> None:
    owner, refund, other = key(), key(), key()
    future = locked_secret("P2PK", pub(owner), ["locktime", str(NOW + 60)], ["refund", pub(refund)])
    past = locked_secret("P2PK", pub(owner), ["locktime", str(NOW - 60)], ["refund", pub(refund)])
    assert not _spendable([signed(future, refund)], [])
    assert _spendable([signed(future, owner)], [])
    assert _spendable([signed(past, refund)], []) and _spendable([signed(past, owner)], [])
    assert not _spendable([signed(past, other)], [])
    two = locked_secret(
        "P2PK",
        pub(owner),
        ["locktime", str(NOW - 60)],
        ["refund", pub(refund), pub(other)],
        ["n_sigs_refund", "2"],
    )
    assert not _spendable([signed(two, refund)], []) and _spendable([signed(two, refund, other)], [])
    unlocked = locked_secret("P2PK", pub(owner), ["locktime", str(NOW - 60)])
    assert _spendable([proof(unlocked)], []), "an expired lock without refund keys is anyone-can-spend"
    permanent = locked_secret("P2PK", pub(owner), ["locktime", "soon"])
    assert not _spendable([proof(permanent)], []), "a locktime that is not a unix time locks for good"


def test_htlc() -> None:
    preimage = bytes(range(32))
    lock = hashlib.sha256(preimage).hexdigest()
    receiver, refund = key(), key()
    bare = locked_secret("HTLC", lock)
    assert _spendable([proof(bare, {"preimage": preimage.hex()})], [])
    assert not _spendable([proof(bare, {"preimage": "00" * 32})], [])
    assert not _spendable([proof(bare)], [])
    keyed = locked_secret(
        "HTLC", lock, ["pubkeys", pub(receiver)], ["locktime", str(NOW - 1)], ["refund", pub(refund)]
    )
    assert not _spendable([proof(keyed, {"preimage": preimage.hex()})], []), (
        "pubkeys: the preimage is not enough"
    )
    assert _spendable([signed(keyed, receiver, preimage=preimage.hex())], [])
    assert _spendable([signed(keyed, refund)], []), "the sender's refund after the locktime"
    assert not _spendable([signed(keyed, receiver)], []), "the receiver needs the preimage"


def test_sig_all_signs_inputs_and_outputs() -> None:
    owner = key()
    locked = [locked_secret("P2PK", pub(owner), ["sigflag", "SIG_ALL"]) for _ in range(2)]
    outputs = [BlindedMessage(2, "00" * 8, B_)]
    bare = [proof(s, amount=1) for s in locked]
    message = sig_all_message(bare, outputs)
    first = proof(locked[0], {"signatures": signatures(message, owner)})
    assert _spendable([first, bare[1]], outputs)
    assert not _spendable([first, bare[1]], [BlindedMessage(1, "00" * 8, B_)]), "outputs changed"
    assert not _spendable([first, bare[1]], outputs, "a-quote"), "a melt signs its quote id too"
    melt = proof(locked[0], {"signatures": signatures(message + "a-quote", owner)})
    assert _spendable([melt, bare[1]], outputs, "a-quote")
    assert not _spendable([first, proof("ab" * 32)], outputs), "SIG_ALL refuses a plain input beside it"
    other_tags = locked_secret("P2PK", pub(owner), ["sigflag", "SIG_ALL"], ["locktime", "1"])
    assert not _spendable([first, proof(other_tags)], outputs)


@pytest.mark.parametrize(
    ("secret_", "why"),
    [
        ('["P2PK", "data"]', "must be an object"),
        ('["P2PK", {"data": "02"}]', "nonce"),
        ('["P2PK", {"nonce": "n", "data": 5}]', "data"),
        ('["P2PK", {"nonce": "n", "data": "d", "tags": "x"}]', "tags"),
        ('["P2PK", {"nonce": "n", "data": "d", "tags": [[]]}]', "non-empty"),
        ('["P2PK", {"nonce": "n", "data": "d", "tags": [["locktime", 5]]}]', "non-empty strings"),
        ('["P2PK", {"nonce": "n", "data": "d", "tags": [["locktime", ""]]}]', "non-empty strings"),
        ('["P2SH", {"nonce": "n", "data": "d"}]', "unknown spending condition kind 'P2SH'"),
        ('["P2PK", {"nonce": "n", "data": "02zz"}]', "P2PK data"),
        ('["HTLC", {"nonce": "n", "data": "abcd"}]', "SHA-256 hash"),
    ],
)
def test_malformed_or_unknown_secrets_are_refused(secret_: str, why: str) -> None:
    with pytest.raises(ConditionError, match=why):
        check_inputs([proof(secret_)], [], NOW)


def test_malformed_tags_are_refused() -> None:
    a, b = key(), key()
    same_x = "03" + pub(a)[2:] if pub(a).startswith("02") else "02" + pub(a)[2:]
    cases = [
        ([["sigflag", "SIG_SOME"]], "unknown sigflag"),
        ([["sigflag", "SIG_ALL"], ["sigflag", "SIG_ALL"]], "more than once"),
        ([["pubkeys", pub(b)], ["pubkeys", pub(b)]], "more than once"),
        ([["n_sigs", "0"]], "between 1 and"),
        ([["n_sigs", "2"]], "between 1 and the 1 keys"),
        ([["n_sigs", "two"]], "positive integer"),
        ([["n_sigs", "1", "2"]], "exactly one value"),
        ([["pubkeys", same_x]], "appears twice"),
        ([["pubkeys", "02" + "00" * 32]], "'pubkeys' key"),
        ([["refund", pub(b), pub(b)]], "appears twice"),
        ([["n_sigs_refund", "1"]], "0 keys"),
    ]
    for tags, why in cases:
        with pytest.raises(ConditionError, match=why):
            check_inputs([signed(locked_secret("P2PK", pub(a), *tags), a)], [], NOW)
    both = locked_secret("P2PK", pub(a), ["refund", same_x], ["locktime", "1"])
    assert _spendable([signed(both, a)], []), "one key may be in both pathways"
    assert _spendable([signed(locked_secret("P2PK", pub(a), ["unknown", "x"], ["unknown", "y"]), a)], [])


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("not json", "not JSON"),
        ("[1]", "JSON object"),
        ('{"signatures": "ab"}', "list of hex"),
        ('{"signatures": ["zz"]}', "not hex"),
        ('{"signatures": ["abcd"]}', "64 bytes"),
        ('{"signatures": [], "preimage": 7}', "preimage"),
        ('{"signatures": [], "preimage": "00"}', "32 bytes"),
    ],
)
def test_malformed_witnesses_are_refused(text: str, why: str) -> None:
    locked = locked_secret("P2PK", pub(key()))
    with pytest.raises(ConditionError, match=why):
        check_inputs([Proof(1, "00" * 8, locked, C, witness=text)], [], NOW)
