"""A miner killed between submit and Success loses no ehash: after a restart and the wallet's recovery
(NUT-09 restore of its pending shares), its ehash for the epoch equals the pool's ledger W_e."""

from __future__ import annotations

import asyncio
import random
import time
from pathlib import Path

import httpx
import pytest

from nutx_cli.wallet.wallet import Wallet
from tests.procs import NutxProcess, free_port, nutx_process, port_open

pytestmark = pytest.mark.e2e


def test_sigkilled_miner_loses_no_ehash(tmp_path: Path) -> None:
    node_dir, pool_dir, wallet_dir = tmp_path / "node", tmp_path / "pool", tmp_path / "wallet"
    rpc, sv2, http, admin = (free_port() for _ in range(4))
    rng = random.Random(7)
    with nutx_process(["node", "start", "--data-dir", str(node_dir), "--rpc-port", str(rpc)], tmp_path / "node.log",
                      ready=lambda: (node_dir / ".cookie").exists() and port_open(rpc)):
        node_rpc = f"http://{(node_dir / '.cookie').read_text().strip()}@127.0.0.1:{rpc}"
        # no block can be found (network difficulty 10^6): one open epoch collects every share
        pool_args = ["pool", "start", "--data-dir", str(pool_dir), "--node-rpc", node_rpc, "--sv2-port", str(sv2),
                     "--http-port", str(http), "--admin-port", str(admin), "--network-difficulty", "1000000",
                     "--start-level", "246", "--shares-per-minute", "600"]
        with nutx_process(pool_args, tmp_path / "pool.log", ready=lambda: port_open(admin)):
            miner_args = ["mine", "--cpu", "--threads", "1", "--wallet-dir", str(wallet_dir),
                          "--pool-dir", str(pool_dir)]

            def work() -> int:
                return int(httpx.get(f"http://127.0.0.1:{http}/v1/mining/epochs", timeout=5).json()["epochs"][0]["work"])

            for run in range(3):
                before = work()
                miner = NutxProcess(miner_args, tmp_path / f"miner{run}.log")
                try:
                    miner.wait_until(lambda: work() > before, timeout=60, what="earning ehash")  # noqa: B023
                    time.sleep(rng.uniform(0.1, 1.5))
                finally:
                    miner.kill()  # SIGKILL while shares are in flight

            epoch = httpx.get(f"http://127.0.0.1:{http}/v1/mining/epochs", timeout=5).json()["epochs"][0]
            assert epoch["status"] == "open" and epoch["work"] > 0

            async def recovered_ehash() -> tuple[int, int]:
                wallet = Wallet.open(wallet_dir)
                try:
                    pending_before = len(wallet.store.pending_shares())
                    await wallet.recover_pending()
                    return wallet.balance().ehash_by_epoch.get(epoch["epoch"], 0), pending_before
                finally:
                    wallet.close()

            ehash, pending_before = asyncio.run(recovered_ehash())
            assert ehash == epoch["work"], f"wallet {ehash} ehash vs pool ledger {epoch['work']} ({pending_before} pending)"
