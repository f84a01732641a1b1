"""The one EPOCH schema (DESIGN §5): round trip, the exact wire keys, and malformed objects refused."""

from __future__ import annotations

import json
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nutx_cli.core.epoch_json import Epoch, EpochJsonError
from nutx_cli.core.epoch_status import EpochStatus
from tests.helpers.mint import EPOCH_KEYS

counts = st.integers(min_value=0, max_value=2**40)
sats = st.integers(min_value=0, max_value=21 * 10**14)


def maybe(values: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | values


epochs = st.builds(
    Epoch,
    epoch=st.integers(min_value=1, max_value=2**32),
    status=st.sampled_from(EpochStatus),
    keyset_id=st.text("0123456789abcdef", min_size=16, max_size=66),
    k_max=st.sampled_from([224, 256]),
    started_at=st.integers(min_value=0, max_value=2**40),
    ended_at=maybe(st.integers(min_value=0, max_value=2**40)),
    height=maybe(st.integers(min_value=0, max_value=2**31)),
    block_hash=maybe(st.text("0123456789abcdef", min_size=64, max_size=64)),
    work=st.integers(min_value=0, max_value=2**80),
    work_by_amount=st.dictionaries(st.integers(min_value=0, max_value=63).map(lambda i: 1 << i), counts),
    theta_b=maybe(sats),
    mint_fee=maybe(sats),
    theta_c=maybe(sats),
    price=maybe(st.fractions(min_value=0, max_value=10**12)),
    confirmations=maybe(st.integers(min_value=0, max_value=10**6)),
    paid=sats,
)


@given(epochs)
def test_round_trip_through_the_wire(epoch: Epoch) -> None:
    wire = json.loads(json.dumps(epoch.to_json()))
    assert list(wire) == EPOCH_KEYS
    assert Epoch.from_json(wire) == epoch


def example() -> dict[str, Any]:
    return {
        "epoch": 7,
        "status": "mature",
        "keyset_id": "01" + "ab" * 32,
        "k_max": 256,
        "started_at": 1_700_000_000,
        "ended_at": 1_700_000_600,
        "height": 108,
        "block_hash": "00" * 32,
        "work": 5 * 4 + 2,
        "work_by_amount": {"1": 2, "4": 5},
        "theta_b": 5_000_001_234,
        "mint_fee": 1000,
        "theta_c": 5_000_000_234,
        "price": "2500000117/11",
        "confirmations": 100,
        "paid": 0,
    }


def test_the_wire_form_of_one_epoch() -> None:
    epoch = Epoch.from_json(example())
    assert epoch.status is EpochStatus.MATURE and epoch.price == Fraction(5_000_000_234, 22)
    assert epoch.work_by_amount == {1: 2, 4: 5}
    assert epoch.to_json() == example()
    assert json.dumps(epoch.to_json()) == json.dumps(example())


def test_unknown_keys_are_ignored_and_whole_float_seconds_read() -> None:
    epoch = Epoch.from_json({**example(), "age": 12, "started_at": 1_700_000_000.0})
    assert epoch.started_at == 1_700_000_000 and isinstance(epoch.started_at, int)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"epoch": None}, "an epoch has no index"),
        ({"status": "pending"}, "epoch status must be one of open, won, mature, lost, orphaned"),
        ({"work": 1.5}, "work must be an integer"),
        ({"paid": True}, "paid must be an integer"),
        ({"k_max": None}, "k_max must be an integer"),
        ({"keyset_id": 7}, "keyset_id must be a string"),
        ({"height": "108"}, "height must be an integer or null"),
        ({"started_at": 1.5}, "started_at must be whole unix seconds"),
        ({"price": "1/0"}, "price must be"),
        ({"price": 0.5}, "price must be"),
        ({"work_by_amount": []}, "work_by_amount must be a JSON object"),
        ({"work_by_amount": {"01": 1}}, "work_by_amount keys must be amounts"),
        ({"work_by_amount": {"2": -1}}, r"work_by_amount\[2\] must be a count"),
    ],
)
def test_malformed_epochs_say_which_field(change: dict[str, Any], message: str) -> None:
    with pytest.raises(EpochJsonError, match=message):
        Epoch.from_json({**example(), **change})


def test_a_missing_key_is_refused() -> None:
    for key in EPOCH_KEYS:
        if key in (
            "ended_at",
            "height",
            "block_hash",
            "theta_b",
            "mint_fee",
            "theta_c",
            "price",
            "confirmations",
        ):
            continue  # null and absent read the same
        d = example()
        del d[key]
        with pytest.raises(EpochJsonError):
            Epoch.from_json(d)
    with pytest.raises(EpochJsonError, match="must be a JSON object"):
        Epoch.from_json([example()])
