"""Keys and panes of the dashboard (Textual pilot), its wallet window and the `nutx tui` command line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from textual.widget import Widget
from textual.widgets import DataTable, TabbedContent

from nutx_cli.cli.tui import open_wallet_view
from nutx_cli.errors import NutxError
from nutx_cli.local import PoolInfo, write_pool_json
from nutx_cli.tui.app import DashboardApp
from nutx_cli.tui.client import backoff_delays, check_admin_url, default_admin_url
from nutx_cli.tui.panes import ChannelsPane, EpochsPane, LevelsPane, SharesPane, WalletPane
from nutx_cli.tui.wallet_view import NoWallet
from nutx_cli.wallet.view import WalletSummary
from tests.helpers.tui_recorded import RECORDED_NOW, recorded_model, screen_text


class CountingWallet:
    """A WalletView that counts its reads and can be made to fail like a locked database would."""

    def __init__(self, error: str | None = None) -> None:
        self.reads = 0
        self.error = error

    def summary(self) -> WalletSummary:
        self.reads += 1
        if self.error:
            raise NutxError(self.error)
        return {"ehash_by_epoch": {9: 1_000_000}, "sats": 5}


def app_with(wallet: CountingWallet | NoWallet) -> DashboardApp:
    return DashboardApp(recorded_model(), None, wallet, clock=lambda: RECORDED_NOW)


async def test_number_keys_switch_panes_and_focus_their_tables() -> None:
    app = app_with(NoWallet("no wallet"))
    async with app.run_test(size=(80, 24)) as pilot:
        tabs = app.query_one(TabbedContent)
        assert tabs.active == "overview"
        panes: list[tuple[str, str, type[Widget]]] = [
            ("2", "channels", ChannelsPane),
            ("3", "shares", SharesPane),
            ("4", "epochs", EpochsPane),
            ("5", "levels", LevelsPane),
        ]
        for key, pane, widget in panes:
            await pilot.press(key)
            table = app.query_one(widget).query_one(DataTable)
            assert tabs.active == pane and app.focused is table and table.row_count > 0
        await pilot.press("4", "down", "down")
        await pilot.pause()
        assert "Epoch 10 · won · our block #214" in screen_text(app)
        await pilot.press("6")
        assert tabs.active == "wallet" and "no wallet" in screen_text(app)
        await pilot.press("1")
        assert tabs.active == "overview" and "Blocks found 3" in screen_text(app)
        footer = screen_text(app).splitlines()[-1]
        assert "1-6 Panes" in footer and "r Refresh now" in footer and "q Quit" in footer
        await pilot.press("q")
    assert app.return_code == 0


async def test_wallet_pane_estimates_sats_and_r_reads_again() -> None:
    wallet = CountingWallet()
    app = app_with(wallet)
    async with app.run_test(size=(80, 24)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.press("6")
        assert app.query_one(WalletPane).query_one(DataTable).row_count == 1
        text = screen_text(app)
        assert "Sats 5 sat" in text and "mature" in text
        epoch9 = app.model.epoch_by_index(9)
        assert epoch9 is not None and epoch9.price is not None
        assert f"{int(1_000_000 * epoch9.price):,} sat" in text
        reads = wallet.reads
        await pilot.press("r")
        await app.workers.wait_for_complete()
        assert wallet.reads == reads + 1


async def test_a_wallet_that_cannot_be_read_says_so() -> None:
    app = app_with(CountingWallet(error="wallet.db is locked"))
    async with app.run_test(size=(80, 24)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.press("6")
        assert "cannot read the wallet: wallet.db is locked" in screen_text(app)


def test_wallet_view_without_a_wallet_dir() -> None:
    assert open_wallet_view(None) == NoWallet("no wallet: run `nutx tui --wallet-dir DIR` to see one")


def test_admin_url_defaults_and_checks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_admin_url() == "http://127.0.0.1:3340"
    (tmp_path / ".nutx" / "pool").mkdir(parents=True)
    write_pool_json(
        tmp_path / ".nutx" / "pool",
        PoolInfo("127.0.0.1:1", "key", "http://127.0.0.1:2", "http://127.0.0.1:4444", "regtest"),
    )
    assert default_admin_url() == "http://127.0.0.1:4444"
    assert check_admin_url("http://127.0.0.1:3340/") == "http://127.0.0.1:3340"
    with pytest.raises(NutxError, match="not an http URL"):
        check_admin_url("127.0.0.1:3340")


def test_backoff_doubles_up_to_a_ceiling() -> None:
    delays = backoff_delays(0.5, 4.0)
    assert [next(delays) for _ in range(6)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]


def test_cli_rejects_a_bad_admin_url_in_one_line() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "nutx_cli", "tui", "--pool-admin", "localhost:3340"],
        check=False,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "error: --pool-admin 'localhost:3340' is not an http URL; pass e.g. http://127.0.0.1:3340"
    )
