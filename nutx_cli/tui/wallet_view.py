"""What the dashboard needs of a wallet: a view it reads every few seconds, or why there is none.

The wallet library provides the view (`nutx_cli.wallet.view`, which also defines the summary's
shape); `nutx tui` opens it (`nutx_cli.cli.tui.open_wallet_view`). Without `--wallet-dir` the
wallet pane says why it shows nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from nutx_cli.wallet.view import WalletSummary


class WalletView(Protocol):
    def summary(self) -> WalletSummary:
        """Read the wallet now (called from a worker thread every few seconds)."""
        ...


@dataclass(frozen=True)
class NoWallet:
    """Why there is no wallet to show."""

    reason: str
