"""The dashboard's read-only window on a wallet dir (`nutx tui --wallet-dir DIR`).

Reads the store only (no seed, no mint). `WalletSummary` is the shape of the proxy's `"wallet"`
stats (DESIGN §5), `{"ehash_by_epoch": {epoch: units}, "sats": n}`; the TUI shows it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TypedDict

from nutx_cli.errors import NutxError
from nutx_cli.wallet.balance import balance_of
from nutx_cli.wallet.store import DB_NAME, WalletStore


class WalletSummary(TypedDict):
    ehash_by_epoch: dict[int, int]
    sats: int


class StoreWalletView:
    """Opens the wallet's database on first read and keeps it open."""

    def __init__(self, wallet_dir: Path) -> None:
        self.wallet_dir = wallet_dir
        self._store: WalletStore | None = None

    def summary(self) -> WalletSummary:
        if self._store is None:
            if not (self.wallet_dir / DB_NAME).exists():
                raise NutxError(f"no wallet in {self.wallet_dir} yet")
            self._store = WalletStore.in_dir(self.wallet_dir)
        balance = balance_of(self._store)
        return {"ehash_by_epoch": balance.ehash_by_epoch, "sats": balance.sats}


def open_wallet_view(wallet_dir: Path) -> StoreWalletView:
    return StoreWalletView(wallet_dir)
