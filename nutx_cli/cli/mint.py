"""`nutx mint serve` (the mint and its Cashu HTTP API alone) and `nutx mint info` (DESIGN.md §1)."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import typer

from nutx_cli.cli import limits as lim
from nutx_cli.cli.config import apply_config, default_data_dir
from nutx_cli.core import limits
from nutx_cli.errors import NutxError
from nutx_cli.local import DEFAULT_HTTP_PORT, nutx_home
from nutx_cli.service import run_until_signalled

log = logging.getLogger("nutx.mint")


def _info_dir() -> Path:
    """The local pool's mint if there is one, else ~/.nutx/mint."""
    from nutx_cli.mint.store import DB_NAME

    pool = nutx_home() / "pool"
    for candidate in (pool, pool / "mint"):
        if (candidate / DB_NAME).exists():
            return candidate
    return default_data_dir("mint")


def register(app: typer.Typer) -> None:
    mint_app = typer.Typer(
        help="The Cashu mint alone (no pool): serve its HTTP API, or summarise it.", no_args_is_help=True
    )

    @mint_app.command("serve")
    def serve(
        ctx: typer.Context,
        data_dir: Path = typer.Option(
            default_data_dir("mint"), "--data-dir", help="Mint database and config."
        ),
        host: str = typer.Option("127.0.0.1", "--host", help="Address the HTTP API listens on."),
        http_port: int = typer.Option(DEFAULT_HTTP_PORT, "--http-port", help="Cashu HTTP API port."),
        network: str = typer.Option(
            "regtest", "--network", help="regtest (fake Lightning) or a real network."
        ),
        mint_fee: int = typer.Option(0, "--mint-fee", min=0, help="F_M in sats, taken from each won epoch."),
        max_body_bytes: lim.MaxBodyBytes = limits.DEFAULT_MAX_BODY_BYTES,
        rate_limit: lim.RateLimit = limits.DEFAULT_REQUESTS_PER_MINUTE,
        rate_limit_burst: lim.RateLimitBurst = limits.DEFAULT_REQUEST_BURST,
    ) -> None:
        """Run the mint and its Cashu HTTP API until Ctrl-C."""
        from nutx_cli.mint import Mint, create_app
        from nutx_cli.mint.http import serve_app

        values = apply_config(ctx, data_dir)
        mint = Mint.open(data_dir, network=values["network"], mint_fee=values["mint_fee"])

        async def run(stop: asyncio.Event) -> None:
            try:
                url = f"http://{values['host']}:{values['http_port']}"
                log.info("mint %s (%s) serving %s", mint.sat_keyset.id, mint.network, url)
                typer.echo(f"nutx mint on {url} ({mint.network}); data in {data_dir}", err=True)
                await serve_app(
                    create_app(mint, lim.http_limits(values)), values["host"], values["http_port"], stop
                )
            except OSError as exc:
                raise NutxError(f"{exc}; pick another --http-port") from None
            finally:
                mint.close()

        run_until_signalled(run)

    @mint_app.command("info")
    def info(
        data_dir: Path = typer.Option(
            None, "--data-dir", help="A mint's or pool's data dir (default: local pool, else ~/.nutx/mint)."
        ),
        as_json: bool = typer.Option(False, "--json", help="Print JSON instead of text."),
    ) -> None:
        """Keysets, epochs and outstanding liabilities of a mint's data dir."""
        from nutx_cli.mint import Mint

        chosen = data_dir or _info_dir()
        mint = Mint.open_to_read(chosen)
        try:
            summary = mint.summary_json()
        finally:
            mint.close()
        if as_json:
            typer.echo(json.dumps(summary, indent=2))
            return
        typer.echo(f"mint in {chosen} ({summary['network']})")
        typer.echo("keysets:")
        for k in summary["keysets"]:
            epoch = f" epoch {k['epoch']} {k['status']}" if "epoch" in k else ""
            typer.echo(f"  {k['id']}  {k['unit']:5}  {'active' if k['active'] else 'inactive'}{epoch}")
        typer.echo("epochs:" if summary["epochs"] else "epochs: none yet")
        for e in summary["epochs"]:
            typer.echo(
                f"  {e['epoch']:>4}  {e['status']:8}  work {e['work']}  θ_C {e['theta_c']}  "
                f"price {e['price']}  paid {e['paid']} sat"
            )
        typer.echo("outstanding: " + ", ".join(f"{v} {u}" for u, v in summary["liabilities"].items()))
        typer.echo(
            f"redeemed {summary['redeemed_sat']} sat, melted {summary['melted_sat']} sat, "
            f"paid out for orphaned epochs {summary['orphaned_paid_sat']} sat"
        )

    app.add_typer(mint_app, name="mint")
