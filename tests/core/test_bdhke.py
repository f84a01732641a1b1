"""BDHKE and DLEQ (NUT-00, NUT-12) against the official vectors, plus round trips and bad input."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nutx_cli.core import bdhke
from nutx_cli.core.bdhke import CURVE_ORDER, CryptoError
from tests.conftest import load_vectors


def cases(name: str, *groups: str) -> list[Any]:
    return [pytest.param(c, id=c["id"]) for c in load_vectors(name)["cases"] if c["group"] in groups]


def h(x: str) -> bytes:
    return bytes.fromhex(x)


@pytest.mark.parametrize("case", cases("nut00", "hash_to_curve"))
def test_hash_to_curve_vectors(case: dict[str, Any]) -> None:
    assert bdhke.hash_to_curve(h(case["input"]["message_hex"])).hex() == case["expected"]["point"]


@pytest.mark.parametrize("case", cases("nut00", "blinded_message"))
def test_blinded_message_vectors(case: dict[str, Any]) -> None:
    # the NUT-00 vectors feed raw bytes to hash_to_curve, so compose B_ = Y + r·G from parts
    i = case["input"]
    y = bdhke.parse_point(bdhke.hash_to_curve(h(i["x_hex"])))
    r_g = bdhke.parse_point(bdhke.public_key(h(i["r"])))
    assert y.combine([r_g]).format().hex() == case["expected"]["B_"]


@pytest.mark.parametrize(
    "case", cases("nut00", "blind_signature") + cases("nutshell_crypto_extra", "blind_signature")
)
def test_blind_signature_vectors(case: dict[str, Any]) -> None:
    i = case["input"]
    sig = bdhke.sign(h(i["k"]), h(i["B_"]))
    assert sig.C_.hex() == case["expected"]["C_"]
    assert bdhke.verify_blind_dleq(bdhke.public_key(h(i["k"])), h(i["B_"]), sig.C_, sig.e, sig.s)


@pytest.mark.parametrize("case", cases("nutshell_crypto_extra", "blinded_message"))
def test_blind_utf8_secret_vector(case: dict[str, Any]) -> None:
    i = case["input"]
    assert bdhke.blind(i["secret"], h(i["r"])).hex() == case["expected"]["B_"]


@pytest.mark.parametrize("case", cases("nutshell_crypto_extra", "unblind"))
def test_unblind_vector(case: dict[str, Any]) -> None:
    i = case["input"]
    assert bdhke.unblind(h(i["C_"]), h(i["r"]), h(i["A"])).hex() == case["expected"]["C"]


@pytest.mark.parametrize("case", cases("nutshell_crypto_extra", "dleq_generation_fixed_nonce"))
def test_dleq_fixed_nonce_vectors(case: dict[str, Any]) -> None:
    i = case["input"]
    sig = bdhke.sign_with_nonce(h(i["a"]), h(i["B_"]), h(i["nonce_p"]))
    assert (sig.e.hex(), sig.s.hex()) == (case["expected"]["e"], case["expected"]["s"])


@pytest.mark.parametrize("case", cases("nut12", "hash_e"))
def test_hash_e_vector(case: dict[str, Any]) -> None:
    points = [bdhke.parse_point(case["input"][k]) for k in ("R1", "R2", "K", "C_")]
    assert bdhke.hash_e(*points).hex() == case["expected"]["hash"]


@pytest.mark.parametrize("case", cases("nut12", "dleq_generation"))
def test_deterministic_nonce_vector(case: dict[str, Any]) -> None:
    i = case["input"]
    assert bdhke.public_key(h(i["a"])).hex() == i["A"]
    sig = bdhke.sign(h(i["a"]), h(i["B_"]))
    assert sig.C_.hex() == i["C_"]
    assert (sig.e.hex(), sig.s.hex()) == (case["expected"]["e"], case["expected"]["s"])
    assert bdhke.verify_blind_dleq(h(i["A"]), h(i["B_"]), sig.C_, sig.e, sig.s) is case["expected"]["verify"]
    assert bdhke.sign(h(i["a"]), h(i["B_"]), K=h(i["A"])) == sig
    A, B, C = (bdhke.parse_point(i[x]) for x in ("A", "B_", "C_"))
    nonce = bdhke.dleq_nonce(h(i["a"]), A, B, C).to_bytes(32, "big")
    assert bdhke.sign_with_nonce(h(i["a"]), h(i["B_"]), nonce) == sig


@pytest.mark.parametrize("case", cases("nut12", "dleq_verify_blind_signature"))
def test_blind_signature_dleq_vector(case: dict[str, Any]) -> None:
    i = case["input"]
    bs = i["blind_signature"]
    e, s = h(bs["dleq"]["e"]), h(bs["dleq"]["s"])
    assert bdhke.verify_blind_dleq(h(i["A"]), h(i["B_"]), h(bs["C_"]), e, s) is case["expected"]["valid"]
    # tampering with any part breaks it
    bad_s = ((int.from_bytes(s, "big") + 1) % CURVE_ORDER).to_bytes(32, "big")
    assert not bdhke.verify_blind_dleq(h(i["A"]), h(i["B_"]), h(bs["C_"]), e, bad_s)
    other_key = bdhke.public_key((2).to_bytes(32, "big"))
    assert not bdhke.verify_blind_dleq(other_key, h(i["B_"]), h(bs["C_"]), e, s)


@pytest.mark.parametrize("case", cases("nut12", "dleq_verify_proof"))
def test_proof_dleq_vector(case: dict[str, Any]) -> None:
    i = case["input"]
    p = i["proof"]
    d = p["dleq"]
    args = (h(i["A"]), p["secret"], h(p["C"]), h(d["r"]), h(d["e"]), h(d["s"]))
    assert bdhke.verify_proof_dleq(*args) is case["expected"]["valid"]
    assert not bdhke.verify_proof_dleq(args[0], p["secret"] + "x", *args[2:])


scalars = st.integers(min_value=1, max_value=CURVE_ORDER - 1).map(lambda x: x.to_bytes(32, "big"))


@settings(max_examples=40, deadline=None)
@given(k=scalars, r=scalars, secret=st.text(min_size=1, max_size=80))
def test_full_round_trip(k: bytes, r: bytes, secret: str) -> None:
    K = bdhke.public_key(k)
    B_ = bdhke.blind(secret, r)
    sig = bdhke.sign(k, B_)
    assert sig == bdhke.sign(k, B_), "signing must be deterministic"
    assert bdhke.verify_blind_dleq(K, B_, sig.C_, sig.e, sig.s)
    C = bdhke.unblind(sig.C_, r, K)
    assert bdhke.verify(k, secret, C)
    assert not bdhke.verify(k, secret + "!", C)
    assert bdhke.verify_proof_dleq(K, secret, C, r, sig.e, sig.s)


def test_secret_to_y_is_utf8_hash_to_curve() -> None:
    assert bdhke.secret_to_y("ñ") == bdhke.hash_to_curve("ñ".encode())
    assert bdhke.secret_to_y("00") != bdhke.hash_to_curve(b"\x00")


NOT_ON_CURVE = "02" + "00" * 31 + "05"  # x = 5: x^3 + 7 = 132 is not a square mod p
GOOD = "02a9acc1e48c25eeeb9289b5031cc57da9fe72f3fe2861d264bdc074209b107ba2"


@pytest.mark.parametrize(
    "data",
    [
        NOT_ON_CURVE,
        GOOD[:-2],  # 32 bytes
        "04" + GOOD[2:],  # wrong prefix
        bytes.fromhex(GOOD) + b"\x00",  # 34 bytes
        "zz" * 33,
        b"",
    ],
)
def test_parse_point_rejects(data: bytes | str) -> None:
    with pytest.raises(CryptoError):
        bdhke.parse_point(data)


def test_uncompressed_point_rejected() -> None:
    full = bdhke.parse_point(GOOD).format(compressed=False)
    with pytest.raises(CryptoError, match="33 bytes"):
        bdhke.parse_point(full)


@pytest.mark.parametrize("k", [b"\x00" * 32, CURVE_ORDER.to_bytes(32, "big"), b"\x01" * 31, b"\x01" * 33])
def test_bad_scalars_rejected(k: bytes) -> None:
    with pytest.raises(CryptoError):
        bdhke.sign(k, h(GOOD))
    with pytest.raises(CryptoError):
        bdhke.public_key(k)


def test_sign_rejects_bad_point() -> None:
    with pytest.raises(CryptoError):
        bdhke.sign(b"\x01" * 32, h(NOT_ON_CURVE))


def test_dleq_rejects_malformed_and_out_of_range() -> None:
    k = b"\x07" * 32
    sig = bdhke.sign(k, h(GOOD))
    K = bdhke.public_key(k)
    with pytest.raises(CryptoError):
        bdhke.verify_blind_dleq(K, h(GOOD), sig.C_, sig.e[:31], sig.s)
    assert not bdhke.verify_blind_dleq(K, h(GOOD), sig.C_, b"\x00" * 32, sig.s)
    assert not bdhke.verify_blind_dleq(K, h(GOOD), sig.C_, sig.e, b"\xff" * 32)
