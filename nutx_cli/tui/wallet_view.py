"""The dashboard's read-only window on a wallet: ehash held per epoch and sats.

The wallet library provides the view (`nutx_cli.wallet.view`); without `--wallet-dir` the wallet pane
says why it shows nothing. The summary has the shape of the proxy's `"wallet"` stats (DESIGN §5):
`{"ehash_by_epoch": {epoch: units}, "sats": n}`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypedDict


class WalletSummary(TypedDict):
    ehash_by_epoch: dict[int, int]
    sats: int


class WalletView(Protocol):
    def summary(self) -> WalletSummary:
        """Read the wallet now (called from a worker thread every few seconds)."""
        ...


@dataclass(frozen=True)
class NoWallet:
    """Why there is no wallet to show."""

    reason: str


def open_wallet_view(wallet_dir: Path | None) -> WalletView | NoWallet:
    if wallet_dir is None:
        return NoWallet("no wallet: run `nutx tui --wallet-dir DIR` to see one")
    from nutx_cli.wallet import view  # the wallet library imports this module's types

    return view.open_wallet_view(wallet_dir)
