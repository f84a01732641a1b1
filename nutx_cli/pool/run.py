"""Starting and stopping the whole pool process: network rules, keys, mint, node, SV2 (and SV1) listeners,
HTTP listeners, pool.json.

Off regtest the node is a real bitcoind on the same network (checked: its chain, and that it is synced),
the payout address must be of that network, and the mint needs the Lightning backend the network allows.
The pool's keys are in its data dir (`pool.keys`); `--restore-from` brings a data dir back from
`nutx pool backup` first.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path

from nutx_cli.admin_access import AdminAccess, AdminGuard
from nutx_cli.chain.address import AddressError, address_to_script, p2wpkh_address
from nutx_cli.core.limits import HttpLimits, ListenerLimits
from nutx_cli.core.networks import Network, NetworkRules, rules
from nutx_cli.core.vardiff import VardiffConfig
from nutx_cli.errors import NutxError
from nutx_cli.listener import raise_fd_limit
from nutx_cli.local import PoolInfo, write_pool_json
from nutx_cli.mint.backup import restore_backup
from nutx_cli.mint.lightning_config import LightningConfig
from nutx_cli.node.client import NodeClient, connect
from nutx_cli.pool.admin import create_admin_app, start_http, stop_http
from nutx_cli.pool.keys import PoolKeys
from nutx_cli.pool.service import Pool
from nutx_cli.pool.settings import FrontEnd, PoolSettings
from nutx_cli.pool.sv1 import Sv1Port
from nutx_cli.private_files import private_dir
from nutx_cli.sv1.session import MAX_USERS
from nutx_cli.sv2.certificate import authority_key_to_text, pubkey_of_secret
from nutx_cli.sv2.connection import serve

log = logging.getLogger(__name__)

DEFAULT_NETWORK_DIFFICULTY = Fraction(1, 1000)
"""Regtest's simulated network difficulty: about 4.3 M hashes per block (seconds for a CPU miner)."""

RESTORE_EPOCH_MARGIN = 16
"""After a restore, epoch numbers skipped beyond two per block mined since the backup's last epoch."""


@dataclass(frozen=True)
class PoolOptions:
    data_dir: Path
    host: str
    """Where SV2 and the mint's public HTTP API listen."""
    sv2_port: int
    sv1_port: int | None
    """The pool's own Stratum V1 port (`pool.sv1`); None: off."""
    http_port: int
    admin: AdminAccess
    """Where the admin listener binds (loopback unless told otherwise) and its token."""
    admin_port: int
    node_rpc: str | None
    node_cookie: Path | None
    payout_address: str | None
    network_difficulty: Fraction | None
    """None: regtest's default; refused off regtest."""
    maturity: int | None
    """None: the network's default (100)."""
    mint_fee: int
    shares_per_minute: float
    start_level: int
    network: str = Network.REGTEST
    lightning: LightningConfig = field(default_factory=LightningConfig)
    restore_from: Path | None = None
    mint_url: str | None = None
    """The mint's public URL told to miners (`SetEcashMint`) and written to pool.json; None: from --host."""
    sv2_limits: ListenerLimits = field(default_factory=ListenerLimits)
    http_limits: HttpLimits = field(default_factory=HttpLimits)
    database: str | None = None
    """The mint's PostgreSQL URL (front ends share it); None: SQLite in the data dir."""
    frontend: FrontEnd = field(default_factory=FrontEnd)


def _node(options: PoolOptions, net: NetworkRules) -> NodeClient:
    """The embedded node's client on regtest; off regtest bitcoind's, by default on its port and cookie."""
    if net.network == Network.REGTEST:
        return connect(options.node_rpc, node_cookie=options.node_cookie)
    return connect(
        options.node_rpc,
        node_cookie=options.node_cookie,
        node_data_dir=net.default_cookie(Path.home()).parent,
        port=net.rpc_port,
        gbt_rules=net.gbt_rules,
    )


def _payout_script(address: str, network: str) -> bytes:
    try:
        return address_to_script(address, network)
    except AddressError as exc:
        raise NutxError(f"--payout-address: {exc}") from None


def _skip_restored_epochs(mint_epochs: list[tuple[int, int]], height: int) -> int:
    """The highest epoch number a lost data dir may have opened after its backup: one epoch per tip change,
    so at most two per block since the backup's last epoch started (reorgs), plus a margin."""
    last, start_height = max(mint_epochs, default=(0, height))
    return last + 2 * max(0, height - start_height) + RESTORE_EPOCH_MARGIN


async def serve_pool(options: PoolOptions, stop: asyncio.Event, echo: Callable[[str], None]) -> None:
    """Run until `stop` is set, then shut down cleanly (listeners first, then in-flight shares, then the mint)."""
    from coincurve import PrivateKey

    from nutx_cli.mint import Mint, create_app

    data_dir = options.data_dir
    network = options.network
    net = rules(network)
    maturity = net.default_maturity if options.maturity is None else options.maturity
    net.check_maturity(maturity)
    net.check_simulated_difficulty(options.network_difficulty is not None)
    lightning = options.lightning.open_checked(network)
    if options.payout_address:
        _payout_script(options.payout_address, network)
    if options.restore_from is not None:
        if options.database:
            raise NutxError(
                "--restore-from restores a mint into the data dir; restore a PostgreSQL one with pg_restore"
            )
        restore_backup(options.restore_from, data_dir, "pool", network)
    node = _node(options, net)
    raise_fd_limit()  # every miner holds a socket: the per-IP cap, not a default of 1,024 files, decides
    info = await asyncio.to_thread(node.call, "getblockchaininfo")
    net.check_node(info)
    private_dir(data_dir)
    keys = PoolKeys.load(data_dir)
    authority, static = keys.authority, keys.static
    payout_key = PrivateKey(keys.payout)
    payout_address = options.payout_address or p2wpkh_address(payout_key.public_key.format(), network)

    mint = Mint.open(
        data_dir, network=network, mint_fee=options.mint_fee, lightning=lightning, database=options.database
    )
    mint_url = (options.mint_url or f"http://{options.host}:{options.http_port}").rstrip("/")
    try:
        if options.frontend.count > 1:
            payout_address = mint.payout_address(payout_address, insist=options.payout_address is not None)
        payout_script = _payout_script(payout_address, network)
        if options.restore_from is not None:
            height = int(info.get("blocks", 0))
            epochs = [(e.epoch, mint.epoch_start(e.epoch)[1]) for e in mint.epochs()]
            mint.skip_epochs(_skip_restored_epochs(epochs, height))
        vardiff = VardiffConfig(
            k_max=mint.k_max,
            shares_per_minute=options.shares_per_minute,
            start_level=min(options.start_level, mint.k_max),
        )
        settings = PoolSettings(
            network=network,
            payout_script=payout_script,
            network_difficulty=(options.network_difficulty or DEFAULT_NETWORK_DIFFICULTY)
            if net.simulated_difficulty
            else None,
            maturity=maturity,
            vardiff=vardiff,
            mint_url=mint_url,
            channels_per_connection=options.sv2_limits.channels_per_connection,
            frontend=options.frontend,
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
        sv1: Sv1Port | None = None
        sv1_address = None
        if options.sv1_port is not None:
            sv1 = Sv1Port(pool, replace(options.sv2_limits, channels_per_connection=MAX_USERS))
            try:
                sv1_address = f"{options.host}:{await sv1.start(options.host, options.sv1_port)}"
            except OSError as exc:
                await sv2.close()
                raise NutxError(
                    f"cannot listen for SV1 on {options.host}:{options.sv1_port} ({exc.strerror}): "
                    "pick another --sv1-port"
                ) from None
        http_server = await start_http(create_app(mint, options.http_limits), options.host, options.http_port)
        admin_app = AdminGuard(create_admin_app(pool.stats_json, pool.events), options.admin)
        admin_server = await start_http(admin_app, options.admin.host, options.admin_port)
        authority_text = authority_key_to_text(pubkey_of_secret(authority))
        pool_info = PoolInfo(
            sv2=f"{options.host}:{sv2.port}",
            authority_key=authority_text,
            http=mint_url,
            admin=f"http://{options.admin.host}:{options.admin_port}",
            network=network,
        )
        write_pool_json(data_dir, pool_info)
        tip = pool.current.tip
        echo(f"pool on {network}: epoch {pool.current.number}, tip {tip.height} {tip.hash}")
        echo(f"  sv2        {pool_info.sv2}")
        if sv1_address is not None:
            echo(f"  sv1        stratum+tcp://{sv1_address}  (user <pubkey>.<worker>: `nutx wallet pubkey`)")
        echo(f"  authority  {authority_text}")
        echo(f"  mint http  {pool_info.http}")
        echo(f"  admin      {pool_info.admin}  (stats: {pool_info.admin}/v1/pool/stats)")
        echo(f"  payout     {payout_address}")
        echo(f"  lightning  {lightning.name}")
        if options.frontend.count > 1 or options.database:
            echo(f"  front end  {options.frontend} on mint {mint.store.where}")
        echo(f"  pool.json  {data_dir / 'pool.json'}")
        tasks = [
            asyncio.create_task(pool.tip_watch.run(stop)),
            asyncio.create_task(pool.run_vardiff(stop)),
            asyncio.create_task(mint.settle_melts(stop)),
        ]
        try:
            await stop.wait()
        finally:
            echo("pool stopping")
            await sv2.close()
            if sv1 is not None:
                await sv1.close()  # client.reconnect to every SV1 miner
            await pool.shares.wait()
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await stop_http(*admin_server)
            await stop_http(*http_server)
    finally:
        mint.close()
