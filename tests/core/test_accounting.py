"""Epoch accounting and pricing (DESIGN.md §4) against the draft's reward formula."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nutx_cli.core import accounting as a
from nutx_cli.core.targets import K_MAX_REGTEST, amount_of_level, difficulty_of_level


def test_three_miners_match_the_draft() -> None:
    """Alice, Bob and Carol mine one epoch at different levels; R_x = |S_x|·D_x / Σ|S_i|·D_i · θ_C."""
    k_max = K_MAX_REGTEST
    miners = {"alice": (240, 37), "bob": (236, 11), "carol": (250, 1203)}  # level, shares
    theta_b, fee = 312_500_000, 1_000
    ledger = a.WorkLedger()
    for level, shares in miners.values():
        ledger.add(amount_of_level(level, k_max), shares)
    price = a.epoch_price(theta_b, fee, ledger.work)
    theta_c = a.theta_c(theta_b, fee)
    assert theta_c == 312_499_000

    # the draft's R_x uses difficulty D_k = T_max / T_k; ours uses exact work 2^(256-k). They agree to < 1 part in 2^100.
    draft_total = sum(s * difficulty_of_level(k) for k, s in miners.values())
    paid = {}
    for name, (level, shares) in miners.items():
        exact = Fraction(shares * amount_of_level(level, k_max)) * price
        draft = shares * difficulty_of_level(level) / draft_total * theta_c
        assert abs(exact - draft) / draft < Fraction(1, 2**100)
        paid[name] = a.redeem_value([amount_of_level(level, k_max)] * shares, price)
        assert exact - 1 < paid[name] <= exact
    exact_sum = sum(Fraction(s * amount_of_level(k, k_max)) * price for k, s in miners.values())
    assert exact_sum == theta_c  # R_A + R_B + R_C = θ_C exactly
    assert theta_c - 3 < sum(paid.values()) <= theta_c


def test_price_edge_cases() -> None:
    assert a.epoch_price(100, 100, 10) == 0  # θ_B ≤ F_M: won, but price 0
    assert a.epoch_price(100, 0, 0) == 0
    assert a.epoch_price(100, 10, 4) == Fraction(90, 4)
    assert a.format_price(Fraction(90, 4)) == "45/2"
    assert a.parse_price("45/2") == Fraction(45, 2)
    assert a.parse_price(None) is None and a.format_price(None) is None


@pytest.mark.parametrize("bad", [0, -1, 2**64, 1.5, True])
def test_bad_amounts(bad: object) -> None:
    with pytest.raises(a.AccountingError):
        a.check_amount(bad)  # type: ignore[arg-type]
    with pytest.raises(a.AccountingError):
        a.WorkLedger().add(bad)  # type: ignore[arg-type]


def test_check_redeem() -> None:
    price = Fraction(3, 2)
    assert a.check_redeem([1, 2], [4], price, paid_so_far=0, reward=100) == 4
    with pytest.raises(a.OutputsExceedValue):
        a.check_redeem([1, 2], [4, 1], price, paid_so_far=0, reward=100)
    with pytest.raises(a.Insolvent):
        a.check_redeem([1, 2], [4], price, paid_so_far=97, reward=100)


def test_ledger() -> None:
    ledger = a.WorkLedger.of({1: 3, 8: 2, 4: 0})
    assert ledger.work == 19
    assert ledger.work_by_amount == {1: 3, 8: 2}


@st.composite
def epochs_and_splits(draw: st.DrawFn) -> tuple[list[int], int, int, list[list[int]]]:
    levels = st.integers(min_value=K_MAX_REGTEST - 63, max_value=K_MAX_REGTEST)
    amounts = draw(st.lists(levels.map(lambda k: amount_of_level(k, K_MAX_REGTEST)), min_size=1, max_size=60))
    theta_b = draw(st.integers(min_value=0, max_value=50 * 10**8))
    fee = draw(st.integers(min_value=0, max_value=10**6))
    # any way of splitting the epoch's tokens into requests (some tokens may never be redeemed)
    labels = draw(
        st.lists(st.integers(min_value=-1, max_value=5), min_size=len(amounts), max_size=len(amounts))
    )
    requests: dict[int, list[int]] = {}
    for amount, label in zip(amounts, labels):
        if label >= 0:
            requests.setdefault(label, []).append(amount)
    return amounts, theta_b, fee, list(requests.values())


@given(epochs_and_splits())
def test_redeems_never_exceed_theta_c(case: tuple[list[int], int, int, list[list[int]]]) -> None:
    amounts, theta_b, fee, requests = case
    ledger = a.WorkLedger()
    for amount in amounts:
        ledger.add(amount)
    price = a.epoch_price(theta_b, fee, ledger.work)
    reward = a.theta_c(theta_b, fee)
    paid = 0
    for request in requests:
        value = a.redeem_value(request, price)
        exact = sum(request) * price
        assert exact - 1 < value <= exact  # each request: at least its exact value minus 1 sat
        paid += a.check_redeem(request, [value] if value else [], price, paid_so_far=paid, reward=reward)
    assert paid <= reward
