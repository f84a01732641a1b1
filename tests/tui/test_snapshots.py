"""Snapshots of every pane at 80×24, drawn from the recorded stats in tests/data with a fixed clock.

Update after an intended change of the look: `pytest tests/test_tui_snapshots.py --snapshot-update`.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from textual.pilot import Pilot

from nutx_cli.tui.app import DashboardApp
from nutx_cli.tui.model import DashboardModel
from nutx_cli.tui.wallet_view import NoWallet, WalletView
from nutx_cli.wallet.view import WalletSummary
from tests.helpers.tui_recorded import RECORDED_NOW, RECORDED_URL, recorded_model

SnapCompare = Callable[..., bool]
NO_WALLET = NoWallet("the wallet package is not installed yet: nothing is read from /home/miner/.nutx/wallet")


class RecordedWallet:
    """A wallet holding ehash of several epochs (the WalletView the wallet package will provide)."""

    def summary(self) -> WalletSummary:
        return {
            "ehash_by_epoch": {12: 3_145_728, 11: 786_432, 10: 52_428_800, 9: 10_485_760, 8: 2_097_152},
            "sats": 21_000,
        }


def recorded_app(wallet: WalletView | NoWallet = NO_WALLET) -> DashboardApp:
    return DashboardApp(recorded_model(), None, wallet, clock=lambda: RECORDED_NOW)


@pytest.mark.parametrize(
    "key",
    ["1", "2", "3", "4", "5", "6"],
    ids=["overview", "channels", "shares", "epochs", "levels", "no-wallet"],
)
def test_pane(snap_compare: SnapCompare, key: str) -> None:
    assert snap_compare(recorded_app(), press=[key], terminal_size=(80, 24))


def test_epoch_details_follow_the_cursor(snap_compare: SnapCompare) -> None:
    assert snap_compare(recorded_app(), press=["4", "down", "down", "down"], terminal_size=(80, 24))


def test_wallet_pane(snap_compare: SnapCompare) -> None:
    async def read_wallet(pilot: Pilot[None]) -> None:
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()

    assert snap_compare(
        recorded_app(RecordedWallet()), press=["6"], run_before=read_wallet, terminal_size=(80, 24)
    )


def test_disconnected(snap_compare: SnapCompare) -> None:
    app = recorded_app()
    app.model.set_connection(False, f"cannot reach {RECORDED_URL}")
    app.model.set_live(False)
    app.clock = lambda: RECORDED_NOW + 12
    assert snap_compare(app, terminal_size=(80, 24))


def test_connecting_before_the_first_stats(snap_compare: SnapCompare) -> None:
    app = DashboardApp(DashboardModel(RECORDED_URL), None, NO_WALLET, clock=lambda: RECORDED_NOW)
    assert snap_compare(app, terminal_size=(80, 24))
