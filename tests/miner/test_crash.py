"""A miner killed between submit and Success loses no ehash: after a restart and the wallet's recovery
(NUT-09 restore of its pending shares), its ehash for the epoch equals the pool's ledger W_e."""

from __future__ import annotations

import asyncio
import random
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from nutx_cli.wallet.wallet import Wallet
from tests.helpers.procs import NutxProcess
from tests.helpers.stack import node_and_pool

pytestmark = pytest.mark.e2e


def test_sigkilled_miner_loses_no_ehash(tmp_path: Path) -> None:
    rng = random.Random(7)
    wallet_dir = tmp_path / "wallet"
    # no block can be found (network difficulty 10^6): one open epoch collects every share
    with node_and_pool(
        tmp_path, "--network-difficulty", "1000000", "--start-level", "246", "--shares-per-minute", "600"
    ) as stack:

        def epoch() -> dict[str, Any]:
            return dict(httpx.get(f"{stack.mint_url}/v1/mining/epochs", timeout=5).json()["epochs"][0])

        for run in range(3):
            before = epoch()["work"]
            miner = NutxProcess(stack.miner_args(wallet_dir), tmp_path / f"miner{run}.log")
            try:
                miner.wait_until(lambda: epoch()["work"] > before, timeout=60, what="earning ehash")  # noqa: B023
                time.sleep(rng.uniform(0.1, 1.5))
            finally:
                miner.kill()  # SIGKILL while shares are in flight

        ledger = epoch()
        assert ledger["status"] == "open" and ledger["work"] > 0

        async def recovered_ehash() -> tuple[int, int]:
            wallet = Wallet.open(wallet_dir)
            try:
                pending_before = len(wallet.store.pending_shares())
                await wallet.recover_pending()
                return wallet.balance().ehash_by_epoch.get(ledger["epoch"], 0), pending_before
            finally:
                wallet.close()

        ehash, pending_before = asyncio.run(recovered_ehash())
        assert ehash == ledger["work"], (
            f"wallet {ehash} ehash vs pool ledger {ledger['work']} ({pending_before} pending)"
        )
