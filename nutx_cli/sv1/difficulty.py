"""SV1 difficulty numbers at the SV1 boundary of the proxy and the pool (spec/stratum.md §7.5).

SV1 difficulty 1 is the target 0xFFFF·2^208 ("bdiff"), not the draft's T_max, and miners read
it as a JSON number that may be far below 1 (CPU miners on regtest). Jobs are always at a ladder
level k (target T_k = 2^k − 1), sent as the power of two 2^(224−k): an integer for k ≤ 224, an exact
binary fraction above. Its target 0xFFFF·2^(208−(224−k)) = 2^k − 2^(k−16) lies inside level k, so
every share the miner sends meets T_k (it only skips the top 2^−16 of the level); shares are still
checked exactly against T_k.

What a miner suggests is bounded before any arithmetic: a line of text like `"1e9999999"` would
otherwise build a ten-million-digit number and stall every miner on the proxy.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction
from typing import Any

from nutx_cli.core.targets import (
    SV1_DIFF1_TARGET,
    U256_MAX,
    TargetError,
    sv1_difficulty_to_target,
    target_of_level,
)

MIN_SUGGESTION = Fraction(SV1_DIFF1_TARGET, U256_MAX)
"""The easiest meaningful SV1 difficulty (≈ 2.3283e-10): its target is 2^256 − 1."""
MAX_SUGGESTION = Fraction(SV1_DIFF1_TARGET)
"""The hardest meaningful SV1 difficulty (≈ 2.6960e67): its target is 1."""
MAX_SUGGESTION_TEXT = 100
"""Longest difficulty text read; DIFF1 itself is 68 digits."""
MAX_SHIFT = 300
"""A decimal text is (at most 100 digits) × 10^shift; beyond ±300 it is far outside the range above."""

_DECIMAL = re.compile(r"([+-]?)([0-9]*)(?:\.([0-9]*))?(?:[eE]([+-]?[0-9]+))?")


def difficulty_of_level(k: int) -> int | float:
    """The SV1 difficulty of level k: 2^(224−k), an int when it is whole (k ≤ 224), else an exact float."""
    return 1 << (224 - k) if k <= 224 else math.ldexp(1.0, 224 - k)


def max_target_for_suggestion(target: int) -> int:
    """The max_target a suggestion whose exact target is `target` allows: the easiest level T_k whose
    announced difficulty 2^(224−k) is still at least the suggested one (its target 0xFFFF·2^(k−16) ≤
    `target`, up to the 2^−50 a float's shortest decimal may be off by), so a miner that suggests 2^m is
    given exactly 2^m; else `target` itself."""
    whole = (target + (target >> 50)) // 0xFFFF  # 0xFFFF·2^(k−16) ≤ target ⟺ 2^(k−16) ≤ target // 0xFFFF
    return target_of_level(min(256, whole.bit_length() + 15)) if whole else target


def target_of_suggestion(value: Any) -> int:
    """The target a miner's suggested SV1 difficulty (JSON number or decimal string) stands for.

    Decimal values are read exactly (`0.001` is 1/1000, as the miner meant it, not the float). Raises
    TargetError, and only that, for anything else: not a number, not positive, or outside
    [MIN_SUGGESTION, MAX_SUGGESTION], where a target would leave the 256-bit range.
    """
    d = _suggested_difficulty(value)
    if d <= 0:
        raise TargetError(f"difficulty must be positive, got {_shown(value)}")
    if not MIN_SUGGESTION <= d <= MAX_SUGGESTION:
        raise _out_of_range(value)
    return sv1_difficulty_to_target(d)


def _suggested_difficulty(value: Any) -> Fraction:
    """The exact value of a JSON number or decimal string, with magnitudes bounded before they are built."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise TargetError(f"difficulty must be a number, got {_shown(value)}")
    if isinstance(value, int):
        if value > MAX_SUGGESTION:
            raise _out_of_range(value)
        return Fraction(value)
    if isinstance(value, float) and not math.isfinite(value):
        raise TargetError(f"difficulty must be a finite number, got {value}")
    text = repr(value) if isinstance(value, float) else value
    match = _DECIMAL.fullmatch(text) if len(text) <= MAX_SUGGESTION_TEXT else None
    if match is None or not (match[2] or match[3]):
        raise TargetError(f"difficulty must be a decimal number, got {_shown(value)}")
    sign, whole, fraction, exponent = match.groups()
    shift = int(exponent or 0) - len(fraction or "")
    if abs(shift) > MAX_SHIFT:
        raise _out_of_range(value)
    digits = int(whole + (fraction or "")) * (-1 if sign == "-" else 1)
    return Fraction(digits * 10**shift) if shift >= 0 else Fraction(digits, 10**-shift)


def _out_of_range(value: Any) -> TargetError:
    return TargetError(
        f"difficulty {_shown(value)} is out of range: it must be between {float(MIN_SUGGESTION):.5g} "
        f"and {float(MAX_SUGGESTION):.5g}"
    )


def _shown(value: Any) -> str:
    """A bounded rendering of what the miner sent, for error messages."""
    text = "a huge integer" if isinstance(value, int) and abs(value) >= 10**40 else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
