"""The dashboard's panes. Each one draws itself from a `DashboardModel` and a `now`; none holds state
of its own beyond what Textual keeps (cursor, scroll), and all text comes from `format`."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import ClassVar, Generic, TypeVar

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Sparkline, Static

from nutx_cli.core.epoch_json import Epoch
from nutx_cli.core.epoch_status import DEAD, DECIDED_WON, EpochStatus
from nutx_cli.core.networks import NetworkError, rules
from nutx_cli.core.pool_stats import ChannelSummary, ShareEvent
from nutx_cli.core.targets import TargetError, amount_of_level, difficulty_of_level, work_of_level
from nutx_cli.tui import format as fmt
from nutx_cli.tui.model import DashboardModel
from nutx_cli.tui.wallet_view import NoWallet
from nutx_cli.wallet.view import WalletSummary

Row = Sequence[RenderableType | str]
Item = TypeVar("Item")


def fill_table(table: DataTable[RenderableType | str], rows: Iterable[Row]) -> None:
    """Replace a table's rows, keeping the cursor where it was."""
    cursor = table.cursor_coordinate
    table.clear()
    table.add_rows(rows)
    if table.row_count:
        table.cursor_coordinate = cursor if cursor.row < table.row_count else cursor._replace(row=0)


def new_table(*columns: str) -> DataTable[RenderableType | str]:
    table: DataTable[RenderableType | str] = DataTable(cursor_type="row", zebra_stripes=True)
    table.add_columns(*columns)
    return table


def key_values(rows: Iterable[tuple[str, RenderableType | str]]) -> Table:
    grid = Table.grid(padding=(0, 1))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(no_wrap=True, overflow="ellipsis")
    for key, value in rows:
        grid.add_row(key, value)
    return grid


def status_text(status: str) -> Text:
    return Text(status, style=fmt.status_style(status))


def share_result(share: ShareEvent) -> Text:
    if share.accepted:
        return Text("✓ accepted", style="green")
    return Text(f"✗ {share.reason or 'rejected'}", style="bold red")


def channel_name(model: DashboardModel, channel_id: str) -> str:
    channel = model.channels.get(channel_id)
    return f"{channel_id} {channel.user}" if channel is not None and channel.user else channel_id


class StatusBar(Static):
    """One line at the top: connected or not, to what, and how fresh the data is."""

    def show(self, model: DashboardModel, now: float) -> None:
        c = model.connection
        self.set_class(c.connected is True, "-connected")
        self.set_class(c.connected is False, "-disconnected")
        line = Text()
        if c.connected is None:
            line.append(f" ◌ CONNECTING to {model.url}…", style="bold")
        elif c.connected:
            line.append(" ● CONNECTED ", style="bold")
            line.append(f" {model.url}")
            line.append(" · events live" if c.live else " · no event stream")
            if model.pool is not None:
                line.append(f" · {model.pool.network} · tip #{model.pool.tip.height}")
        else:
            line.append(" ○ DISCONNECTED ", style="bold")
            line.append(f" {c.detail} · retrying")
            if model.updated_at is not None:
                line.append(f" · data {fmt.age(now - model.updated_at)} old")
        self.update(line)


class OverviewPane(Vertical):
    """The pool, the current epoch, the hashrate over time and the latest shares, at a glance."""

    def compose(self) -> ComposeResult:
        with Horizontal(id="overview-top"):
            yield Static(id="pool-box", classes="box")
            yield Static(id="epoch-box", classes="box")
        with Vertical(id="spark-box", classes="box"):
            yield Sparkline([], id="spark")
        yield Static(id="recent-box", classes="box")

    def show(self, model: DashboardModel, now: float) -> None:
        pool_box = self.query_one("#pool-box", Static)
        pool_box.border_title = "Pool"
        pool = model.pool
        if pool is None:
            pool_box.update(Text("waiting for the pool's first stats…", style="dim"))
        else:
            pool_box.update(
                key_values(
                    [
                        ("Hashrate", Text(fmt.hashrate(pool.hashrate), style="bold cyan")),
                        ("Channels", str(pool.channels)),
                        (
                            "Blocks found",
                            Text(str(pool.blocks_found), style="bold green" if pool.blocks_found else ""),
                        ),
                        ("Tip", f"#{pool.tip.height} {fmt.short_hash(pool.tip.hash)}"),
                        ("Network", f"{pool.network} · up {fmt.age(pool.uptime)}"),
                    ]
                )
            )
        self._show_epoch(model, now)
        self._show_history(model)
        self._show_recent(model, now)

    def _show_epoch(self, model: DashboardModel, now: float) -> None:
        box = self.query_one("#epoch-box", Static)
        epoch = model.epoch
        if epoch is None:
            box.border_title = "Current epoch"
            box.update(Text("no epoch yet", style="dim"))
            return
        box.border_title = f"Epoch {epoch.epoch} · [{fmt.status_style(epoch.status)}]{epoch.status}[/]"
        block = model.last_block
        last = (
            fmt.NONE if block is None else f"#{block.height} {fmt.ago(block.time, now)} (epoch {block.epoch})"
        )
        fates = [e.status for e in model.epochs if e.status != EpochStatus.OPEN]
        record = Text()
        for status in (EpochStatus.WON, EpochStatus.MATURE, EpochStatus.LOST, EpochStatus.ORPHANED):
            if status in fates:
                record.append(f"{fates.count(status)} {status} ", style=fmt.status_style(status))
        box.update(
            key_values(
                [
                    ("Age", fmt.age(now - epoch.started_at)),
                    ("Work", f"{fmt.ehash(epoch.work)} ehash"),
                    ("Keyset", fmt.short_hash(epoch.keyset_id)),
                    ("Block", last),
                    ("Epochs", record or fmt.NONE),
                ]
            )
        )

    def _show_history(self, model: DashboardModel) -> None:
        box = self.query_one("#spark-box", Vertical)
        rates = [s.hashrate for s in model.history]
        box.border_title = "Pool hashrate over time"
        if rates:
            box.border_subtitle = f"now {fmt.hashrate(rates[-1])} · peak {fmt.hashrate(max(rates))}"
        self.query_one("#spark", Sparkline).data = rates

    def _show_recent(self, model: DashboardModel, now: float) -> None:
        box = self.query_one("#recent-box", Static)
        box.border_title = "Latest shares"
        accepted, rejected = model.share_totals()
        box.border_subtitle = f"{accepted} accepted · {sum(rejected.values())} rejected"
        grid = Table.grid(padding=(0, 2))
        for share in list(model.shares)[:6]:
            grid.add_row(
                fmt.ago(share.time, now),
                channel_name(model, share.channel),
                f"L{share.level}",
                f"{fmt.ehash(share.amount)} ehash",
                share_result(share),
            )
        box.update(grid if grid.row_count else Text("no shares yet", style="dim"))


class DetailTable(Vertical, Generic[Item]):
    """A table of items and, under it, two lines about the highlighted one."""

    COLUMNS: ClassVar[tuple[str, ...]] = ()

    def __init__(self) -> None:
        super().__init__()
        self._items: list[Item] = []

    def compose(self) -> ComposeResult:
        yield new_table(*self.COLUMNS)
        yield Static(classes="detail")

    def fill(self, items: Iterable[Item], row: Callable[[Item], Row]) -> None:
        self._items = list(items)
        fill_table(self.query_one(DataTable), [row(item) for item in self._items])
        self._show_detail()

    def detail(self, item: Item) -> Text:
        raise NotImplementedError

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_detail()

    def _show_detail(self) -> None:
        row = self.query_one(DataTable).cursor_row
        text = self.detail(self._items[row]) if 0 <= row < len(self._items) else ""
        self.query_one(".detail", Static).update(text)


class ChannelsPane(DetailTable[ChannelSummary]):
    """One row per mining channel: its level, difficulty, hashrate and share counts."""

    COLUMNS = ("Ch", "User", "Lvl", "Diff", "1m", "5m", "1h", "Acc", "Rej", "Last")

    def show(self, model: DashboardModel, now: float) -> None:
        def row(c: ChannelSummary) -> Row:
            rejected = c.rejected_total
            return (
                c.id,
                c.user,
                str(c.level),
                fmt.difficulty(c.difficulty),
                fmt.hashrate(c.hashrate.get("1m")),
                fmt.hashrate(c.hashrate.get("5m")),
                fmt.hashrate(c.hashrate.get("1h")),
                Text(str(c.accepted), style="green"),
                Text(str(rejected), style="bold red" if rejected else "dim"),
                fmt.age(None if c.last_share is None else now - c.last_share),
            )

        self.fill(model.channels.values(), row)

    def detail(self, c: ChannelSummary) -> Text:
        text = Text(f" Channel {c.id} {c.user} · level {c.level} · 1d {fmt.hashrate(c.hashrate.get('1d'))}")
        text.append(f" · best share {fmt.difficulty(c.best_share)}")
        text.append("\n rejected: ")
        if c.rejected:
            text.append(", ".join(f"{n} {reason}" for reason, n in sorted(c.rejected.items())), style="red")
        else:
            text.append("none", style="green")
        return text


class SharesPane(Vertical):
    """Shares as they arrive on the event stream, newest first."""

    def compose(self) -> ComposeResult:
        yield Static(id="shares-summary")
        yield new_table("When", "Channel", "Lvl", "ehash", "Result")

    def show(self, model: DashboardModel, now: float) -> None:
        accepted, rejected = model.share_totals()
        summary = Text(f" {accepted} accepted", style="green")
        summary.append(f" · {sum(rejected.values())} rejected", style="red" if rejected else "dim")
        if rejected:
            summary.append(" (" + ", ".join(f"{r} {n}" for r, n in sorted(rejected.items())) + ")")
        summary.append(f" · last {len(model.shares)} shares", style="dim")
        if not model.connection.live:
            summary.append(" · event stream down", style="bold red")
        self.query_one("#shares-summary", Static).update(summary)
        fill_table(
            self.query_one(DataTable),
            [
                (
                    fmt.ago(s.time, now),
                    channel_name(model, s.channel),
                    str(s.level),
                    fmt.ehash(s.amount),
                    share_result(s),
                )
                for s in model.shares
            ],
        )


def epoch_row(e: Epoch) -> Row:
    priced = e.status in DECIDED_WON
    return (
        str(e.epoch),
        status_text(e.status),
        fmt.NONE if e.height is None else f"#{e.height}",
        fmt.btc(e.theta_b, unit=False),
        fmt.btc(e.theta_c, unit=False),
        fmt.ehash(e.work),
        fmt.price(e.price),
        fmt.btc(e.paid, unit=False) if priced else fmt.NONE,
    )


def epoch_detail(e: Epoch) -> Text:
    """Two lines about one epoch: its block and confirmations, then its keyset, fee and payout."""
    text = Text(f" Epoch {e.epoch} · ")
    text.append(e.status, style=fmt.status_style(e.status))
    if e.block_hash:
        text.append(f" · our block #{e.height} {fmt.short_hash(e.block_hash)}")
    elif e.height is not None:
        text.append(f" · ended by someone else's block #{e.height}")
    if e.confirmations is not None:
        text.append(f" · {e.confirmations} confirmations")
    text.append(f"\n keyset {fmt.short_hash(e.keyset_id)}")
    if e.theta_c is not None:
        text.append(
            f" · fee {fmt.sats(e.mint_fee)} · paid {fmt.coins(e.paid)} of {fmt.coins(e.theta_c)}"
            f" ({fmt.percent(e.paid, e.theta_c)})"
        )
    return text


class EpochsPane(DetailTable[Epoch]):
    """Every epoch the pool reports, newest first, with its fate and what it paid."""

    COLUMNS = ("#", "Status", "Block", "θ_B", "θ_C", "Work", "Price", "Paid")

    def compose(self) -> ComposeResult:
        yield Static(
            Text(" Amounts in BTC · price in sat per ehash unit · θ_C = θ_B − mint fee", style="dim")
        )
        yield from super().compose()

    def show(self, model: DashboardModel, now: float) -> None:
        self.fill(model.epochs, epoch_row)

    def detail(self, item: Epoch) -> Text:
        return epoch_detail(item)


class LevelsPane(Vertical):
    """Anonymity sets: how many channels mine at each level (a share could have come from any of them)."""

    def compose(self) -> ComposeResult:
        yield Static(
            Text(
                " Anonymity set = channels mining at a level: 1 is identifiable, 2–4 weak, 5+ ok", style="dim"
            )
        )
        yield new_table("Level", "Difficulty", "ehash/share", "Hashes/share", "Channels", "Set")

    def show(self, model: DashboardModel, now: float) -> None:
        k_max = self._k_max(model)
        rows: list[Row] = []
        for level, count in model.levels.items():
            try:
                amount = fmt.ehash(amount_of_level(level, k_max)) if k_max is not None else fmt.NONE
            except TargetError:
                amount = fmt.NONE
            style = fmt.anonymity_style(count)
            rows.append(
                (
                    str(level),
                    fmt.difficulty(difficulty_of_level(level)),
                    amount,
                    fmt.si(work_of_level(level)),
                    Text(str(count), style=style),
                    Text("█" * min(count, 20), style=style),
                )
            )
        fill_table(self.query_one(DataTable), rows)

    @staticmethod
    def _k_max(model: DashboardModel) -> int | None:
        """The easiest level, which sets what a share is worth: from the epoch, the pool, or the network."""
        if model.epoch is not None:
            return model.epoch.k_max
        if model.pool is None:
            return None
        if model.pool.k_max is not None:
            return model.pool.k_max
        try:
            return rules(model.pool.network).k_max
        except NetworkError:
            return None


class WalletPane(Vertical):
    """The wallet's ehash per epoch, what it should redeem for, and its sats."""

    def compose(self) -> ComposeResult:
        yield Static(id="wallet-summary")
        yield new_table("Epoch", "Status", "ehash", "Price", "≈ sats")

    def show(self, model: DashboardModel, wallet: WalletSummary | NoWallet | str | None) -> None:
        summary = self.query_one("#wallet-summary", Static)
        table = self.query_one(DataTable)
        if wallet is None or isinstance(wallet, (NoWallet, str)):
            if isinstance(wallet, NoWallet):
                text = Text(f" {wallet.reason}", style="yellow")
            elif isinstance(wallet, str):
                text = Text(f" cannot read the wallet: {wallet}", style="bold red")
            else:
                text = Text(" reading the wallet…", style="dim")
            summary.update(text)
            fill_table(table, [])
            return
        rows: list[Row] = []
        estimate = 0
        for index, amount in sorted(wallet["ehash_by_epoch"].items(), reverse=True):
            epoch = model.epoch_by_index(index)
            status = "?" if epoch is None else epoch.status
            value = None if epoch is None else fmt.estimated_sats(amount, epoch.price)
            if status in DEAD:
                value = 0
            estimate += value or 0
            rows.append(
                (
                    str(index),
                    status_text(status),
                    fmt.ehash(amount),
                    fmt.price(None if epoch is None else epoch.price),
                    fmt.sats(value),
                )
            )
        line = Text(" Sats ", style="bold")
        line.append(fmt.sats(wallet["sats"]), style="bold green")
        line.append(f" · ehash worth ≈ {fmt.sats(estimate)} at known prices", style="dim")
        summary.update(line)
        fill_table(table, rows)
