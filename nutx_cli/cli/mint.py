"""`nutx mint serve` (the mint and its Cashu HTTP API alone), `nutx mint info` and `nutx mint backup`
(DESIGN.md §1)."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import typer

from nutx_cli.cli import lightning as ln
from nutx_cli.cli import limits as lim
from nutx_cli.cli.config import DATABASE_HELP, apply_config, default_data_dir
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
        network: str = ln.NETWORK,
        mint_fee: int = typer.Option(0, "--mint-fee", min=0, help="F_M in sats, taken from each won epoch."),
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
    ) -> None:
        """Run the mint and its Cashu HTTP API until Ctrl-C."""
        from nutx_cli.mint import Mint, create_app
        from nutx_cli.mint.backup import restore_backup
        from nutx_cli.mint.http import serve_app

        values = apply_config(ctx, data_dir)
        network = values["network"]
        backend = ln.lightning_config(values).open_checked(network)
        if values["restore_from"] is not None:
            if values["database"]:
                raise NutxError(
                    "--restore-from restores a mint into the data dir; restore a PostgreSQL one with pg_restore"
                )
            restore_backup(values["restore_from"], data_dir, "mint", network)
        mint = Mint.open(
            data_dir,
            network=network,
            mint_fee=values["mint_fee"],
            lightning=backend,
            database=values["database"],
        )

        async def run(stop: asyncio.Event) -> None:
            settle = asyncio.create_task(mint.settle_melts(stop))
            try:
                url = f"http://{values['host']}:{values['http_port']}"
                log.info("mint %s (%s) serving %s", mint.sat_keyset.id, mint.network, url)
                typer.echo(
                    f"nutx mint on {url} ({mint.network}, Lightning: {backend.name}); data in {data_dir}",
                    err=True,
                )
                await serve_app(
                    create_app(mint, lim.http_limits(values)), values["host"], values["http_port"], stop
                )
            except OSError as exc:
                raise NutxError(f"{exc}; pick another --http-port") from None
            finally:
                stop.set()
                await settle
                mint.close()

        run_until_signalled(run)

    @mint_app.command("info")
    def info(
        ctx: typer.Context,
        data_dir: Path = typer.Option(
            None, "--data-dir", help="A mint's or pool's data dir (default: local pool, else ~/.nutx/mint)."
        ),
        as_json: bool = typer.Option(False, "--json", help="Print JSON instead of text."),
        lightning: str = ln.LIGHTNING,
        lnbits_url: str = ln.LNBITS_URL,
        lnbits_key: str = ln.LNBITS_KEY,
        lnd_url: str = ln.LND_URL,
        lnd_macaroon: Path = ln.LND_MACAROON,
        lnd_cert: Path = ln.LND_CERT,
        database: str = typer.Option(None, "--database", help=DATABASE_HELP),
    ) -> None:
        """Keysets, epochs and liabilities of a mint's data dir, against its Lightning balance.

        The backend is the one the data dir's config.toml names, or the --lightning flags."""
        from nutx_cli.mint import Mint

        chosen = data_dir or _info_dir()
        network = Mint.network_of(chosen, database)
        balance = _lightning_balance(ln.with_config_backend(dict(ctx.params), chosen), network)
        mint = Mint.open_to_read(chosen, database)
        try:
            summary = mint.summary_json(balance)
        finally:
            mint.close()
        if as_json:
            typer.echo(json.dumps(summary, indent=2))
            return
        typer.echo(f"mint in {mint.store.where if database else chosen} ({summary['network']})")
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
        for e in summary["epoch_liabilities"]:
            if e["ehash"]:
                worth = "no price yet" if e["sat"] is None else f"{e['sat']} sat"
                typer.echo(f"  epoch {e['epoch']:>4}  {e['status']:8}  {e['ehash']} ehash  = {worth}")
        typer.echo(f"owed: {summary['owed_sat']} sat (sat ecash + ehash of won epochs at their price)")
        if summary["lightning_balance_sat"] is None:
            typer.echo("lightning balance: not reported (no backend configured, or the fake one)")
        else:
            margin = summary["lightning_balance_sat"] - summary["owed_sat"]
            typer.echo(
                f"lightning balance: {summary['lightning_balance_sat']} sat "
                + (
                    f"(covers what is owed, {margin} sat to spare)"
                    if margin >= 0
                    else f"({-margin} sat short)"
                )
            )
        typer.echo(
            f"redeemed {summary['redeemed_sat']} sat, melted {summary['melted_sat']} sat, "
            f"paid out for orphaned epochs {summary['orphaned_paid_sat']} sat"
        )

    @mint_app.command("backup")
    def backup(
        file: Path = typer.Argument(..., help="The new backup file (mode 0600): keep it offline."),
        data_dir: Path = typer.Option(default_data_dir("mint"), "--data-dir", help="The mint's data dir."),
    ) -> None:
        """Back up the mint: its master seed and its ledger (restore with `nutx mint serve --restore-from`)."""
        ln.backup(file, data_dir, "mint")

    app.add_typer(mint_app, name="mint")


def _lightning_balance(values: dict[str, object], network: str) -> int | None:
    """What the configured backend can spend (msat); None without a real backend."""
    from nutx_cli.mint.lightning import LightningError

    if values.get("lightning") in (None, "fake", "none"):
        return None
    values = {**values, "lightning_timeout": 10.0}
    try:
        return ln.lightning_config(values).open(network).balance_msat()
    except LightningError as exc:
        raise NutxError(f"cannot ask the Lightning backend for its balance: {exc}") from None
