"""End to end: real node, pool and `nutx mine --cpu` processes; the pool wins epochs, the miner is
killed mid-flight, and the wallet commands restore, redeem and withdraw what it earned (issue 7)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from nutx_cli.core.accounting import parse_price, redeem_value
from nutx_cli.mint.lightning import FakeBackend
from nutx_cli.wallet import Wallet
from tests.helpers.procs import NutxProcess
from tests.helpers.stack import node_and_pool

pytestmark = pytest.mark.e2e


def wallet_cmd(home: Path, *args: str, stdin: str | None = None) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "nutx_cli", "wallet", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "HOME": str(home)},
    )
    assert out.returncode == 0 and "Traceback" not in out.stderr, out.stdout + out.stderr
    return out.stdout


def epochs(http: str) -> dict[int, dict[str, Any]]:
    return {e["epoch"]: e for e in httpx.get(http + "/v1/mining/epochs", timeout=10).json()["epochs"]}


def ehash_by_epoch(wallet_dir: Path) -> dict[int, int]:
    wallet = Wallet.open(wallet_dir)
    try:
        return wallet.balance().ehash_by_epoch
    finally:
        wallet.close()


def test_cpu_miner_earns_redeems_and_withdraws_and_a_kill_loses_nothing(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {"HOME": str(home)}
    wallet_dir = tmp_path / "wallet"
    pool_flags = ("--start-level", "240", "--network-difficulty", "1/4096", "--maturity", "2")
    with node_and_pool(tmp_path, *pool_flags, pool_dir=home / ".nutx" / "pool", env=env) as stack:
        http = stack.mint_url
        miner = NutxProcess(
            ["mine", "--cpu", "--threads", "1", "--wallet-dir", str(wallet_dir)], tmp_path / "miner.log", env
        )
        try:
            miner.wait_until(
                lambda: any(e["status"] == "mature" for e in epochs(http).values()),
                90,
                "done (a mature epoch)",
            )
        finally:
            miner.stop(signal.SIGKILL)  # killed wherever it is: between a submit and its answer, too

        # the wallet remembers the pool's mint; restore settles what the kill left pending
        wallet_cmd(home, "restore", "--wallet-dir", str(wallet_dir))
        mint_epochs = epochs(http)
        held = ehash_by_epoch(wallet_dir)
        for n, e in mint_epochs.items():  # one miner: the wallet holds exactly the work the mint signed
            assert held.get(n, 0) == (0 if e["status"] in ("lost", "orphaned") else e["work"]), (n, e, held)

        mature = {n: e for n, e in mint_epochs.items() if e["status"] == "mature"}
        redeemed = wallet_cmd(home, "redeem", "--wallet-dir", str(wallet_dir))
        prices = {n: parse_price(e["price"]) for n, e in mature.items()}
        expected = sum(
            redeem_value([e["work"]], price) for n, e in mature.items() if (price := prices[n]) is not None
        )
        assert expected > 0 and all(p is not None for p in prices.values())
        assert f"redeemed: +{expected} sats" in redeemed
        assert sum(e["paid"] for e in epochs(http).values()) == expected

        invoice = FakeBackend().create_invoice(10_000_000, "payout", 3600).request
        withdrawn = wallet_cmd(home, "withdraw", invoice, "--wallet-dir", str(wallet_dir))
        assert "paid     10000 sats" in withdrawn
        left = expected - 10_000 - int(withdrawn.split("(fee ")[1].split(" ")[0])
        assert f"balance  {left} sats" in withdrawn

        # the database is lost: the seed phrase brings back the same balances
        words = wallet_cmd(home, "seed", "--wallet-dir", str(wallet_dir)).strip()
        before = ehash_by_epoch(wallet_dir)
        for f in wallet_dir.iterdir():
            f.unlink()
        restored = wallet_cmd(home, "restore", "--wallet-dir", str(wallet_dir), stdin=words + "\n")
        assert f"sats     {left}" in restored
        assert ehash_by_epoch(wallet_dir) == before
