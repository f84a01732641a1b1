"""`nutx up` end to end, and the dashboard against a real pool with a real miner (issue 8)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from textual.widgets import DataTable

from nutx_cli.cli.tui import open_wallet_view
from nutx_cli.tui.app import DashboardApp
from nutx_cli.tui.client import PoolAdminClient
from nutx_cli.tui.model import DashboardModel
from nutx_cli.tui.panes import ChannelsPane, EpochsPane
from tests.procs import free_port, nutx_process, port_open
from tests.stack import node_and_pool
from tests.tui_recorded import screen_text

pytestmark = pytest.mark.e2e


def test_up_headless_runs_until_a_redeem_and_stops_its_children(tmp_path: Path) -> None:
    ports = [free_port() for _ in range(4)]
    args = [
        "up", "--headless", "--until-redeemed", "--timeout", "150", "--data-dir", str(tmp_path / "up"),
        "--network-difficulty", "1/2000", "--other-miner-every", "4", "--maturity", "2",
        "--rpc-port", str(ports[0]), "--sv2-port", str(ports[1]), "--http-port", str(ports[2]),
        "--admin-port", str(ports[3]),
    ]
    out = subprocess.run([sys.executable, "-m", "nutx_cli", *args], capture_output=True, text=True, timeout=200,
                         check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    text = out.stdout
    for expected in ("node   ready", "pool   ready", "miner  started", "another miner found block", " won: our block",
                     " mature after ", "wallet: redeemed mature ehash into", "summary: ", "stopping miner, pool and node"):
        assert expected in text, f"{expected!r} missing from:\n{text}"
    assert "Traceback" not in out.stderr
    assert not any(port_open(p) for p in ports)  # every child stopped


async def _until(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)


async def test_dashboard_against_a_real_pool_and_miner(tmp_path: Path) -> None:
    wallet_dir = tmp_path / "wallet"
    with (
        node_and_pool(tmp_path, "--network-difficulty", "1/2000", "--maturity", "2") as stack,
        nutx_process(stack.miner_args(wallet_dir, "--user", "carol", "--auto-redeem"), tmp_path / "miner.log"),
    ):
            client = PoolAdminClient(stack.admin_url, poll_interval=0.3, backoff_first=0.1,
                                     backoff_ceiling=0.5, timeout=2.0)
            app = DashboardApp(DashboardModel(client.url), client, open_wallet_view(wallet_dir))
            async with app.run_test(size=(80, 24)) as pilot:
                await _until(lambda: "● CONNECTED" in screen_text(app), "the connected status line")
                await _until(lambda: len(app.model.shares) >= 2, "live shares from the miner")
                await pilot.press("2")
                await _until(lambda: app.query_one(ChannelsPane).query_one(DataTable).row_count == 1, "the channel")
                await pilot.pause(0.5)
                assert "carol" in screen_text(app)
                await pilot.press("4")
                await _until(lambda: app.query_one(EpochsPane).query_one(DataTable).row_count >= 2, "epochs")
                await pilot.press("6")
                await _until(lambda: "sat" in screen_text(app), "the wallet pane")
                await pilot.press("q")
            assert app.return_code == 0
