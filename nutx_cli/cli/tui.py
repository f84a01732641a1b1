"""`nutx tui`: the dashboard over a pool's admin listener and, optionally, a wallet (DESIGN.md §1, §5)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from nutx_cli.admin_access import TOKEN_ENV

if TYPE_CHECKING:  # Textual and the wallet are loaded only when the dashboard starts
    from nutx_cli.tui.wallet_view import NoWallet, WalletView


def open_wallet_view(wallet_dir: Path | None) -> WalletView | NoWallet:
    """The wallet pane's source: the wallet in `wallet_dir`, or why there is none."""
    from nutx_cli.tui.wallet_view import NoWallet
    from nutx_cli.wallet import view

    if wallet_dir is None:
        return NoWallet("no wallet: run `nutx tui --wallet-dir DIR` to see one")
    return view.open_wallet_view(wallet_dir)


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

        client = PoolAdminClient(pool_admin or default_admin_url(), token=admin_token)
        DashboardApp(DashboardModel(client.url), client, open_wallet_view(wallet_dir)).run()
