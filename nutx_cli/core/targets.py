"""Targets, levels, difficulty and work (DESIGN.md §3).

A level k names the target T_k = 2^k - 1. Difficulty is always D = T_max / T with the draft's
T_max = 2^224 - 1, as an exact Fraction. Bitcoin's other convention (0xFFFF * 2^208 / T, used by
bitcoind's getdifficulty and Stratum V1's set_difficulty) is converted only at those boundaries.
"""

from __future__ import annotations

from fractions import Fraction

from nutx_cli.errors import NutxError

T_MAX = 2**224 - 1
"""The draft's maximum target, level 224."""

SV1_DIFF1_TARGET = 0xFFFF * 2**208
"""Stratum V1 / bitcoind difficulty 1 (0x00000000FFFF0000…0), not T_max."""

U256_MAX = 2**256 - 1
K_MAX_MAINNET = 224
K_MAX_REGTEST = 256
"""k_max off regtest and on regtest; `core.networks` says which network uses which."""
AMOUNT_LEVELS = 64
"""Ehash keysets have 64 power-of-two amounts, so levels harder than k_max - 63 are not offered."""


class TargetError(NutxError, ValueError):
    """A level, target, nBits or difficulty outside what the protocol allows."""


def target_of_level(k: int) -> int:
    """T_k = 2^k - 1 for 1 <= k <= 256."""
    if not isinstance(k, int) or not 1 <= k <= 256:
        raise TargetError(f"level {k!r} is outside the ladder 1..256")
    return (1 << k) - 1


def level_of_target(target: int) -> int:
    """The level k with T_k == target; targets that are not exactly 2^k - 1 are refused."""
    if not 1 <= target <= U256_MAX or target & (target + 1):
        raise TargetError(f"target {target:#x} is not a ladder target 2^k - 1")
    return (target + 1).bit_length() - 1


def level_at_or_below(target: int) -> int:
    """The easiest ladder level whose target does not exceed `target` (clamping to a miner's max_target)."""
    if target < 1:
        raise TargetError("a target must be at least 1")
    return min((target + 1).bit_length() - 1, 256)


def difficulty_of_target(target: int) -> Fraction:
    """D = T_max / T, exact."""
    if target < 1:
        raise TargetError("a target must be at least 1")
    return Fraction(T_MAX, target)


def difficulty_of_level(k: int) -> Fraction:
    """D_k = T_max / T_k, exact."""
    return difficulty_of_target(target_of_level(k))


def target_of_difficulty(difficulty: Fraction | int) -> int:
    """Network target for a nutx difficulty: floor(T_max / D), at most 2^256 - 1."""
    d = Fraction(difficulty)
    if d <= 0:
        raise TargetError(f"difficulty must be positive, got {difficulty}")
    return max(1, min(U256_MAX, int(T_MAX / d)))


def work_of_level(k: int) -> int:
    """Expected hashes for one level-k share: exactly 2^(256 - k)."""
    target_of_level(k)
    return 1 << (256 - k)


def hash_to_int(header_hash: bytes) -> int:
    """A double-SHA256 header hash read as a little-endian U256, as Bitcoin compares it to targets."""
    if len(header_hash) != 32:
        raise TargetError(f"a header hash has 32 bytes, got {len(header_hash)}")
    return int.from_bytes(header_hash, "little")


def level_of_hash(header_hash: bytes) -> int:
    """The hardest level k such that the hash meets T_k (h <= 2^k - 1)."""
    h = hash_to_int(header_hash)
    return max(1, h.bit_length())


def meets(header_hash: bytes, target: int) -> bool:
    return hash_to_int(header_hash) <= target


def amount_of_level(k: int, k_max: int) -> int:
    """Ehash amount of a level-k share: 2^(k_max - k); one unit is the work of a level-k_max share."""
    target_of_level(k)
    if not k_max - (AMOUNT_LEVELS - 1) <= k <= k_max:
        raise TargetError(f"level {k} is not offered with k_max={k_max} (allowed {k_max - 63}..{k_max})")
    return 1 << (k_max - k)


def target_to_nbits(target: int) -> int:
    """Compact form of a target (lossy: keeps the top 3 significant bytes, rounds down)."""
    if not 0 <= target <= U256_MAX:
        raise TargetError("target must be a U256")
    size = (target.bit_length() + 7) // 8
    if size <= 3:
        mantissa = target << (8 * (3 - size))
    else:
        mantissa = target >> (8 * (size - 3))
    if mantissa & 0x00800000:
        mantissa >>= 8
        size += 1
    return (size << 24) | mantissa


def nbits_to_target(nbits: int) -> int:
    """Expand compact nBits; negative or overflowing values are refused as bitcoind does."""
    if not 0 <= nbits <= 0xFFFFFFFF:
        raise TargetError(f"nBits {nbits!r} is not a U32")
    size = nbits >> 24
    mantissa = nbits & 0x007FFFFF
    if mantissa and nbits & 0x00800000:
        raise TargetError(f"nBits {nbits:#010x} is negative")
    if size <= 3:
        target = mantissa >> (8 * (3 - size))
    else:
        target = mantissa << (8 * (size - 3))
    if target > U256_MAX:
        raise TargetError(f"nBits {nbits:#010x} overflows 256 bits")
    return target


def sv1_difficulty_to_target(difficulty: Fraction | float) -> int:
    """Stratum V1 difficulty (diff 1 = 0xFFFF·2^208) to a target, floor, clamped to a U256."""
    d = Fraction(difficulty)
    if d <= 0:
        raise TargetError(f"SV1 difficulty must be positive, got {difficulty}")
    return max(1, min(U256_MAX, int(SV1_DIFF1_TARGET / d)))


def target_to_sv1_difficulty(target: int) -> Fraction:
    """Stratum V1 difficulty of a target, exact: 0xFFFF·2^208 / T."""
    if target < 1:
        raise TargetError("a target must be at least 1")
    return Fraction(SV1_DIFF1_TARGET, target)


def hashrate_estimate(shares: int, difficulty: Fraction, seconds: Fraction | float) -> Fraction:
    """The draft's estimator ĥ = |S| · 2^32 · D / t, in hashes per second."""
    t = Fraction(seconds)
    if t <= 0:
        raise TargetError("the window must be longer than zero seconds")
    return Fraction(shares) * (1 << 32) * difficulty / t
