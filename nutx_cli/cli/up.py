"""`nutx up`: node, pool and one CPU miner with auto-redeem in one go, then the dashboard (DESIGN.md §1)."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from types import FrameType

import typer

from nutx_cli.cli.config import apply_config, default_data_dir
from nutx_cli.cli.tui import open_wallet_view
from nutx_cli.local import DEFAULT_ADMIN_PORT, DEFAULT_HTTP_PORT, DEFAULT_RPC_PORT, DEFAULT_SV2_PORT
from nutx_cli.private_files import private_dir
from nutx_cli.service import run_until_signalled

DEMO_NETWORK_DIFFICULTY = "1/200"
"""About 860 M hashes per block: a block every 20 s or so for one CPU core."""
DEMO_OTHER_MINER_EVERY = 15.0
DEMO_MATURITY = 3


def register(app: typer.Typer) -> None:
    @app.command("up")
    def up(
        ctx: typer.Context,
        data_dir: Path = typer.Option(
            default_data_dir("up"), "--data-dir", help="Holds node/, pool/, wallet/, logs/."
        ),
        threads: int = typer.Option(1, "--threads", min=1, help="Hashing processes of the CPU miner."),
        other_miner_every: float = typer.Option(
            DEMO_OTHER_MINER_EVERY,
            "--other-miner-every",
            min=0,
            help="Seconds between blocks by 'someone else' (0: never).",
        ),
        network_difficulty: str = typer.Option(
            DEMO_NETWORK_DIFFICULTY, "--network-difficulty", help="Regtest's simulated network difficulty."
        ),
        maturity: int = typer.Option(
            DEMO_MATURITY, "--maturity", min=1, help="Confirmations before a won epoch pays."
        ),
        start_level: int = typer.Option(236, "--start-level", help="The miner's first share level."),
        rpc_port: int = typer.Option(DEFAULT_RPC_PORT, "--rpc-port"),
        sv2_port: int = typer.Option(DEFAULT_SV2_PORT, "--sv2-port"),
        http_port: int = typer.Option(DEFAULT_HTTP_PORT, "--http-port"),
        admin_port: int = typer.Option(DEFAULT_ADMIN_PORT, "--admin-port"),
        headless: bool = typer.Option(False, "--headless", help="No dashboard: one progress line per event."),
        until_redeemed: bool = typer.Option(
            False,
            "--until-redeemed",
            help="With --headless: stop once the wallet redeemed sats, print a summary.",
        ),
        timeout: float = typer.Option(
            None, "--timeout", help="With --until-redeemed: give up after this many seconds."
        ),
    ) -> None:
        """Run node, pool and a CPU miner (auto-redeem) as child processes; Ctrl-C stops them all."""
        from nutx_cli.up.run import OtherMiner, Roles, UpOptions
        from nutx_cli.up.run import headless as run_headless

        private_dir(data_dir)
        v = apply_config(ctx, data_dir)
        options = UpOptions(
            data_dir=data_dir,
            threads=v["threads"],
            other_miner_every=v["other_miner_every"],
            network_difficulty=str(v["network_difficulty"]),
            maturity=v["maturity"],
            start_level=v["start_level"],
            rpc_port=v["rpc_port"],
            sv2_port=v["sv2_port"],
            http_port=v["http_port"],
            admin_port=v["admin_port"],
        )
        roles = Roles(options)
        other: OtherMiner | None = None

        def on_sigterm(signum: int, frame: FrameType | None) -> None:
            raise KeyboardInterrupt

        previous = signal.signal(signal.SIGTERM, on_sigterm)
        try:
            roles.start(typer.echo)
            if v["headless"]:
                other = OtherMiner(options, typer.echo)
                other.start()

                async def serve(stop: asyncio.Event) -> None:
                    progress = await run_headless(
                        options, roles, stop, typer.echo, v["until_redeemed"], v["timeout"]
                    )
                    typer.echo(progress.summary())

                signal.signal(signal.SIGTERM, previous)
                run_until_signalled(serve)
            else:
                from nutx_cli.tui.app import DashboardApp
                from nutx_cli.tui.client import PoolAdminClient
                from nutx_cli.tui.model import DashboardModel

                other = OtherMiner(options, lambda line: None)
                other.start()
                client = PoolAdminClient(options.admin_url)
                DashboardApp(DashboardModel(client.url), client, open_wallet_view(options.wallet_dir)).run()
        except KeyboardInterrupt:
            pass
        finally:
            if other is not None:
                other.stop()
            typer.echo("stopping miner, pool and node…")
            roles.stop()
            signal.signal(signal.SIGTERM, previous)
