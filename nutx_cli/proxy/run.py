"""Starting and stopping the proxy process: find the pool, open the wallet, SV1 and admin listeners.

With no flags the pool is the local one (`~/.nutx/pool/pool.json`: its SV2 address, authority key and
mint URL); `--pool HOST:PORT --authority-key KEY` points elsewhere. The wallet lives in
`<data-dir>/wallet` and remembers its mint.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from nutx_cli.admin_access import AdminAccess, AdminGuard
from nutx_cli.core.limits import ListenerLimits
from nutx_cli.errors import NutxError
from nutx_cli.listener import raise_fd_limit
from nutx_cli.local import read_pool_json
from nutx_cli.pool.admin import start_http, stop_http
from nutx_cli.private_files import private_dir
from nutx_cli.proxy.admin import create_proxy_admin_app
from nutx_cli.proxy.service import Proxy, Upstream
from nutx_cli.sv1.server import serve_sv1
from nutx_cli.sv2.certificate import KeyFormatError, authority_key_from_text
from nutx_cli.wallet import Wallet

log = logging.getLogger(__name__)

WALLET_UPKEEP_SECONDS = 30.0


@dataclass(frozen=True)
class ProxyOptions:
    data_dir: Path
    host: str
    """Where the SV1 listener binds."""
    sv1_port: int
    limits: ListenerLimits
    """The SV1 listener's caps and timeouts."""
    admin: AdminAccess
    """Where the admin listener binds (loopback unless told otherwise) and its token."""
    admin_port: int
    pool: str | None
    authority_key: str | None
    mint: str | None


def parse_host_port(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise NutxError(f"--pool {text!r} is not HOST:PORT (e.g. 127.0.0.1:34254)")
    return host.strip("[]"), int(port)


def resolve_upstream(options: ProxyOptions) -> tuple[Upstream, str | None]:
    """The pool to connect to and the mint URL (flags first, then the local pool's pool.json)."""
    if options.pool is not None:
        host, port = parse_host_port(options.pool)
        if options.authority_key is None:
            raise NutxError(
                "--pool needs --authority-key KEY (the pool prints it and writes it to pool.json)"
            )
        return Upstream(host, port, options.authority_key), options.mint
    info = read_pool_json()
    host, port = parse_host_port(info.sv2)
    return Upstream(host, port, options.authority_key or info.authority_key), options.mint or info.http


def checked_upstream(options: ProxyOptions) -> tuple[Upstream, str | None]:
    """`resolve_upstream` with the authority key parsed now, so a typo fails at start, not per miner."""
    upstream, mint_url = resolve_upstream(options)
    try:
        authority_key_from_text(upstream.authority_key)
    except KeyFormatError as exc:
        raise NutxError(
            f"--authority-key: {exc}; copy it from the pool's pool.json or its start output"
        ) from None
    return upstream, mint_url


def wallet_summary(wallet: Wallet) -> dict[str, Any]:
    """The wallet part of the stats: ehash per epoch (with its status), sats, shares awaiting an answer."""
    balance = wallet.balance()
    return {
        "ehash_by_epoch": {str(e.epoch): e.amount for e in balance.epochs},
        "epochs": [
            {"epoch": e.epoch, "ehash": e.amount, "status": e.status, "estimated_sats": e.estimated_sats}
            for e in balance.epochs
        ],
        "sats": balance.sats,
        "pending_shares": balance.pending_shares,
    }


async def keep_wallet(wallet: Wallet) -> None:
    """Every WALLET_UPKEEP_SECONDS: learn epoch fates (lost epochs are dropped) and settle pending shares."""
    while True:
        await asyncio.sleep(WALLET_UPKEEP_SECONDS)
        try:
            await wallet.sync_epochs()
        except (NutxError, httpx.HTTPError, OSError) as exc:
            log.warning("wallet upkeep against %s failed: %s", wallet.mint_url, exc)


async def serve_proxy(options: ProxyOptions, stop: asyncio.Event, echo: Callable[[str], None]) -> None:
    upstream, mint_url = checked_upstream(options)
    private_dir(options.data_dir)
    raise_fd_limit()  # two sockets per miner (SV1 down, SV2 up)
    wallet = Wallet.open(options.data_dir / "wallet", mint_url=mint_url)
    try:
        await _serve(options, upstream, wallet, stop, echo)
    finally:
        wallet.close()


async def _serve(
    options: ProxyOptions,
    upstream: Upstream,
    wallet: Wallet,
    stop: asyncio.Event,
    echo: Callable[[str], None],
) -> None:
    proxy = Proxy(upstream, wallet, options.limits)

    def stats() -> dict[str, Any]:
        return {**proxy.stats_json(), "wallet": wallet_summary(wallet)}

    try:
        server = await serve_sv1(options.host, options.sv1_port, proxy.handle_connection, options.limits)
    except OSError as exc:
        raise NutxError(
            f"cannot listen for SV1 on {options.host}:{options.sv1_port} ({exc.strerror}): "
            f"pick another --sv1-port"
        ) from None
    try:
        admin_app = AdminGuard(create_proxy_admin_app(stats), options.admin)
        http, http_task = await start_http(admin_app, options.admin.host, options.admin_port)
    except NutxError:
        server.close()
        raise
    refresher = asyncio.create_task(proxy.refresh_forever())
    upkeep = asyncio.create_task(keep_wallet(wallet))
    admin = f"http://{options.admin.host}:{options.admin_port}"
    echo(f"proxy for pool {upstream.host}:{upstream.port}")
    echo(f"  sv1        stratum+tcp://{options.host}:{options.sv1_port}")
    echo(f"  admin      {admin}  (stats: {admin}/v1/proxy/stats)")
    echo(f"  wallet     {options.data_dir / 'wallet'}  (mint {wallet.mint_url})")
    try:
        await stop.wait()
    finally:
        for task in (refresher, upkeep):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        server.close()
        await proxy.close()
        await server.wait_closed()
        await stop_http(http, http_task)
        echo("proxy stopped")
