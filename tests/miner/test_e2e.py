"""End to end: node + pool + `nutx mine --cpu` as real processes. (Earning, redeeming exactly
floor(ehash × price) and withdrawing is `tests/wallet/test_e2e.py`; a SIGKILLed miner is
`tests/miner/test_crash.py`.)"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.helpers.procs import NutxProcess
from tests.helpers.stack import node

pytestmark = pytest.mark.e2e

RETRYING = "pool not reachable"
"""What the miner logs each time it finds the pool gone and schedules another attempt."""


def test_miner_reconnects_when_the_pool_restarts(tmp_path: Path) -> None:
    no_blocks = ("--network-difficulty", "1000000", "--start-level", "244")

    with node(tmp_path) as stack:

        def accepted() -> int:
            try:
                stats = httpx.get(f"{stack.admin_url}/v1/pool/stats", timeout=2).json()
            except httpx.HTTPError:
                return 0
            return sum(c["accepted"] for c in stats["channels"])

        miner = None
        try:
            with stack.pool(*no_blocks, log="pool1.log"):
                miner = NutxProcess(
                    stack.miner_args(tmp_path / "wallet", "--user", "dave"), tmp_path / "miner.log"
                )
                miner.wait_until(lambda: accepted() > 0, 60, "earning shares before the restart")
                retries = miner.output().count(RETRYING)
            # the miner waits for the pool, it does not exit: wait_until fails if it does
            miner.wait_until(
                lambda: miner.output().count(RETRYING) > retries, 60, "retrying the stopped pool"
            )
            with stack.pool(*no_blocks, log="pool2.log"):
                miner.wait_until(lambda: accepted() > 0, 60, "earning shares after the restart")
                stats = httpx.get(f"{stack.admin_url}/v1/pool/stats", timeout=2).json()
                assert [c["user"] for c in stats["channels"]] == ["dave"]
                assert miner.running()
        finally:
            if miner is not None:
                miner.stop()
