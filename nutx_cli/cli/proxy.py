"""`nutx proxy start`: Stratum V1 for real miners, SV2 + ecash upstream, with its own wallet (DESIGN.md §1)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import typer

from nutx_cli.admin_access import TOKEN_ENV, AdminAccess
from nutx_cli.cli import limits as lim
from nutx_cli.cli.config import ADMIN_HOST_HELP, ADMIN_TOKEN_HELP, apply_config, default_data_dir
from nutx_cli.core import limits
from nutx_cli.local import DEFAULT_PROXY_ADMIN_PORT, DEFAULT_SV1_PORT
from nutx_cli.service import run_until_signalled
from nutx_cli.sv1.session import MAX_USERS


def register(app: typer.Typer) -> None:
    proxy_app = typer.Typer(
        help="Stratum V1 proxy for real miners, paid in ehash to its own wallet.", no_args_is_help=True
    )

    @proxy_app.command("start")
    def start(
        ctx: typer.Context,
        data_dir: Path = typer.Option(
            default_data_dir("proxy"), "--data-dir", help="Proxy data; wallet in <dir>/wallet."
        ),
        host: str = typer.Option("127.0.0.1", "--host", help="Address the SV1 listener binds to."),
        sv1_port: int = typer.Option(DEFAULT_SV1_PORT, "--sv1-port", help="Stratum V1 port for miners."),
        admin_port: int = typer.Option(
            DEFAULT_PROXY_ADMIN_PORT, "--admin-port", help="Admin stats (keep private)."
        ),
        admin_host: str = typer.Option("127.0.0.1", "--admin-host", help=ADMIN_HOST_HELP),
        admin_token: str | None = typer.Option(
            None, "--admin-token", envvar=TOKEN_ENV, help=ADMIN_TOKEN_HELP
        ),
        pool: str = typer.Option(
            None, "--pool", help="Pool SV2 address HOST:PORT (default: the local pool.json)."
        ),
        authority_key: str = typer.Option(
            None, "--authority-key", help="The pool's authority key (with --pool)."
        ),
        mint: str = typer.Option(
            None, "--mint", help="Mint URL for a new wallet (default: the local pool's)."
        ),
        max_connections_per_ip: lim.MaxConnectionsPerIp = limits.DEFAULT_CONNECTIONS_PER_IP,
        handshake_timeout: lim.HandshakeTimeout = limits.DEFAULT_HANDSHAKE_TIMEOUT,
        idle_timeout: lim.IdleTimeout = limits.DEFAULT_IDLE_TIMEOUT,
        max_workers_per_connection: lim.MaxWorkersPerConnection = MAX_USERS,
        max_messages_per_second: lim.MaxMessagesPerSecond = limits.DEFAULT_MESSAGES_PER_SECOND,
        message_burst: lim.MessageBurst = limits.DEFAULT_MESSAGE_BURST,
    ) -> None:
        """Serve Stratum V1 miners until Ctrl-C; their shares earn ehash in <data-dir>/wallet."""
        from nutx_cli.proxy.run import ProxyOptions, serve_proxy

        values = apply_config(ctx, data_dir)
        options = ProxyOptions(
            data_dir=data_dir,
            host=values["host"],
            sv1_port=values["sv1_port"],
            limits=lim.listener_limits(values, values["max_workers_per_connection"]),
            admin=AdminAccess(values["admin_host"], values["admin_token"]),
            admin_port=values["admin_port"],
            pool=values["pool"],
            authority_key=values["authority_key"],
            mint=values["mint"],
        )

        async def serve(stop: asyncio.Event) -> None:
            await serve_proxy(options, stop, typer.echo)

        run_until_signalled(serve)

    app.add_typer(proxy_app, name="proxy")
