"""The admin listeners trust no browser: Host and Origin checks, their own `--admin-host`, a token off
loopback.

Real `nutx node start` and `nutx pool start` processes. 127.0.0.2 is loopback too on Linux, and tells a
listener bound to 0.0.0.0 from one bound to 127.0.0.1 without leaving the machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from nutx_cli.core.pool_stats import PoolEvent, PoolStats
from nutx_cli.local import read_pool_json
from nutx_cli.tui.client import PoolAdminClient
from tests.helpers.procs import port_open
from tests.helpers.stack import node

pytestmark = pytest.mark.e2e

TOKEN = "correct-horse-battery-staple"


def events_url(admin_url: str) -> str:
    return admin_url.replace("http://", "ws://") + "/v1/pool/events"


async def ws_status(url: str, **kwargs: Any) -> int:
    """101 if the events websocket opens, else the HTTP status it was refused with."""
    try:
        async with websockets.connect(url, open_timeout=10, **kwargs):
            return 101
    except websockets.InvalidStatus as exc:
        return exc.response.status_code


class Feed:
    """A FeedSink that remembers what the TUI client reported."""

    def __init__(self) -> None:
        self.stats: list[PoolStats] = []
        self.details: list[str] = []
        self.live = False

    def stats_received(self, stats: PoolStats) -> None:
        self.stats.append(stats)

    def event_received(self, event: PoolEvent) -> None:
        pass

    def connection_changed(self, connected: bool, detail: str) -> None:
        self.details.append(detail)

    def events_changed(self, live: bool) -> None:
        self.live = self.live or live


async def follow(client: PoolAdminClient, until: Any) -> Feed:
    """Run the TUI's admin client until `until(feed)` holds (or a generous bound), then stop it."""
    feed = Feed()
    task = asyncio.create_task(client.run(feed))
    try:
        for _ in range(400):
            if until(feed):
                break
            await asyncio.sleep(0.05)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    return feed


def test_host_moves_sv2_and_the_mint_but_not_admin_which_refuses_foreign_hosts_and_origins(
    tmp_path: Path,
) -> None:
    with node(tmp_path) as stack, stack.pool("--host", "0.0.0.0"):
        assert port_open(stack.sv2, "127.0.0.2") and port_open(stack.http, "127.0.0.2")
        assert not port_open(stack.admin, "127.0.0.2")
        assert read_pool_json(stack.pool_dir).admin == stack.admin_url
        stats = stack.admin_url + "/v1/pool/stats"
        assert httpx.get(stats, timeout=10).status_code == 200
        assert httpx.get(stats, headers={"Origin": stack.admin_url}, timeout=10).status_code == 200
        assert httpx.get(stats, headers={"Host": f"localhost:{stack.admin}"}, timeout=10).status_code == 200
        for headers in (
            {"Host": "evil.example"},
            {"Host": f"evil.example:{stack.admin}"},
            {"Origin": "http://evil.example"},
            {"Origin": "null"},
        ):
            refused = httpx.get(stats, headers=headers, timeout=10)
            assert refused.status_code == 403 and "channels" not in refused.text, headers

        async def websockets_() -> None:
            url = events_url(stack.admin_url)
            assert await ws_status(url) == 101
            assert await ws_status(url, origin=stack.admin_url) == 101  # type: ignore[arg-type]
            assert await ws_status(url, origin="http://evil.example") == 403  # type: ignore[arg-type]

        asyncio.run(websockets_())


def start_refused(role: str, tmp_path: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nutx_cli", role, "start", "--data-dir", str(tmp_path / role), *flags],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        env={"HOME": str(tmp_path), "PATH": ""},
    )


@pytest.mark.parametrize("role", ["pool", "proxy"])
def test_admin_off_loopback_without_a_token_is_one_line(tmp_path: Path, role: str) -> None:
    result = start_refused(role, tmp_path, "--admin-host", "0.0.0.0")
    assert result.returncode == 1
    assert result.stderr == (
        "error: --admin-host 0.0.0.0 is not a loopback address: anyone who reaches it could read the admin "
        "stats; pass --admin-token TOKEN (or set admin-token in the config, or NUTX_ADMIN_TOKEN)\n"
    )


def test_admin_off_loopback_serves_only_the_token(tmp_path: Path) -> None:
    with node(tmp_path) as stack:
        stack.pool_dir.mkdir(parents=True)
        (stack.pool_dir / "config.toml").write_text(f'admin-token = "{TOKEN}"\n')
        with stack.pool("--admin-host", "0.0.0.0"):
            assert TOKEN not in (stack.pool_dir / "pool.json").read_text()
            elsewhere = f"http://127.0.0.2:{stack.admin}"  # bound to 0.0.0.0: another loopback address works
            stats = elsewhere + "/v1/pool/stats"
            for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
                refused = httpx.get(stats, headers=headers, timeout=10)
                assert refused.status_code == 401 and "channels" not in refused.text, headers
            served = httpx.get(stats, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
            assert served.status_code == 200 and "channels" in served.json()
            assert (
                httpx.get(
                    stats, headers={"Authorization": f"Bearer {TOKEN}", "Host": "evil.example"}, timeout=10
                ).status_code
                == 403
            )

            async def clients() -> None:
                url = events_url(elsewhere)
                assert await ws_status(url) == 401
                bearer = {"Authorization": f"Bearer {TOKEN}"}
                assert await ws_status(url, additional_headers=bearer) == 101
                admin = read_pool_json(stack.pool_dir).admin
                feed = await follow(PoolAdminClient(admin, token=TOKEN), lambda f: f.stats and f.live)
                assert feed.stats and feed.live
                without = await follow(PoolAdminClient(admin), lambda f: f.details)
                assert not without.stats and "HTTP 401: pass the pool's admin token" in without.details[0]

            asyncio.run(clients())
