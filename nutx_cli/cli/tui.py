"""`nutx tui`: the dashboard over a pool's admin listener and, optionally, a wallet (DESIGN.md §1, §5)."""

from __future__ import annotations

from pathlib import Path

import typer

from nutx_cli.admin_access import TOKEN_ENV


def register(app: typer.Typer) -> None:
    @app.command("tui")
    def tui(
        pool_admin: str | None = typer.Option(
            None,
            "--pool-admin",
            help="The pool's admin URL (default: the local pool's pool.json, else :3340).",
        ),
        wallet_dir: Path | None = typer.Option(
            None, "--wallet-dir", help="A wallet to show next to the pool (ehash per epoch, sats)."
        ),
        admin_token: str | None = typer.Option(
            None, "--admin-token", envvar=TOKEN_ENV, help="The pool's --admin-token, if it has one."
        ),
    ) -> None:
        """Live dashboard: shares, channels, epochs, blocks, anonymity sets and a wallet."""
        # Imported here so that other `nutx` commands do not pay for loading Textual.
        from nutx_cli.tui.app import DashboardApp
        from nutx_cli.tui.client import PoolAdminClient, default_admin_url
        from nutx_cli.tui.model import DashboardModel
        from nutx_cli.tui.wallet_view import open_wallet_view

        client = PoolAdminClient(pool_admin or default_admin_url(), token=admin_token)
        DashboardApp(DashboardModel(client.url), client, open_wallet_view(wallet_dir)).run()
