"""Cashu JSON models: round trips of the vector objects and typed errors for bad fields."""

from __future__ import annotations

from typing import Any

import pytest

from nutx_cli.core import bdhke
from nutx_cli.core.bdhke import CryptoError
from nutx_cli.core.models import DLEQ, BlindedMessage, BlindSignature, ModelError, Proof
from tests.conftest import load_vectors

POINT = "02a9acc1e48c25eeeb9289b5031cc57da9fe72f3fe2861d264bdc074209b107ba2"
KEYSET = "009a1f293253e41e"
HEX32 = "ab" * 32


def nut12_case(case_id: str) -> dict[str, Any]:
    return next(c for c in load_vectors("nut12")["cases"] if c["id"] == case_id)


def test_vector_objects_round_trip() -> None:
    bs_json = nut12_case("dleq_blind_signature_valid")["input"]["blind_signature"]
    bs = BlindSignature.from_json(bs_json)
    assert bs.dleq == DLEQ(e=bs_json["dleq"]["e"], s=bs_json["dleq"]["s"])
    assert bs.to_json() == bs_json
    proof_json = nut12_case("dleq_proof_valid")["input"]["proof"]
    proof = Proof.from_json(proof_json)
    assert proof.to_json() == proof_json
    assert proof.Y == bdhke.secret_to_y(proof_json["secret"]).hex()
    for token_case in load_vectors("nut00")["cases"]:
        if token_case["id"] == "token_v3_serialize":
            for p in token_case["input"]["token"]["token"][0]["proofs"]:
                assert Proof.from_json(p).to_json() == p


def test_blinded_message_round_trip_and_blank_outputs() -> None:
    d = {"amount": 8, "id": "01" + "cd" * 32, "B_": POINT}
    assert BlindedMessage.from_json(d).to_json() == d
    blank = {"amount": 0, "id": KEYSET, "B_": POINT}
    with pytest.raises(ModelError, match="amount"):
        BlindedMessage.from_json(blank)
    assert BlindedMessage.from_json(blank, allow_zero=True).amount == 0


def test_optional_fields_omitted_and_kept() -> None:
    p = Proof(amount=1, id=KEYSET, secret="s", C=POINT, dleq=DLEQ(HEX32, HEX32, HEX32), witness='{"x":1}')
    assert Proof.from_json(p.to_json()) == p
    assert list(Proof(amount=1, id=KEYSET, secret="s", C=POINT).to_json()) == ["amount", "id", "secret", "C"]
    assert "dleq" not in BlindSignature(amount=1, id=KEYSET, C_=POINT).to_json()
    # unknown fields are ignored, upper-case hex is normalised
    assert Proof.from_json({**p.to_json(), "p2pk_e": POINT, "C": POINT.upper()}) == p


@pytest.mark.parametrize(
    "change",
    [
        {"amount": 0},
        {"amount": -1},
        {"amount": 2**64},
        {"amount": 1.0},
        {"amount": True},
        {"amount": "1"},
        {"id": "00abc"},
        {"id": "xx" * 8},
        {"id": 5},
        {"secret": ""},
        {"secret": None},
        {"C": POINT[:-2]},
        {"dleq": {"e": HEX32}},
        {"dleq": {"e": HEX32, "s": "ab" * 31}},
        {"dleq": "nope"},
        {"witness": 3},
    ],
)
def test_proof_bad_fields(change: dict[str, Any]) -> None:
    d = {"amount": 1, "id": KEYSET, "secret": "s", "C": POINT} | change
    with pytest.raises(ModelError):
        Proof.from_json(d)


@pytest.mark.parametrize("field", ["amount", "id", "secret", "C"])
def test_proof_missing_field(field: str) -> None:
    d = {"amount": 1, "id": KEYSET, "secret": "s", "C": POINT}
    del d[field]
    with pytest.raises(ModelError, match=field):
        Proof.from_json(d)


def test_point_not_on_curve_is_crypto_error() -> None:
    bad = "02" + "00" * 31 + "05"
    with pytest.raises(CryptoError):
        BlindedMessage.from_json({"amount": 1, "id": KEYSET, "B_": bad})
    with pytest.raises(CryptoError):
        BlindSignature.from_json({"amount": 1, "id": KEYSET, "C_": bad})
    with pytest.raises(ModelError):
        BlindedMessage.from_json([1, 2])


def test_blind_signature_adapter_to_and_from_bytes() -> None:
    sig = bdhke.sign(b"\x05" * 32, bdhke.blind("a secret", b"\x09" * 32))
    model = BlindSignature.of(sig, 8, KEYSET)
    assert model == BlindSignature(8, KEYSET, sig.C_.hex(), DLEQ(sig.e.hex(), sig.s.hex()))
    assert BlindSignature.from_json(model.to_json()) == model
    assert model.blind_sig() == sig
    with pytest.raises(ModelError, match="no DLEQ"):
        BlindSignature(8, KEYSET, POINT).blind_sig()
