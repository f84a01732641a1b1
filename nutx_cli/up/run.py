"""`nutx up`: node, pool and one CPU miner (auto-redeem on) as child processes, then the dashboard
or a headless progress log; "another miner" finds a block every few seconds so epochs are lost too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shlex
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from nutx_cli.core.pool_stats import PoolStats
from nutx_cli.errors import NutxError
from nutx_cli.local import COOKIE_NAME, read_pool_json
from nutx_cli.node.client import connect
from nutx_cli.node.rpc import ANOTHER_MINER_ADDRESS
from nutx_cli.tui.stats import Epoch, parse_stats
from nutx_cli.up.children import ChildProcess, port_open
from nutx_cli.up.progress import Progress
from nutx_cli.wallet.view import open_wallet_view

log = logging.getLogger(__name__)

POLL_SECONDS = 1.0
SHARE_LINE_SECONDS = 10.0
READY_TIMEOUT = 60.0


@dataclass(frozen=True)
class UpOptions:
    data_dir: Path
    threads: int
    other_miner_every: float  # seconds; 0 turns the other miner off
    network_difficulty: str
    maturity: int
    start_level: int
    rpc_port: int
    sv2_port: int
    http_port: int
    admin_port: int

    @property
    def node_dir(self) -> Path:
        return self.data_dir / "node"

    @property
    def pool_dir(self) -> Path:
        return self.data_dir / "pool"

    @property
    def wallet_dir(self) -> Path:
        return self.data_dir / "wallet"

    @property
    def logs_dir(self) -> Path:
        return self.data_dir / "logs"

    @property
    def admin_url(self) -> str:
        return f"http://127.0.0.1:{self.admin_port}"

    @property
    def node_url(self) -> str:
        return f"http://127.0.0.1:{self.rpc_port}"

    @property
    def node_cookie(self) -> Path:
        return (self.node_dir / COOKIE_NAME).absolute()

    @property
    def node_flags(self) -> list[str]:
        """How the pool and the levers reach the node: the cookie's path, never the secret on a command line."""
        return ["--node-rpc", self.node_url, "--node-cookie", str(self.node_cookie)]


class Roles:
    """The three child processes, started in order and stopped in reverse."""

    def __init__(self, options: UpOptions) -> None:
        self.options = options
        self.children: list[ChildProcess] = []

    def start(self, echo: Callable[[str], None]) -> None:
        o = self.options
        for port in (o.rpc_port, o.sv2_port, o.http_port, o.admin_port):
            if port_open(port):
                raise NutxError(f"port {port} is in use (another `nutx up`?); stop it or pick other ports")
        node = self._spawn(
            ["node", "start", "--data-dir", str(o.node_dir), "--rpc-port", str(o.rpc_port)], "node"
        )
        node.wait_until(lambda: o.node_cookie.exists() and port_open(o.rpc_port), READY_TIMEOUT, "listening")
        echo(f"node   ready  rpc 127.0.0.1:{o.rpc_port}  (data {o.node_dir})")
        pool_json = o.pool_dir / "pool.json"
        pool_json.unlink(missing_ok=True)
        pool = self._spawn(
            [
                "pool",
                "start",
                "--data-dir",
                str(o.pool_dir),
                *o.node_flags,
                "--sv2-port",
                str(o.sv2_port),
                "--http-port",
                str(o.http_port),
                "--admin-port",
                str(o.admin_port),
                "--network-difficulty",
                o.network_difficulty,
                "--maturity",
                str(o.maturity),
                "--start-level",
                str(o.start_level),
            ],
            "pool",
        )
        pool.wait_until(lambda: pool_json.exists() and port_open(o.admin_port), READY_TIMEOUT, "listening")
        info = read_pool_json(o.pool_dir)
        echo(f"pool   ready  sv2 {info.sv2}  mint {info.http}  admin {info.admin}")
        self._spawn(
            [
                "mine",
                "--cpu",
                "--threads",
                str(o.threads),
                "--wallet-dir",
                str(o.wallet_dir),
                "--pool-dir",
                str(o.pool_dir),
                "--auto-redeem",
                "--user",
                "up-miner",
            ],
            "miner",
        )
        echo(f"miner  started  {o.threads} hashing process(es), wallet {o.wallet_dir}")
        echo(f"logs in {o.logs_dir}; reach these processes with:")
        echo(f"  nutx wallet balance --wallet-dir {o.wallet_dir}")
        echo(f"  nutx tui --pool-admin {o.admin_url} --wallet-dir {o.wallet_dir}")
        echo(f"  nutx regtest generate 1 {shlex.join(o.node_flags)}")

    def _spawn(self, args: list[str], name: str) -> ChildProcess:
        child = ChildProcess(args, self.options.logs_dir / f"{name}.log")
        self.children.append(child)
        return child

    def check_alive(self) -> None:
        for child in self.children:
            if not child.running():
                tail = "\n".join(child.output().splitlines()[-10:])
                raise NutxError(
                    f"`nutx {child.name}` stopped unexpectedly ({child.proc.returncode}); its log:\n{tail}"
                )

    def stop(self) -> None:
        for child in reversed(self.children):
            child.stop()
        self.children.clear()


class OtherMiner:
    """Every `every` seconds, a block by "someone else" (the regtest generate lever), from a thread so
    that it runs the same under the dashboard's event loop and the headless one."""

    def __init__(self, options: UpOptions, echo: Callable[[str], None]) -> None:
        self._client = connect(options.node_url, node_cookie=options.node_cookie)
        self._every = options.other_miner_every
        self._echo = echo
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="other-miner", daemon=True)

    def start(self) -> None:
        if self._every > 0:
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            try:
                hashes = self._client.generatetoaddress(1, ANOTHER_MINER_ADDRESS)
                self._echo(f"another miner found block {self._client.getblockcount()} ({hashes[0][:16]}…)")
            except NutxError as exc:
                log.warning("the other miner could not mine: %s", exc)


async def headless(
    options: UpOptions,
    roles: Roles,
    stop: asyncio.Event,
    echo: Callable[[str], None],
    until_redeemed: bool,
    timeout: float | None,
) -> Progress:
    """Print one line per event until stopped (or, with `until_redeemed`, until the wallet got sats)."""
    progress = Progress()
    wallet = open_wallet_view(options.wallet_dir)
    started = time.monotonic()
    next_share_line = started + SHARE_LINE_SECONDS
    async with httpx.AsyncClient(timeout=5) as http:
        while not stop.is_set():
            roles.check_alive()
            stats = await _stats(http, options.admin_url)
            summary = _wallet_summary(wallet)
            if stats is not None:
                for line in progress.update(stats, summary):
                    echo(line)
                if time.monotonic() >= next_share_line:
                    next_share_line += SHARE_LINE_SECONDS
                    echo(progress.share_line(stats))
            if until_redeemed and progress.redeemed > 0:
                break
            if timeout is not None and time.monotonic() - started > timeout:
                raise NutxError(f"no redeem within {timeout:.0f} s; see the logs in {options.logs_dir}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), POLL_SECONDS)
    return progress


async def _stats(http: httpx.AsyncClient, admin_url: str) -> PoolStats[Epoch] | None:
    try:
        response = await http.get(f"{admin_url}/v1/pool/stats")
        response.raise_for_status()
        return parse_stats(response.json())
    except (httpx.HTTPError, ValueError) as exc:  # StatsError is a ValueError
        log.info("pool stats unavailable: %s", exc)
        return None


def _wallet_summary(wallet: Any) -> dict[str, Any] | None:
    try:
        return dict(wallet.summary())
    except (NutxError, OSError):
        return None
