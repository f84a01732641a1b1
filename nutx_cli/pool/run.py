"""Starting and stopping the whole pool process: keys, mint, node, SV2 listener, HTTP listeners, pool.json.

Keys live in the data dir so a restart keeps the same authority key (miners pin it) and the same
payout address: `authority.key` and `sv2_static.key` (SV2 Noise, text form), `payout.key` (hex).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from nutx_cli.admin_access import AdminAccess, AdminGuard
from nutx_cli.chain.address import address_to_script, p2wpkh_address
from nutx_cli.core.limits import HttpLimits, ListenerLimits
from nutx_cli.core.vardiff import VardiffConfig
from nutx_cli.errors import NutxError
from nutx_cli.listener import raise_fd_limit
from nutx_cli.local import PoolInfo, write_pool_json
from nutx_cli.node.client import connect
from nutx_cli.pool.admin import create_admin_app, start_http, stop_http
from nutx_cli.pool.service import Pool
from nutx_cli.pool.settings import PoolSettings
from nutx_cli.private_files import private_dir, read_private, write_private
from nutx_cli.sv2.certificate import (
    authority_key_to_text,
    pubkey_of_secret,
    secret_key_from_text,
    secret_key_to_text,
)
from nutx_cli.sv2.connection import serve

log = logging.getLogger(__name__)

CHAIN_NETWORKS = {
    "main": "mainnet",
    "test": "testnet",
    "testnet4": "testnet",
    "signet": "signet",
    "regtest": "regtest",
}


@dataclass(frozen=True)
class PoolOptions:
    data_dir: Path
    host: str
    """Where SV2 and the mint's public HTTP API listen."""
    sv2_port: int
    http_port: int
    admin: AdminAccess
    """Where the admin listener binds (loopback unless told otherwise) and its token."""
    admin_port: int
    node_rpc: str | None
    node_cookie: Path | None
    payout_address: str | None
    network_difficulty: Fraction
    maturity: int
    mint_fee: int
    shares_per_minute: float
    start_level: int
    sv2_limits: ListenerLimits
    http_limits: HttpLimits


def _secret_file(path: Path, make: Callable[[bytes], str], read: Callable[[str], bytes]) -> bytes:
    """A 32-byte secret kept in `path` (created with mode 0600 on first start)."""
    if path.exists():
        try:
            return read(read_private(path).strip())
        except (ValueError, NutxError) as exc:
            raise NutxError(f"{path} is damaged ({exc}); restore it from a backup or remove it") from None
    while True:
        secret = os.urandom(32)
        try:
            pubkey_of_secret(secret)
            break
        except (ValueError, NutxError):
            continue
    write_private(path, make(secret) + "\n")
    return secret


def _hex_secret(path: Path) -> bytes:
    return _secret_file(path, bytes.hex, bytes.fromhex)


def _noise_secret(path: Path) -> bytes:
    return _secret_file(path, secret_key_to_text, secret_key_from_text)


async def serve_pool(options: PoolOptions, stop: asyncio.Event, echo: Callable[[str], None]) -> None:
    """Run until `stop` is set, then shut down cleanly (listeners first, then in-flight shares, then the mint)."""
    from coincurve import PrivateKey

    from nutx_cli.mint import Mint, create_app

    data_dir = options.data_dir
    private_dir(data_dir)
    raise_fd_limit()  # every miner holds a socket: the per-IP cap, not a default of 1,024 files, decides
    node = connect(options.node_rpc, node_cookie=options.node_cookie)
    info = await asyncio.to_thread(node.call, "getblockchaininfo")
    network = CHAIN_NETWORKS.get(str(info.get("chain")), "regtest")
    authority = _noise_secret(data_dir / "authority.key")
    static = _noise_secret(data_dir / "sv2_static.key")
    payout_key = PrivateKey(_hex_secret(data_dir / "payout.key"))
    payout_address = options.payout_address or p2wpkh_address(payout_key.public_key.format(), network)
    payout_script = address_to_script(payout_address, network)

    mint = Mint.open(data_dir, network=network, mint_fee=options.mint_fee)
    try:
        vardiff = VardiffConfig(
            k_max=mint.k_max,
            shares_per_minute=options.shares_per_minute,
            start_level=min(options.start_level, mint.k_max),
        )
        settings = PoolSettings(
            network=network,
            payout_script=payout_script,
            network_difficulty=options.network_difficulty if network == "regtest" else None,
            maturity=options.maturity,
            vardiff=vardiff,
            channels_per_connection=options.sv2_limits.channels_per_connection,
        )
        pool = await Pool.start(mint, node, settings)
        try:
            sv2 = await serve(
                options.host,
                options.sv2_port,
                on_connection=pool.handle_connection,
                static_secret=static,
                authority_secret=authority,
                limits=options.sv2_limits,
            )
        except OSError as exc:
            raise NutxError(
                f"cannot listen for SV2 on {options.host}:{options.sv2_port} ({exc.strerror}): "
                "pick another --sv2-port"
            ) from None
        http_server = await start_http(create_app(mint, options.http_limits), options.host, options.http_port)
        admin_app = AdminGuard(create_admin_app(pool.stats_json, pool.events), options.admin)
        admin_server = await start_http(admin_app, options.admin.host, options.admin_port)
        authority_text = authority_key_to_text(pubkey_of_secret(authority))
        pool_info = PoolInfo(
            sv2=f"{options.host}:{sv2.port}",
            authority_key=authority_text,
            http=f"http://{options.host}:{options.http_port}",
            admin=f"http://{options.admin.host}:{options.admin_port}",
            network=network,
        )
        write_pool_json(data_dir, pool_info)
        tip = pool.current.tip
        echo(f"pool on {network}: epoch {pool.current.number}, tip {tip.height} {tip.hash}")
        echo(f"  sv2        {pool_info.sv2}")
        echo(f"  authority  {authority_text}")
        echo(f"  mint http  {pool_info.http}")
        echo(f"  admin      {pool_info.admin}  (stats: {pool_info.admin}/v1/pool/stats)")
        echo(f"  payout     {payout_address}")
        echo(f"  pool.json  {data_dir / 'pool.json'}")
        tasks = [asyncio.create_task(pool.tip_watch.run(stop)), asyncio.create_task(pool.run_vardiff(stop))]
        try:
            await stop.wait()
        finally:
            echo("pool stopping")
            await sv2.close()
            await pool.shares.wait()
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await stop_http(*admin_server)
            await stop_http(*http_server)
    finally:
        mint.close()
