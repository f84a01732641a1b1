"""Vardiff over levels: convergence and no oscillation for simulated Poisson miners (DESIGN §3)."""

from __future__ import annotations

import random

import pytest

from nutx_cli.core.targets import U256_MAX, target_of_level
from nutx_cli.core.vardiff import Vardiff, VardiffConfig, VardiffError, ideal_level

REGTEST = VardiffConfig(k_max=256)
HOUR = 3600.0


def simulate(
    hashrate: float,
    seed: int,
    *,
    nominal: float = 0.0,
    hours: float = 24.0,
    config: VardiffConfig = REGTEST,
    max_target: int = U256_MAX,
) -> tuple[Vardiff, list[tuple[float, int]]]:
    """A miner whose level-k shares arrive as a Poisson process of rate h·2^(k−256); the pool checks every 10 s."""
    rng = random.Random(seed)
    v = Vardiff(config, nominal, max_target, 0.0)
    changes = [(0.0, v.level)]
    t, tick, end = 0.0, 10.0, hours * HOUR
    while t < end:
        arrival = t + rng.expovariate(hashrate * 2.0 ** (v.level - 256))
        if arrival > tick:
            t, tick = tick, tick + 10.0
            new = v.check(t)
        else:
            t = arrival
            new = v.on_share(t)
        if new is not None:
            changes.append((t, new))
    return v, changes


@pytest.mark.parametrize("hashrate", [1e3, 1e6, 1e9])
@pytest.mark.parametrize("nominal", [False, True])
def test_converges_within_one_level_and_then_stays(hashrate: float, nominal: bool) -> None:
    ideal = ideal_level(hashrate, 6)
    for seed in range(8):
        v, changes = simulate(hashrate, seed, nominal=hashrate if nominal else 0.0)
        assert abs(v.level - ideal) <= 1, (seed, changes)
        settled = [c for c in changes if c[0] > 3 * HOUR]
        assert settled == [], f"seed {seed}: level still moving after 3 h: {changes}"
        levels = [k for _, k in changes]
        flips = [i for i in range(2, len(levels)) if levels[i] == levels[i - 2]]
        assert len(flips) <= 1, f"seed {seed}: back and forth {levels}"


def test_start_level_from_nominal_hashrate_and_default() -> None:
    assert Vardiff(REGTEST, 1e6, U256_MAX, 0).level == round(ideal_level(1e6, 6)) == 233
    assert Vardiff(REGTEST, 0.0, U256_MAX, 0).level == 236
    assert Vardiff(REGTEST, float("nan"), U256_MAX, 0).level == 236
    assert Vardiff(VardiffConfig(k_max=256, start_level=250), 0.0, U256_MAX, 0).level == 250


def test_ladder_and_max_target_clamp() -> None:
    # a huge miner is held at the hardest level offered, k_max − 63
    assert Vardiff(REGTEST, 1e30, U256_MAX, 0).level == 193
    # a tiny miner on mainnet stops at k_max = 224
    assert Vardiff(VardiffConfig(k_max=224, start_level=224), 1.0, U256_MAX, 0).level == 224
    # max_target is honoured: never an easier level than the miner accepts
    v, changes = simulate(1e3, 1, max_target=target_of_level(230), hours=2)
    assert all(k <= 230 for _, k in changes)
    assert v.level == 230
    # a max_target between ladder targets clamps to the level below it
    assert Vardiff(REGTEST, 0.0, target_of_level(231) + 5, 0).ceiling == 231


def test_update_channel_lowers_level_to_new_max_target() -> None:
    v = Vardiff(REGTEST, 0.0, U256_MAX, 0)
    assert v.update(0.0, target_of_level(220), 5.0) == 220
    assert v.level == 220
    assert v.update(0.0, target_of_level(220), 6.0) is None


def test_follows_a_real_hashrate_change() -> None:
    rng_seed = 3
    v, _ = simulate(1e6, rng_seed, hours=4)
    before = v.level
    rng = random.Random(rng_seed)
    t = 4 * HOUR
    for _ in range(2000):  # the miner becomes 64× faster
        t += rng.expovariate(64e6 * 2.0 ** (v.level - 256))
        v.on_share(t)
    assert abs(v.level - ideal_level(64e6, 6)) <= 1
    assert v.level <= before - 5


def test_bad_settings_are_refused() -> None:
    with pytest.raises(VardiffError):
        VardiffConfig(k_max=256, shares_per_minute=0)
    with pytest.raises(VardiffError):
        VardiffConfig(k_max=224, start_level=236)
    with pytest.raises(VardiffError):
        Vardiff(REGTEST, 0.0, target_of_level(100), 0)


def test_a_max_target_no_level_meets_is_a_vardiff_error() -> None:
    """0 (below every target) is refused like any too-hard max_target, on open and on update."""
    for hopeless in (0, -1, target_of_level(REGTEST.k_min) - 1):
        with pytest.raises(VardiffError, match="harder than the hardest level"):
            Vardiff(REGTEST, 0.0, hopeless, 0)
    v = Vardiff(REGTEST, 0.0, 2**256 - 1, 0)
    with pytest.raises(VardiffError):
        v.update(0.0, 0, 1)
    assert v.ceiling == 256 and v.update(0.0, target_of_level(REGTEST.k_min), 2) == REGTEST.k_min
