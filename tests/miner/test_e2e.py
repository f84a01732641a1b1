"""End to end: node + pool + `nutx mine --cpu` as real processes. (Earning, redeeming exactly
floor(ehash × price) and withdrawing is `tests/test_wallet_e2e.py`; a SIGKILLed miner is
`tests/test_miner_crash.py`.)"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.helpers.procs import NutxProcess
from tests.helpers.stack import node

pytestmark = pytest.mark.e2e


def _wait(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


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
                _wait(lambda: accepted() > 0, 60, "shares before the restart")
            time.sleep(1.5)
            assert miner.running()  # the miner waits for the pool, it does not exit
            with stack.pool(*no_blocks, log="pool2.log"):
                _wait(lambda: accepted() > 0, 60, "shares after the restart")
                stats = httpx.get(f"{stack.admin_url}/v1/pool/stats", timeout=2).json()
                assert [c["user"] for c in stats["channels"]] == ["dave"]
                assert miner.running()
        finally:
            if miner is not None:
                miner.stop()
