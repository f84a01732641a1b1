"""Keyset ids (NUT-02 vectors), wallet-side key checks (NUT-01 vectors), deterministic derivation."""

from __future__ import annotations

import hmac
from typing import Any

import pytest

from nutx_cli.core import bdhke
from nutx_cli.core.bdhke import CryptoError
from nutx_cli.core.keysets import (
    EHASH_AMOUNTS,
    SAT_AMOUNTS,
    derive_keyset,
    keyset_from_public_json,
    keyset_id_v00,
    keyset_id_v01,
    short_keyset_id,
)
from nutx_cli.core.models import ModelError
from tests.conftest import load_vectors


def cases(name: str, *groups: str) -> list[Any]:
    return [pytest.param(c, id=c["id"]) for c in load_vectors(name)["cases"] if c["group"] in groups]


@pytest.mark.parametrize("case", cases("nut01", "keyset_validation"))
def test_nut01_keyset_validation(case: dict[str, Any]) -> None:
    if case["expected"]["valid"]:
        keys = keyset_from_public_json(case["input"])
        assert [str(a) for a in keys] == sorted(case["input"]["keys"], key=int)
        assert all(len(k) == 33 for k in keys.values())
    else:
        with pytest.raises(CryptoError):
            keyset_from_public_json(case["input"])


@pytest.mark.parametrize("case", cases("nut02", "keyset_id_v1"))
def test_keyset_id_v1_vectors(case: dict[str, Any]) -> None:
    assert keyset_id_v00(keyset_from_public_json(case["input"])) == case["expected"]["id"]


@pytest.mark.parametrize("case", cases("nut02", "keyset_id_v2"))
def test_keyset_id_v2_vectors(case: dict[str, Any]) -> None:
    i = case["input"]
    keys = keyset_from_public_json(i)
    assert (
        keyset_id_v01(keys, i["unit"], i["input_fee_ppk"] or 0, i["final_expiry"]) == case["expected"]["id"]
    )


def test_v2_id_sorts_numerically() -> None:
    keys = keyset_from_public_json(load_vectors("nut01")["cases"][-1]["input"])
    shuffled = dict(sorted(keys.items(), key=lambda kv: str(kv[0])))
    assert keyset_id_v01(shuffled, "sat") == keyset_id_v01(keys, "sat")
    assert keyset_id_v00(shuffled) == keyset_id_v00(keys)


@pytest.mark.parametrize(
    "keys",
    [
        {},
        {"01": "02" + "11" * 32},
        {"0": "03a40f20667ed53513075dc51e715ff2046cad64eb68960632269ba7f0210e38bc"},
        {"-1": "03a40f20667ed53513075dc51e715ff2046cad64eb68960632269ba7f0210e38bc"},
        {str(2**64): "03a40f20667ed53513075dc51e715ff2046cad64eb68960632269ba7f0210e38bc"},
        {"1": 5},
    ],
)
def test_public_json_bad_amounts(keys: dict[str, Any]) -> None:
    with pytest.raises(ModelError):
        keyset_from_public_json({"keys": keys})


def test_derive_keyset_deterministic_and_separated() -> None:
    seed = b"\x42" * 32
    sat = derive_keyset(seed, "sat", 0)
    assert sat == derive_keyset(seed, "sat", 0)
    assert tuple(sat.public_keys) == SAT_AMOUNTS == EHASH_AMOUNTS
    assert len(sat.id) == 66 and sat.id.startswith("01")
    assert sat.id == keyset_id_v01(sat.public_keys, "sat")
    for amount in (1, 2**63):
        assert bdhke.public_key(sat.private_keys[amount]) == sat.public_keys[amount]
    others = [
        derive_keyset(seed, "ehash", 0),
        derive_keyset(seed, "ehash", 1),
        derive_keyset(b"\x43" * 32, "sat", 0),
    ]
    ids = {sat.id} | {k.id for k in others}
    assert len(ids) == 4
    all_keys = [k for ks in [sat, *others] for k in ks.private_keys.values()]
    assert len(set(all_keys)) == len(all_keys)


def test_derive_keyset_is_frozen() -> None:
    """The derivation must never change: recompute the docstring's formula and pin the result."""
    seed = bytes(range(32))
    ks = derive_keyset(seed, "ehash", 7, amounts=(1, 2, 4))
    label = b"nutx/keyset/v1" + b"\x05ehash" + (7).to_bytes(8, "big") + (1).to_bytes(8, "big") + b"\x00"
    expected = int.from_bytes(hmac.digest(seed, label, "sha256"), "big") % bdhke.CURVE_ORDER
    assert ks.private_keys[1] == expected.to_bytes(32, "big")
    assert ks.private_keys[1].hex() == "9a218500477b647522b046387ca157520eff3bb2dfae9fc15ef56eedafe1e5be"
    assert ks.id == "01395aa3c6a0ec49b9c5e66d8d50b877c4b4093b8117fd21ba6ff686e90eacfd2a"


def test_public_json_shape_and_round_trip() -> None:
    ks = derive_keyset(b"seed", "ehash", 3, amounts=(8, 1, 2**63), input_fee_ppk=100)
    pj = ks.public_json()
    assert list(pj) == ["id", "unit", "keys"]
    assert list(pj["keys"]) == ["1", "8", str(2**63)]
    assert keyset_from_public_json(pj) == dict(ks.public_keys)
    assert ks.id == keyset_id_v01(ks.public_keys, "ehash", 100)
    assert ks.id != keyset_id_v01(ks.public_keys, "ehash")


@pytest.mark.parametrize("bad", [{"unit": ""}, {"index": -1}, {"amounts": (0,)}, {"amounts": (2**64,)}])
def test_derive_keyset_bad_arguments(bad: dict[str, Any]) -> None:
    args: dict[str, Any] = {"master_seed": b"s", "unit": "sat", "index": 0} | bad
    with pytest.raises(ModelError):
        derive_keyset(**args)


def test_short_keyset_id() -> None:
    assert short_keyset_id("01" + "ab" * 32) == "01" + "ab" * 7
    assert short_keyset_id("009a1f293253e41e") == "009a1f293253e41e"
