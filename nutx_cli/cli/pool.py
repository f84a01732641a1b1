"""`nutx pool start`: the Stratum V2 ecash pool with its mint (DESIGN.md §1, §3–§5)."""

from __future__ import annotations

import asyncio
from fractions import Fraction
from pathlib import Path

import typer

from nutx_cli.admin_access import TOKEN_ENV, AdminAccess
from nutx_cli.cli import lightning as ln
from nutx_cli.cli import limits as lim
from nutx_cli.cli.config import (
    ADMIN_HOST_HELP,
    ADMIN_TOKEN_HELP,
    DATABASE_HELP,
    apply_config,
    default_data_dir,
)
from nutx_cli.cli.node import NODE_COOKIE_HELP, NODE_RPC_HELP
from nutx_cli.core import limits
from nutx_cli.core.vardiff import DEFAULT_SHARES_PER_MINUTE, DEFAULT_START_LEVEL_REGTEST
from nutx_cli.errors import NutxError
from nutx_cli.local import DEFAULT_ADMIN_PORT, DEFAULT_HTTP_PORT, DEFAULT_SV1_PORT, DEFAULT_SV2_PORT
from nutx_cli.service import run_until_signalled


def parse_difficulty(text: str) -> Fraction:
    """A difficulty as a decimal or a fraction ("0.001", "1/1000", "2")."""
    try:
        value = Fraction(text.strip())
    except (ValueError, ZeroDivisionError):
        raise NutxError(f"--network-difficulty {text!r} is not a number; use e.g. 0.001 or 1/1000") from None
    if value <= 0:
        raise NutxError(f"--network-difficulty must be positive, got {text!r}")
    return value


def register(app: typer.Typer) -> None:
    pool_app = typer.Typer(
        help="The Stratum V2 pool that pays in ecash (and its mint).", no_args_is_help=True
    )

    @pool_app.command("start")
    def start(
        ctx: typer.Context,
        data_dir: Path = typer.Option(
            default_data_dir("pool"), "--data-dir", help="Mint database, keys, pool.json."
        ),
        host: str = typer.Option("127.0.0.1", "--host", help="Address SV2 and the mint HTTP API bind to."),
        sv2_port: int = typer.Option(DEFAULT_SV2_PORT, "--sv2-port", help="Stratum V2 port for miners."),
        sv1_port: int | None = typer.Option(
            None,
            "--sv1-port",
            help=f"Also serve Stratum V1 miners on this port (e.g. {DEFAULT_SV1_PORT}); their user is "
            "<pubkey>.<worker> and their work becomes claimable ehash.",
        ),
        http_port: int = typer.Option(
            DEFAULT_HTTP_PORT, "--http-port", help="Public Cashu HTTP API of the mint."
        ),
        admin_port: int = typer.Option(
            DEFAULT_ADMIN_PORT, "--admin-port", help="Admin stats and events (keep private)."
        ),
        mint_url: str | None = typer.Option(
            None,
            "--mint-url",
            help="The mint's public URL, told to miners and wallets (default http://HOST:HTTP-PORT).",
        ),
        admin_host: str = typer.Option("127.0.0.1", "--admin-host", help=ADMIN_HOST_HELP),
        admin_token: str | None = typer.Option(
            None, "--admin-token", envvar=TOKEN_ENV, help=ADMIN_TOKEN_HELP
        ),
        network: str = ln.NETWORK,
        node_rpc: str = typer.Option(
            None, "--node-rpc", help=NODE_RPC_HELP + " Off regtest: bitcoind's, default 127.0.0.1:<its port>."
        ),
        node_cookie: Path = typer.Option(
            None, "--node-cookie", help=NODE_COOKIE_HELP + " Off regtest: ~/.bitcoin/<network>/.cookie."
        ),
        payout_address: str = typer.Option(
            None,
            "--payout-address",
            help="Where block rewards go, an address of --network (default: one of the pool's own key).",
        ),
        network_difficulty: str = typer.Option(
            None,
            "--network-difficulty",
            help="Regtest only: a simulated network difficulty (T = T_max / D), default 1/1000.",
        ),
        maturity: int = typer.Option(
            None,
            "--maturity",
            min=1,
            help="Confirmations before a won epoch pays (default 100; ≥ 100 off regtest).",
        ),
        mint_fee: int = typer.Option(0, "--mint-fee", min=0, help="F_M: sats kept from each block reward."),
        shares_per_minute: float = typer.Option(
            DEFAULT_SHARES_PER_MINUTE,
            "--shares-per-minute",
            help="Vardiff aims at this share rate per channel.",
        ),
        start_level: int = typer.Option(
            DEFAULT_START_LEVEL_REGTEST, "--start-level", help="Level of channels that announce no hashrate."
        ),
        max_connections_per_ip: lim.MaxConnectionsPerIp = limits.DEFAULT_CONNECTIONS_PER_IP,
        handshake_timeout: lim.HandshakeTimeout = limits.DEFAULT_HANDSHAKE_TIMEOUT,
        idle_timeout: lim.IdleTimeout = limits.DEFAULT_IDLE_TIMEOUT,
        max_channels_per_connection: lim.MaxChannelsPerConnection = limits.DEFAULT_CHANNELS_PER_CONNECTION,
        max_messages_per_second: lim.MaxMessagesPerSecond = limits.DEFAULT_MESSAGES_PER_SECOND,
        message_burst: lim.MessageBurst = limits.DEFAULT_MESSAGE_BURST,
        max_body_bytes: lim.MaxBodyBytes = limits.DEFAULT_MAX_BODY_BYTES,
        rate_limit: lim.RateLimit = limits.DEFAULT_REQUESTS_PER_MINUTE,
        rate_limit_burst: lim.RateLimitBurst = limits.DEFAULT_REQUEST_BURST,
        lightning: str = ln.LIGHTNING,
        lnbits_url: str = ln.LNBITS_URL,
        lnbits_key: str = ln.LNBITS_KEY,
        lnd_url: str = ln.LND_URL,
        lnd_macaroon: Path = ln.LND_MACAROON,
        lnd_cert: Path = ln.LND_CERT,
        lightning_timeout: float = ln.LIGHTNING_TIMEOUT,
        restore_from: Path = ln.RESTORE_FROM,
        database: str = typer.Option(None, "--database", help=DATABASE_HELP),
        frontend: str = typer.Option(
            "1/1",
            "--frontend",
            help="I/N: this is front end I of N sharing one --database (each gets 1/N of the extranonce "
            "prefixes; all pay to one address).",
        ),
    ) -> None:
        """Run the pool (SV2 + ecash extension), its mint HTTP API and the admin listener until Ctrl-C."""
        from nutx_cli.pool.run import PoolOptions, serve_pool
        from nutx_cli.pool.settings import FrontEnd

        values = apply_config(ctx, data_dir)
        options = PoolOptions(
            data_dir=data_dir,
            host=values["host"],
            sv2_port=values["sv2_port"],
            sv1_port=values["sv1_port"],
            http_port=values["http_port"],
            admin=AdminAccess(values["admin_host"], values["admin_token"]),
            admin_port=values["admin_port"],
            node_rpc=values["node_rpc"],
            node_cookie=values["node_cookie"],
            payout_address=values["payout_address"],
            network_difficulty=None
            if values["network_difficulty"] is None
            else parse_difficulty(str(values["network_difficulty"])),
            maturity=values["maturity"],
            mint_fee=values["mint_fee"],
            shares_per_minute=values["shares_per_minute"],
            start_level=values["start_level"],
            sv2_limits=lim.listener_limits(values, values["max_channels_per_connection"]),
            http_limits=lim.http_limits(values),
            network=values["network"],
            lightning=ln.lightning_config(values),
            restore_from=values["restore_from"],
            mint_url=values["mint_url"],
            database=values["database"],
            frontend=FrontEnd.parse(str(values["frontend"])),
        )

        async def serve(stop: asyncio.Event) -> None:
            await serve_pool(options, stop, typer.echo)

        run_until_signalled(serve)

    @pool_app.command("backup")
    def backup(
        file: Path = typer.Argument(..., help="The new backup file (mode 0600): keep it offline."),
        data_dir: Path = typer.Option(default_data_dir("pool"), "--data-dir", help="The pool's data dir."),
    ) -> None:
        """Back up the pool: its mint's seed and ledger, its authority, Noise and payout keys."""
        from nutx_cli.pool.keys import KEY_FILES

        ln.backup(file, data_dir, "pool", KEY_FILES)

    app.add_typer(pool_app, name="pool")
