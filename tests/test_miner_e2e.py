"""End to end: node + pool + `nutx mine --cpu` as real processes; the pool wins epochs, the miner's
ehash redeems for exactly floor(ehash × price) and the sats melt on the fake Lightning backend."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from nutx_cli.mint.lightning import FakeBackend
from nutx_cli.wallet.wallet import Wallet
from tests.procs import NutxProcess, free_port, nutx_process, port_open

pytestmark = pytest.mark.e2e


def _cli(home: Path, *args: str) -> str:
    out = subprocess.run([sys.executable, "-m", "nutx_cli", *args], capture_output=True, text=True, timeout=120,
                         check=False, env={**os.environ, "HOME": str(home)})
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Traceback" not in out.stderr
    return out.stdout


def _wait(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


def _sats(wallet_dir: Path) -> int:
    wallet = Wallet.open(wallet_dir)
    try:
        return wallet.balance().sats
    finally:
        wallet.close()


def test_cpu_miner_earns_redeems_and_withdraws(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    node_dir, pool_dir, wallet_dir = tmp_path / "node", tmp_path / "pool", tmp_path / "wallet"
    rpc, sv2, http, admin = (free_port() for _ in range(4))
    with nutx_process(["node", "start", "--data-dir", str(node_dir), "--rpc-port", str(rpc)], tmp_path / "node.log",
                      ready=lambda: (node_dir / ".cookie").exists() and port_open(rpc)):
        node_rpc = f"http://{(node_dir / '.cookie').read_text().strip()}@127.0.0.1:{rpc}"
        pool_args = ["pool", "start", "--data-dir", str(pool_dir), "--node-rpc", node_rpc, "--sv2-port", str(sv2),
                     "--http-port", str(http), "--admin-port", str(admin), "--maturity", "2",
                     "--network-difficulty", "1/3000"]
        with nutx_process(pool_args, tmp_path / "pool.log",
                          ready=lambda: (pool_dir / "pool.json").exists() and port_open(admin)):
            miner_args = ["mine", "--cpu", "--threads", "1", "--wallet-dir", str(wallet_dir),
                          "--pool-dir", str(pool_dir), "--user", "alice"]
            with nutx_process(miner_args, tmp_path / "miner.log", env={"HOME": str(home)}) as miner:

                def mature_epochs() -> list[dict]:  # type: ignore[type-arg]
                    epochs = httpx.get(f"http://127.0.0.1:{http}/v1/mining/epochs", timeout=5).json()["epochs"]
                    return [e for e in epochs if e["status"] == "mature"]

                _wait(lambda: len(mature_epochs()) >= 1, 120, "a mature epoch")
                stats = httpx.get(f"http://127.0.0.1:{admin}/v1/pool/stats", timeout=5).json()
                assert [c["user"] for c in stats["channels"]] == ["alice"]
                assert stats["channels"][0]["accepted"] > 0
                assert miner.stop() == 0
                assert "shares" in miner.output() and "Traceback" not in miner.output()

            async def expected_sats() -> tuple[int, int]:
                wallet = Wallet.open(wallet_dir)
                try:
                    await wallet.sync_epochs()
                    balance = wallet.balance()
                    mature = [e for e in balance.epochs if e.status == "mature"]
                    return sum(e.estimated_sats or 0 for e in mature), balance.sats
                finally:
                    wallet.close()

            expected, sats_before = asyncio.run(expected_sats())
            assert expected > 0
            _cli(home, "wallet", "redeem", "--wallet-dir", str(wallet_dir))
            sats = _sats(wallet_dir)
            assert sats == sats_before + expected  # floor(ehash × price), per epoch

            invoice = FakeBackend().create_invoice(10_000_000, "withdrawal", 3600).request  # 10,000 sat
            withdrawn = _cli(home, "wallet", "withdraw", invoice, "--wallet-dir", str(wallet_dir))
            assert "paid" in withdrawn
            assert _sats(wallet_dir) <= sats - 10_000


def test_miner_reconnects_when_the_pool_restarts(tmp_path: Path) -> None:
    node_dir, pool_dir, wallet_dir = tmp_path / "node", tmp_path / "pool", tmp_path / "wallet"
    rpc, sv2, http, admin = (free_port() for _ in range(4))
    with nutx_process(["node", "start", "--data-dir", str(node_dir), "--rpc-port", str(rpc)], tmp_path / "node.log",
                      ready=lambda: (node_dir / ".cookie").exists() and port_open(rpc)):
        node_rpc = f"http://{(node_dir / '.cookie').read_text().strip()}@127.0.0.1:{rpc}"
        pool_args = ["pool", "start", "--data-dir", str(pool_dir), "--node-rpc", node_rpc, "--sv2-port", str(sv2),
                     "--http-port", str(http), "--admin-port", str(admin), "--network-difficulty", "1000000",
                     "--start-level", "244"]

        def accepted() -> int:
            try:
                stats = httpx.get(f"http://127.0.0.1:{admin}/v1/pool/stats", timeout=2).json()
            except httpx.HTTPError:
                return 0
            return sum(c["accepted"] for c in stats["channels"])

        miner_args = ["mine", "--cpu", "--threads", "1", "--wallet-dir", str(wallet_dir), "--pool-dir", str(pool_dir)]
        with nutx_process(pool_args, tmp_path / "pool1.log", ready=lambda: port_open(admin)) as pool:
            miner = NutxProcess(miner_args, tmp_path / "miner.log")
            try:
                _wait(lambda: accepted() > 0, 60, "shares before the restart")
                assert pool.stop() == 0
                time.sleep(1.5)
                assert miner.running()  # the miner waits for the pool, it does not exit
                with nutx_process(pool_args, tmp_path / "pool2.log", ready=lambda: port_open(admin)):
                    _wait(lambda: accepted() > 0, 60, "shares after the restart")
                    assert miner.running()
            finally:
                miner.stop()
        assert "connecting to the pool" in miner.output() or "retrying" in miner.output()
