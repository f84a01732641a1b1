"""`nutx pool start --network …`: what each network refuses, as one-line errors, before anything starts.

The chain check runs against the real embedded node (it is regtest, so a signet pool pointed at it is
refused); no signet, testnet4 or mainnet bitcoind can run here.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from nutx_cli.chain.address import p2wpkh_address
from tests.helpers.stack import node

PUBKEY = bytes.fromhex("0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798")


def refused(tmp: Path, *flags: str) -> str:
    """The one error line `nutx pool start FLAGS` exits with (HOME is a temp dir)."""
    out = subprocess.run(
        [sys.executable, "-m", "nutx_cli", "pool", "start", "--data-dir", str(tmp / "pool"), *flags],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "HOME": str(tmp)},
    )
    assert out.returncode == 1 and "Traceback" not in out.stderr, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), out.stderr
    assert not (tmp / "pool").exists()
    return lines[0].removeprefix("error: ")


def test_what_each_network_refuses(tmp_path: Path) -> None:
    assert refused(tmp_path, "--network", "mainnet") == (
        "a mainnet mint pays real sats and needs a real Lightning backend: pass --lightning lnbits "
        "--lnbits-url URL --lnbits-key ADMIN_KEY, or --lightning lnd --lnd-url URL --lnd-macaroon PATH "
        "--lnd-cert PATH"
    )
    assert "only runs on regtest, not mainnet" in refused(
        tmp_path, "--network", "mainnet", "--lightning", "fake"
    )
    assert refused(tmp_path, "--network", "signet", "--maturity", "99").startswith(
        "--maturity 99 is below 100"
    )
    assert "on testnet4 the difficulty is the chain's own: remove the flag" in refused(
        tmp_path, "--network", "testnet4", "--network-difficulty", "1/100"
    )
    regtest_address = p2wpkh_address(PUBKEY, "regtest")
    assert refused(tmp_path, "--network", "signet", "--payout-address", regtest_address) == (
        f"--payout-address: {regtest_address!r} is an address of regtest, not signet"
    )
    assert "unknown network 'testnet'" in refused(tmp_path, "--network", "testnet")
    # off regtest the node is bitcoind, by default on its port with its cookie
    assert refused(tmp_path, "--network", "signet").startswith(
        f"no node cookie at {tmp_path}/.bitcoin/signet/.cookie"
    )


@pytest.mark.e2e
def test_a_pool_refuses_a_node_of_another_chain(tmp_path: Path) -> None:
    with node(tmp_path) as stack:
        flags = [
            "--node-rpc",
            f"http://127.0.0.1:{stack.rpc}",
            "--node-cookie",
            str(stack.node_dir / ".cookie"),
        ]
        assert refused(tmp_path, "--network", "signet", *flags) == (
            "the node is on regtest, not signet: point --node-rpc at a signet node or pass --network regtest"
        )
