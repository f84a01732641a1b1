"""`nutx up` end to end, and the dashboard against a real pool with a real miner (issue 8)."""

from __future__ import annotations

import asyncio
import shlex
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from textual.widgets import DataTable

from nutx_cli.cli.tui import open_wallet_view
from nutx_cli.mint.store import DB_NAME as MINT_DB
from nutx_cli.node.client import connect
from nutx_cli.node.rpc import ANOTHER_MINER_ADDRESS
from nutx_cli.tui.app import DashboardApp
from nutx_cli.tui.client import PoolAdminClient
from nutx_cli.tui.model import DashboardModel
from nutx_cli.tui.panes import ChannelsPane, EpochsPane
from nutx_cli.up.children import ChildProcess
from nutx_cli.up.run import Roles, UpOptions
from nutx_cli.wallet.store import DB_NAME as WALLET_DB
from tests.helpers.procs import free_port, nutx_process, port_open
from tests.helpers.stack import node_and_pool
from tests.helpers.tui_recorded import screen_text

pytestmark = pytest.mark.e2e


def mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_up_headless_runs_until_a_redeem_and_stops_its_children(tmp_path: Path) -> None:
    ports = [free_port() for _ in range(4)]
    args = [
        "up",
        "--headless",
        "--until-redeemed",
        "--timeout",
        "150",
        "--data-dir",
        str(tmp_path / "up"),
        "--network-difficulty",
        "1/2000",
        "--other-miner-every",
        "4",
        "--maturity",
        "2",
        "--rpc-port",
        str(ports[0]),
        "--sv2-port",
        str(ports[1]),
        "--http-port",
        str(ports[2]),
        "--admin-port",
        str(ports[3]),
    ]
    out = subprocess.run(
        [sys.executable, "-m", "nutx_cli", *args], capture_output=True, text=True, timeout=200, check=False
    )
    assert out.returncode == 0, out.stdout + out.stderr
    text = out.stdout
    for expected in (
        "node   ready",
        "pool   ready",
        "miner  started",
        "another miner found block",
        " won: our block",
        " mature after ",
        "wallet: redeemed mature ehash into",
        "summary: ",
        "stopping miner, pool and node",
    ):
        assert expected in text, f"{expected!r} missing from:\n{text}"
    assert "Traceback" not in out.stderr
    assert not any(port_open(p) for p in ports)  # every child stopped


def _children(pid: int) -> list[int]:
    return [
        int(c)
        for task in Path(f"/proc/{pid}/task").iterdir()
        for c in (task / "children").read_text().split()
    ]


def _regtest_lever(lines: list[str]) -> list[str]:
    """The `nutx regtest generate 1 …` command `nutx up` prints, as arguments after `nutx`."""
    line = next(line for line in lines if "nutx regtest generate 1" in line)
    return shlex.split(line.strip())[1:]


def _nutx(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nutx_cli", *args], capture_output=True, text=True, timeout=60, check=False
    )


def test_up_keeps_the_node_cookie_off_command_lines_output_and_logs(tmp_path: Path) -> None:
    up_dir, ports, log = tmp_path / "up", [free_port() for _ in range(4)], tmp_path / "up.log"
    args = [
        "up",
        "--headless",
        "--data-dir",
        str(up_dir),
        "--network-difficulty",
        "1",
        "--other-miner-every",
        "1",
        "--rpc-port",
        str(ports[0]),
        "--sv2-port",
        str(ports[1]),
        "--http-port",
        str(ports[2]),
        "--admin-port",
        str(ports[3]),
    ]
    with nutx_process(
        args, log, ready=lambda: "another miner found block" in log.read_text(), timeout=90
    ) as up:
        password = (up_dir / "node" / ".cookie").read_text().strip().split(":")[1]
        cmdlines = {
            pid: Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ") for pid in _children(up.pid)
        }
        assert any(b"pool start" in c for c in cmdlines.values()), cmdlines
        assert [c for c in cmdlines.values() if password.encode() in c] == []
        lever = _regtest_lever(up.output().splitlines())
        generated = _nutx(lever)
        assert generated.returncode == 0, generated.stderr
        assert {d: oct(mode(up_dir / d)) for d in ("", "node", "pool", "wallet", "logs")} == dict.fromkeys(
            ("", "node", "pool", "wallet", "logs"), oct(0o700)
        )
        assert (mode(up_dir / "pool" / MINT_DB), mode(up_dir / "wallet" / WALLET_DB)) == (0o600, 0o600)
    output = log.read_text()
    assert "--node-cookie" in output and password not in output, output
    for child_log in (up_dir / "logs").iterdir():
        assert password not in child_log.read_text(), child_log


def test_the_pool_follows_a_node_restarted_under_up(tmp_path: Path) -> None:
    rpc_port, sv2, http, admin = (free_port() for _ in range(4))
    options = UpOptions(
        data_dir=tmp_path / "up",
        threads=1,
        other_miner_every=0,
        network_difficulty="1",
        maturity=2,
        start_level=236,
        rpc_port=rpc_port,
        sv2_port=sv2,
        http_port=http,
        admin_port=admin,
    )
    roles = Roles(options)
    printed: list[str] = []

    def pool_epoch() -> int:
        return int(httpx.get(f"{options.admin_url}/v1/pool/stats", timeout=5).json()["epoch"]["epoch"])

    def another_block() -> None:
        connect(node_data_dir=options.node_dir, port=rpc_port).generatetoaddress(1, ANOTHER_MINER_ADDRESS)

    def wait_epoch(n: int) -> None:
        deadline = time.monotonic() + 30
        while pool_epoch() != n:
            assert time.monotonic() < deadline, f"the pool is still at epoch {pool_epoch()}, not {n}"
            time.sleep(0.2)

    try:
        roles.start(printed.append)
        assert pool_epoch() == 1
        another_block()
        wait_epoch(2)
        node = roles.children[0]
        node.kill()
        roles.children[0] = restarted = ChildProcess(node.args, node.log_path)
        restarted.wait_until(lambda: port_open(rpc_port), 30, "listening")
        another_block()
        wait_epoch(3)  # the pool took the restarted node's new cookie
        generated = _nutx(_regtest_lever(printed))  # and so does the command `nutx up` printed
        assert generated.returncode == 0, generated.stderr
        wait_epoch(4)
    finally:
        roles.stop()


async def _until(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)


async def test_dashboard_against_a_real_pool_and_miner(tmp_path: Path) -> None:
    wallet_dir = tmp_path / "wallet"
    with (
        node_and_pool(tmp_path, "--network-difficulty", "1/2000", "--maturity", "2") as stack,
        nutx_process(
            stack.miner_args(wallet_dir, "--user", "carol", "--auto-redeem"), tmp_path / "miner.log"
        ),
    ):
        client = PoolAdminClient(
            stack.admin_url, poll_interval=0.3, backoff_first=0.1, backoff_ceiling=0.5, timeout=2.0
        )
        app = DashboardApp(DashboardModel(client.url), client, open_wallet_view(wallet_dir))
        async with app.run_test(size=(80, 24)) as pilot:
            await _until(lambda: "● CONNECTED" in screen_text(app), "the connected status line")
            await _until(lambda: len(app.model.shares) >= 2, "live shares from the miner")
            await pilot.press("2")
            await _until(
                lambda: app.query_one(ChannelsPane).query_one(DataTable).row_count == 1, "the channel"
            )
            await pilot.pause(0.5)
            assert "carol" in screen_text(app)
            await pilot.press("4")
            await _until(lambda: app.query_one(EpochsPane).query_one(DataTable).row_count >= 2, "epochs")
            await pilot.press("6")
            await _until(lambda: "sat" in screen_text(app), "the wallet pane")
            await pilot.press("q")
        assert app.return_code == 0
