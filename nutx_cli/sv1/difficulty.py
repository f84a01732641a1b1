"""SV1 difficulty numbers at the proxy's boundary (spec/stratum.md §7.5).

SV1 difficulty 1 is the target 0xFFFF·2^208 ("bdiff"), not the draft's T_max, and miners read
it as a JSON number that may be far below 1 (CPU miners on regtest). Upstream targets are always
ladder targets T_k, whose SV1 difficulty is not a float; we send the next float *up*, so the target
a miner reconstructs (DIFF1 / d) never exceeds T_k, and still check every share exactly against T_k.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

from nutx_cli.core.targets import TargetError, sv1_difficulty_to_target, target_to_sv1_difficulty


def difficulty_for_target(target: int) -> float:
    """The smallest float d with DIFF1 / d <= target, i.e. SV1 difficulty rounded up."""
    exact = target_to_sv1_difficulty(target)
    d = float(exact)
    while Fraction(d) < exact:
        d = math.nextafter(d, math.inf)
    return d


def target_of_suggestion(value: Any) -> int:
    """The target a miner's suggested SV1 difficulty (JSON number or numeric string) stands for.

    Decimal values are read exactly (`0.001` is 1/1000, as the miner meant it, not the float).
    """
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise TargetError(f"difficulty must be a number, got {value!r}")
    try:
        d = Fraction(str(value))
    except (ValueError, ZeroDivisionError):
        raise TargetError(f"difficulty must be a number, got {value!r}") from None
    return sv1_difficulty_to_target(d)
