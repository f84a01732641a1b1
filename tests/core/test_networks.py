"""The per-network rules of core/networks.py: one table, checked against Bitcoin Core's and BOLT 11's values."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest

from nutx_cli.chain.address import AddressError, address_to_script, p2wpkh_address
from nutx_cli.core.networks import RULES, Network, NetworkError, rules
from nutx_cli.core.targets import target_of_level
from nutx_cli.sv1.difficulty import difficulty_for_target

PUBKEY = bytes.fromhex("0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798")


def test_the_table() -> None:
    got = {
        n.value: (r.chain, r.k_max, r.bech32_hrp, r.bolt11_prefix, r.rpc_port, r.min_maturity, r.gbt_rules)
        for n, r in RULES.items()
    }
    assert got == {
        "regtest": ("regtest", 256, "bcrt", "bcrt", 18443, 1, ("segwit",)),
        "signet": ("signet", 224, "tb", "tbs", 38332, 100, ("segwit", "signet")),
        "testnet4": ("testnet4", 224, "tb", "tb", 48332, 100, ("segwit",)),
        "mainnet": ("main", 224, "bc", "bc", 8332, 100, ("segwit",)),
    }
    assert all(r.default_maturity == 100 for r in RULES.values())
    only_regtest = [(n, r.simulated_difficulty, r.fake_lightning) for n, r in RULES.items()]
    assert only_regtest == [(n, n == Network.REGTEST, n == Network.REGTEST) for n in Network]
    assert [n for n, r in RULES.items() if r.requires_lightning] == [Network.MAINNET]


def test_unknown_network() -> None:
    with pytest.raises(NetworkError, match="unknown network 'testnet'; use one of regtest, signet, testnet4"):
        rules("testnet")


def test_cookie_paths() -> None:
    home = Path("/home/op")
    assert rules("mainnet").default_cookie(home) == Path("/home/op/.bitcoin/.cookie")
    assert rules("signet").default_cookie(home) == Path("/home/op/.bitcoin/signet/.cookie")
    assert rules("testnet4").default_cookie(home) == Path("/home/op/.bitcoin/testnet4/.cookie")


def test_payout_addresses_per_network() -> None:
    """The pool's own payout address is valid on its network and refused on the others (bc/tb/bcrt)."""
    for network in Network:
        address = p2wpkh_address(PUBKEY, network)
        assert address.startswith(rules(network).bech32_hrp + "1q")
        address_to_script(address, network)
    with pytest.raises(AddressError, match="is an address of signet or testnet4, not mainnet"):
        address_to_script(p2wpkh_address(PUBKEY, "signet"), "mainnet")
    with pytest.raises(AddressError, match="is an address of regtest, not signet"):
        address_to_script(p2wpkh_address(PUBKEY, "regtest"), "signet")


def test_sv1_difficulty_of_the_easiest_share() -> None:
    """Off regtest level 224 is SV1 difficulty 0xFFFF·2^208 / (2^224 − 1), just under 1; the float sent is the
    next one up, so the target a miner derives never exceeds T_224."""
    exact = rules("mainnet").easiest_sv1_difficulty
    assert exact == Fraction(0xFFFF * 2**208, 2**224 - 1)
    sent = difficulty_for_target(target_of_level(224))
    assert Fraction(sent) >= exact and sent < 1
    assert int(Fraction(0xFFFF * 2**208) / Fraction(sent)) <= target_of_level(224)
    assert float(rules("regtest").easiest_sv1_difficulty) == pytest.approx(2.3283e-10, rel=1e-4)


def info(chain: str, ibd: bool = False) -> dict[str, object]:
    """The fields of bitcoind's getblockchaininfo the check reads."""
    return {"chain": chain, "blocks": 1000, "headers": 880000, "initialblockdownload": ibd}


def test_node_checks() -> None:
    rules("mainnet").check_node(info("main"))
    rules("signet").check_node(info("signet"))
    rules("regtest").check_node(info("regtest", ibd=True))  # a fresh regtest chain is always "in IBD"
    with pytest.raises(NetworkError, match="the node is on signet, not mainnet: .* or pass --network signet"):
        rules("mainnet").check_node(info("signet"))
    with pytest.raises(NetworkError, match="the node is on regtest, not testnet4"):
        rules("testnet4").check_node(info("regtest"))
    with pytest.raises(NetworkError, match=r"still syncing \(block 1000 of 880000 headers\)"):
        rules("mainnet").check_node(info("main", ibd=True))
    with pytest.raises(NetworkError, match="not mainnet"):
        rules("mainnet").check_node({})


def test_maturity_and_simulated_difficulty() -> None:
    rules("regtest").check_maturity(1)
    rules("signet").check_maturity(100)
    with pytest.raises(NetworkError, match="--maturity 99 is below 100"):
        rules("signet").check_maturity(99)
    rules("regtest").check_simulated_difficulty(True)
    rules("mainnet").check_simulated_difficulty(False)
    with pytest.raises(NetworkError, match="remove the flag"):
        rules("testnet4").check_simulated_difficulty(True)
