"""NUT-13 deterministic secrets: all official vectors (legacy BIP32 and HMAC), plus bad input."""

from __future__ import annotations

from typing import Any

import pytest

from nutx_cli.core import bdhke, nut13
from nutx_cli.core.bdhke import CryptoError
from tests.conftest import load_vectors


def cases(*groups: str) -> list[Any]:
    return [pytest.param(c, id=c["id"]) for c in load_vectors("nut13")["cases"] if c["group"] in groups]


@pytest.mark.parametrize("case", cases("v1_keyset_id_int"))
def test_keyset_id_int_vector(case: dict[str, Any]) -> None:
    assert nut13.keyset_id_int(case["input"]["keyset_id"]) == case["expected"]["keyset_id_int"]


@pytest.mark.parametrize("case", cases("v1_bip32_derivation", "v2_hmac_derivation"))
def test_derivation_vectors(case: dict[str, Any]) -> None:
    i = case["input"]
    seed = nut13.seed_from_mnemonic(i["mnemonic"])
    assert nut13.derive_secret(seed, i["keyset_id"], i["counter"]) == case["expected"]["secret"]
    assert nut13.derive_blinding_factor(seed, i["keyset_id"], i["counter"]).hex() == case["expected"]["r"]


def test_new_mnemonic_is_valid_and_fresh() -> None:
    words = nut13.new_mnemonic()
    assert len(words.split()) == 12
    assert len(nut13.seed_from_mnemonic(words)) == 64
    assert nut13.new_mnemonic() != words


def test_passphrase_and_whitespace() -> None:
    words = load_vectors("nut13")["cases"][1]["input"]["mnemonic"]
    seed = nut13.seed_from_mnemonic(words)
    assert nut13.seed_from_mnemonic("  " + words.replace(" ", "   ") + "\n") == seed
    assert nut13.seed_from_mnemonic(words, "extra") != seed


@pytest.mark.parametrize("words", ["", "half depart obvious", "abandon " * 11 + "abandon", "notaword " * 12])
def test_bad_mnemonic(words: str) -> None:
    with pytest.raises(CryptoError):
        nut13.seed_from_mnemonic(words)


@pytest.mark.parametrize(
    ("keyset_id", "counter"),
    [
        ("015ba18a8adcd02e", 0),  # short form of a 01 id: would silently derive other secrets
        ("02" + "00" * 32, 0),  # unknown version
        ("zz", 0),
        ("009a1f293253e41e", 2**31),  # BIP32 hardened index overflow
        ("009a1f293253e41e", -1),
        ("01" + "00" * 32, 2**64),
    ],
)
def test_bad_keyset_id_or_counter(keyset_id: str, counter: int) -> None:
    with pytest.raises(CryptoError):
        nut13.derive_secret(b"\x01" * 64, keyset_id, counter)


def test_blinding_factor_is_a_usable_scalar() -> None:
    seed = b"\x07" * 64
    for keyset_id in ("009a1f293253e41e", "01" + "ab" * 32):
        r = nut13.derive_blinding_factor(seed, keyset_id, 5)
        secret = nut13.derive_secret(seed, keyset_id, 5)
        assert bdhke.blind(secret, r) != bdhke.blind(nut13.derive_secret(seed, keyset_id, 6), r)
