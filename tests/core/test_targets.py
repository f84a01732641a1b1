"""Targets, levels, difficulty, work, nBits and SV1 difficulty (DESIGN.md §3)."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nutx_cli.core import targets as t


def test_ladder_ends() -> None:
    assert t.target_of_level(1) == 1
    assert (
        t.target_of_level(224)
        == t.T_MAX
        == 0x00000000FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF
    )
    assert (
        t.T_MAX == 26959946667150639794667015087019630673637144422540572481103610249215
    )  # the draft's U256(T_max)
    assert t.target_of_level(256) == 2**256 - 1


@given(st.integers(min_value=1, max_value=256))
def test_level_target_round_trip(k: int) -> None:
    assert t.level_of_target(t.target_of_level(k)) == k


@pytest.mark.parametrize("k", [0, 257, -1])
def test_level_outside_ladder(k: int) -> None:
    with pytest.raises(t.TargetError, match="outside the ladder"):
        t.target_of_level(k)


@pytest.mark.parametrize("target", [0, 6, 2**20, 2**256])
def test_non_ladder_target_refused(target: int) -> None:
    with pytest.raises(t.TargetError):
        t.level_of_target(target)


def test_difficulty_exact() -> None:
    assert t.difficulty_of_level(224) == 1
    assert t.difficulty_of_level(223) == Fraction(2**224 - 1, 2**223 - 1)
    assert t.difficulty_of_level(256) < 1
    # doubling the work roughly doubles difficulty, exactly as a fraction
    assert t.difficulty_of_level(200) / t.difficulty_of_level(201) == Fraction(2**201 - 1, 2**200 - 1)


def test_work_and_amount() -> None:
    assert t.work_of_level(256) == 1
    assert t.work_of_level(224) == 2**32
    assert t.amount_of_level(256, 256) == 1
    assert t.amount_of_level(193, 256) == 2**63
    assert t.amount_of_level(224, 224) == 1
    with pytest.raises(t.TargetError, match="not offered"):
        t.amount_of_level(192, 256)
    with pytest.raises(t.TargetError):
        t.amount_of_level(225, 224)


@given(st.binary(min_size=32, max_size=32))
def test_level_of_hash_is_the_hardest_met(h: bytes) -> None:
    k = t.level_of_hash(h)
    assert t.meets(h, t.target_of_level(k))
    if k > 1:
        assert not t.meets(h, t.target_of_level(k - 1))


def test_hash_is_little_endian() -> None:
    h = bytes(31) + b"\x01"  # most significant byte last
    assert t.hash_to_int(h) == 2**248
    assert t.level_of_hash(h) == 249
    with pytest.raises(t.TargetError):
        t.hash_to_int(b"\x00" * 31)


def test_nbits_known_values() -> None:
    assert t.nbits_to_target(0x1D00FFFF) == 0xFFFF * 2**208
    assert t.nbits_to_target(0x207FFFFF) == 0x7FFFFF * 2**232  # regtest pow limit
    assert t.target_to_nbits(2**224 - 1) == 0x1D00FFFF  # lossy, DESIGN §3
    assert t.nbits_to_target(t.target_to_nbits(2**224 - 1)) == 0xFFFF * 2**208
    assert t.target_to_nbits(0x7FFFFF * 2**232) == 0x207FFFFF
    assert t.target_to_nbits(0x80) == 0x02008000  # sign bit forces one more byte
    with pytest.raises(t.TargetError, match="negative"):
        t.nbits_to_target(0x04923456)
    with pytest.raises(t.TargetError, match="overflows"):
        t.nbits_to_target(0x23000001)


def _canonical_nbits() -> st.SearchStrategy[int]:
    """Every valid compact value: the forms target_to_nbits produces (normalized mantissa, no sign bit)."""

    def build(size: int, mantissa: int) -> int:
        return (size << 24) | mantissa

    return st.builds(
        build, st.integers(min_value=3, max_value=32), st.integers(min_value=0x010000, max_value=0x7FFFFF)
    )


@given(_canonical_nbits())
def test_nbits_target_nbits_round_trip(nbits: int) -> None:
    assert t.target_to_nbits(t.nbits_to_target(nbits)) == nbits


def test_small_targets_are_exact_in_compact_form() -> None:
    for target in range(1, 0x10000):
        nbits = t.target_to_nbits(target)
        assert t.nbits_to_target(nbits) == target
        assert t.target_to_nbits(t.nbits_to_target(nbits)) == nbits


@given(st.integers(min_value=1, max_value=2**256 - 1))
def test_nbits_of_any_target_never_exceeds_it(target: int) -> None:
    expanded = t.nbits_to_target(t.target_to_nbits(target))
    assert expanded <= target
    assert target - expanded < 2 ** max(0, target.bit_length() - 16)


def test_sv1_difficulty() -> None:
    assert t.sv1_difficulty_to_target(1) == 0x00000000FFFF0000000000000000000000000000000000000000000000000000
    assert t.target_to_sv1_difficulty(0xFFFF * 2**208) == 1
    # fractional SV1 difficulty for CPU miners
    assert t.sv1_difficulty_to_target(Fraction(1, 1024)) == 0xFFFF * 2**218
    assert t.sv1_difficulty_to_target(Fraction(1, 2**40)) == 2**256 - 1  # clamped to a U256
    with pytest.raises(t.TargetError):
        t.sv1_difficulty_to_target(0)


def test_network_difficulty_target() -> None:
    assert t.target_of_difficulty(1) == t.T_MAX
    assert t.target_of_difficulty(2) == t.T_MAX // 2
    assert t.target_of_difficulty(Fraction(1, 2**40)) == 2**256 - 1
    with pytest.raises(t.TargetError):
        t.target_of_difficulty(-1)


def test_hashrate_estimate() -> None:
    # 60 shares at difficulty 1 in 60 s: 2^32 H/s
    assert t.hashrate_estimate(60, Fraction(1), 60) == 2**32
    assert t.hashrate_estimate(0, Fraction(1), 60) == 0
    with pytest.raises(t.TargetError):
        t.hashrate_estimate(1, Fraction(1), 0)
