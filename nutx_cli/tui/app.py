"""The Textual app: a status line, six panes behind number keys, and a footer of keys.

The app is the client's `FeedSink`: what arrives updates the model, and a half-second tick redraws
when the model changed or a second passed (ages move). The clock is injected so recorded stats
render the same every time.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import ClassVar

from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Footer, TabbedContent, TabPane

from nutx_cli.core.pool_stats import PoolEvent, PoolStats
from nutx_cli.errors import NutxError
from nutx_cli.tui.client import PoolAdminClient
from nutx_cli.tui.model import DashboardModel
from nutx_cli.tui.panes import (
    ChannelsPane,
    EpochsPane,
    LevelsPane,
    OverviewPane,
    SharesPane,
    StatusBar,
    WalletPane,
)
from nutx_cli.tui.stats import Epoch
from nutx_cli.tui.wallet_view import NoWallet, WalletView
from nutx_cli.wallet.view import WalletSummary

WALLET_INTERVAL = 5.0
PANES: dict[str, type[OverviewPane | ChannelsPane | SharesPane | EpochsPane | LevelsPane]] = {
    "overview": OverviewPane,
    "channels": ChannelsPane,
    "shares": SharesPane,
    "epochs": EpochsPane,
    "levels": LevelsPane,
}


class DashboardApp(App[None]):
    TITLE = "nutx"
    ENABLE_COMMAND_PALETTE = False
    CSS = """
    StatusBar { dock: top; height: 1; background: $warning-darken-2; }
    StatusBar.-connected { background: $success-darken-2; color: $text; }
    StatusBar.-disconnected { background: $error; color: $text; }
    TabPane { padding: 0; height: 1fr; }
    TabbedContent { height: 1fr; }
    TabbedContent.-stale ContentSwitcher { opacity: 60%; }
    TabbedContent > ContentSwitcher { height: 1fr; }
    .box { padding: 0 1; border: round $primary; border-title-color: $accent; border-title-style: bold; }
    #overview-top { height: 7; }
    #pool-box { width: 36; height: 7; }
    #epoch-box { width: 1fr; height: 7; }
    #spark-box { height: 4; border-subtitle-color: $text-muted; }
    #spark { height: 2; }
    #recent-box { height: 1fr; border-subtitle-color: $text-muted; }
    DataTable { height: 1fr; }
    #shares-summary, #wallet-summary { height: 1; }
    .detail { height: 2; background: $boost; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("1", "pane('overview')", "Panes", key_display="1-6"),
        Binding("2", "pane('channels')", "Channels", show=False),
        Binding("3", "pane('shares')", "Shares", show=False),
        Binding("4", "pane('epochs')", "Epochs", show=False),
        Binding("5", "pane('levels')", "Levels", show=False),
        Binding("6", "pane('wallet')", "Wallet", show=False),
        Binding("r", "refresh_now", "Refresh now"),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(
        self,
        model: DashboardModel,
        client: PoolAdminClient | None,
        wallet: WalletView | NoWallet,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__()
        self.model = model
        self.client = client
        self.wallet = wallet
        self.wallet_summary: WalletSummary | NoWallet | str | None = (
            wallet if isinstance(wallet, NoWallet) else None
        )
        self.clock = clock
        self._drawn: tuple[int, int] | None = None

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status")
        with TabbedContent(initial="overview"):
            with TabPane("1 Overview", id="overview"):
                yield OverviewPane()
            with TabPane("2 Channels", id="channels"):
                yield ChannelsPane()
            with TabPane("3 Shares", id="shares"):
                yield SharesPane()
            with TabPane("4 Epochs", id="epochs"):
                yield EpochsPane()
            with TabPane("5 Levels", id="levels"):
                yield LevelsPane()
            with TabPane("6 Wallet", id="wallet"):
                yield WalletPane()
        yield Footer()

    def on_mount(self) -> None:
        self.redraw()
        self.set_interval(0.5, self._tick)
        if self.client is not None:
            self.run_worker(self.client.run(self), name="pool-feed", exit_on_error=False)
        if not isinstance(self.wallet, NoWallet):
            self.read_wallet()
            self.set_interval(WALLET_INTERVAL, self.read_wallet)

    # FeedSink: the client's reports.
    def stats_received(self, stats: PoolStats[Epoch]) -> None:
        self.model.apply_stats(stats, self.clock())

    def event_received(self, event: PoolEvent[Epoch]) -> None:
        self.model.apply_event(event)

    def connection_changed(self, connected: bool, detail: str) -> None:
        self.model.set_connection(connected, detail)
        self._tick()

    def events_changed(self, live: bool) -> None:
        self.model.set_live(live)

    def read_wallet(self) -> None:
        self.run_worker(self._read_wallet(), name="wallet", exclusive=True, group="wallet")

    async def _read_wallet(self) -> None:
        if isinstance(self.wallet, NoWallet):
            return
        try:
            self.wallet_summary = await asyncio.to_thread(self.wallet.summary)
        except (NutxError, OSError) as exc:
            self.wallet_summary = str(exc)
        self.redraw()

    def _tick(self) -> None:
        now = self.clock()
        if self._drawn != (self.model.version, int(now)):
            self.redraw()

    def redraw(self) -> None:
        """Draw the status line and the pane on screen (the others are drawn when they are shown)."""
        now = self.clock()
        self._drawn = (self.model.version, int(now))
        m = self.model
        self.query_one(StatusBar).show(m, now)
        tabs = self.query_one(TabbedContent)
        tabs.set_class(m.connection.connected is False, "-stale")
        pane = tabs.active
        if pane == "wallet":
            self.query_one(WalletPane).show(m, self.wallet_summary)
        else:
            self.query_one(PANES[pane]).show(m, now)

    def on_tabbed_content_tab_activated(self) -> None:
        self.redraw()

    def action_pane(self, pane: str) -> None:
        """Show a pane and put the keyboard on its table, so the arrow keys move through the rows."""
        self.query_one(TabbedContent).active = pane
        tables = self.query_one(f"#{pane}", TabPane).query(DataTable)
        if tables:
            tables.first().focus()

    def action_refresh_now(self) -> None:
        if self.client is not None:
            self.client.refresh_now()
        self.read_wallet()
