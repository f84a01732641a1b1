"""The dashboard's text forms of numbers (nutx_cli/tui/format.py)."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nutx_cli.core.targets import difficulty_of_level
from nutx_cli.tui import format as fmt


@pytest.mark.parametrize(
    ("rate", "text"),
    [
        (None, "—"),
        (0, "0 H/s"),
        (0.5, "0.5 H/s"),
        (999, "999 H/s"),
        (999.6, "1 kH/s"),
        (1234, "1.23 kH/s"),
        (12_345_678, "12.3 MH/s"),
        (123_456_789_000, "123 GH/s"),
        (Fraction(3 * 10**18, 7), "429 PH/s"),
        (6.5e20, "650 EH/s"),
    ],
)
def test_hashrate_has_three_digits_and_a_unit(rate: float | None, text: str) -> None:
    assert fmt.hashrate(rate) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "—"),
        ("1/1", "1"),
        ("3/2", "1.5"),
        ("0/1", "0"),
        (2**40, "1.1 T"),
        ("1/4096", "2.44e-4"),
        ("1/3", "0.333"),
        (0.05, "0.05"),
    ],
)
def test_difficulty_reads_the_wire_fraction(value: str | int | None, text: str) -> None:
    assert fmt.difficulty(value) == text


def test_difficulty_of_regtest_levels() -> None:
    d = difficulty_of_level(256)
    assert fmt.difficulty(f"{d.numerator}/{d.denominator}") == "2.33e-10"
    assert fmt.difficulty(difficulty_of_level(224)) == "1"
    assert fmt.difficulty(difficulty_of_level(200)) == "16.8 M"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "—"),
        (-3, "0s"),
        (0, "0s"),
        (59.9, "59s"),
        (60, "1m 00s"),
        (192, "3m 12s"),
        (3600, "1h 00m"),
        (7385, "2h 03m"),
        (86400 * 3 + 3600 * 4 + 59, "3d 4h"),
    ],
)
def test_age_shows_the_two_largest_units(seconds: float | None, text: str) -> None:
    assert fmt.age(seconds) == text


def test_ago_is_relative_to_the_given_now() -> None:
    assert fmt.ago(100.0, 292.0) == "3m 12s ago"
    assert fmt.ago(None, 292.0) == "—"


def test_amounts_are_exact() -> None:
    assert fmt.sats(1_234_567) == "1,234,567 sat"
    assert fmt.sats(None) == "—"
    assert fmt.btc(5_000_000_000) == "50 BTC"
    assert fmt.btc(312_500_000) == "3.125 BTC"
    assert fmt.btc(5_000_012_345, unit=False) == "50.00012345"
    assert fmt.btc(1) == "0.00000001 BTC"
    assert fmt.btc(-150_000_000) == "-1.5 BTC"
    assert fmt.btc(210_000_000_000_000) == "2,100,000 BTC"
    assert fmt.coins(999_999) == "999,999 sat"
    assert fmt.coins(1_000_000) == "0.01 BTC"


@given(st.integers(min_value=-(10**16), max_value=10**16))
def test_btc_text_is_exactly_the_amount(amount: int) -> None:
    text = fmt.btc(amount, unit=False).replace(",", "")
    whole, _, frac = text.lstrip("-").partition(".")
    value = int(whole) * 10**8 + int((frac or "0").ljust(8, "0"))
    assert (-value if text.startswith("-") else value) == amount


def test_prices_and_estimates() -> None:
    assert fmt.price(None) == "—"
    assert fmt.price("0/1") == "0"
    assert fmt.price("5000000000/1940000000") == "2.58"
    assert fmt.price(Fraction(1, 214)) == "4.67e-3"
    assert fmt.price("1234567/1") == "1.23 M"
    assert fmt.estimated_sats(1000, "7/3") == 2333
    assert fmt.estimated_sats(1000, None) is None
    assert fmt.percent(3_211_804_117, 4_999_999_000) == "64%"
    assert fmt.percent(1, 0) == "—"


def test_ehash_and_hashes() -> None:
    assert fmt.ehash(1_048_576) == "1.05 M"
    assert fmt.ehash(None) == "—"
    assert (
        fmt.short_hash("00000752ff310ff861ca8e04e1ee276f32563c86f2aaadf4eff04713d02d1464") == "00000752…1464"
    )
    assert fmt.short_hash("01abcd") == "01abcd"
    assert fmt.short_hash(None) == "—"


def test_parse_fraction_rejects_garbage() -> None:
    with pytest.raises(ValueError):
        fmt.parse_fraction("one/two")
    with pytest.raises(ZeroDivisionError):
        fmt.parse_fraction("1/0")


def test_status_and_anonymity_colours() -> None:
    assert {s: fmt.status_style(s) for s in ("open", "won", "mature", "lost", "orphaned")} == {
        "open": "bold cyan",
        "won": "bold yellow",
        "mature": "bold green",
        "lost": "red",
        "orphaned": "bold magenta",
    }
    assert fmt.status_style("unknown") == ""
    assert [fmt.anonymity_style(n) for n in (0, 1, 2, 4, 5)] == [
        "bold red",
        "bold red",
        "yellow",
        "yellow",
        "green",
    ]
