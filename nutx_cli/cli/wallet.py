"""`nutx wallet …`: balance, list, redeem, send, receive, invoice, withdraw, restore, seed (issue 7), pubkey and
claim (claimed ehash, issue 13).

Every command opens the wallet in `--wallet-dir` (created with a new seed on first use) and talks
to the mint the wallet was created with (`--mint` for a new wallet or a mint that moved). The
logic lives in `nutx_cli.wallet`; this module parses and prints.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from nutx_cli.cli.config import default_data_dir
from nutx_cli.core.vocabulary import Unit
from nutx_cli.errors import NutxError

if TYPE_CHECKING:  # the wallet library loads httpx and the crypto cores: import it only when a command runs
    from nutx_cli.wallet import Wallet, WalletBalance

T = TypeVar("T")

WALLET_DIR_HELP = "Wallet directory (default ~/.nutx/wallet)."
MINT_HELP = "Mint URL (default: the one the wallet was created with; for a new wallet the local pool's)."


def _wallet_dir_option() -> Path:
    return typer.Option(default_data_dir("wallet"), "--wallet-dir", help=WALLET_DIR_HELP)


def _mint_option() -> str | None:
    return typer.Option(None, "--mint", help=MINT_HELP)


@contextlib.contextmanager
def _opened(wallet_dir: Path, mint: str | None) -> Iterator[Wallet]:
    from nutx_cli.wallet import Wallet

    wallet = Wallet.open(wallet_dir, mint_url=mint)
    try:
        yield wallet
    finally:
        wallet.close()


def _run(work: Callable[[], Awaitable[T]]) -> T:
    async def main() -> T:
        return await work()

    return asyncio.run(main())


def _price(balance_epoch_price: object) -> str:
    return "price not known yet" if balance_epoch_price is None else f"price {balance_epoch_price} sat/ehash"


def _print_balance(wallet: Wallet, balance: WalletBalance) -> None:
    typer.echo(f"mint     {wallet.mint_url}")
    typer.echo(f"sats     {balance.sats}")
    if not balance.epochs:
        typer.echo("ehash    none")
    for e in balance.epochs:
        estimate = "" if e.estimated_sats is None else f"  ≈ {e.estimated_sats} sats"
        typer.echo(
            f"ehash    epoch {e.epoch:<5} {e.status or 'unknown':<9} {e.amount:>14} ehash{estimate}  "
            f"({_price(e.price)})"
        )
    if balance.pending_shares:
        typer.echo(f"pending  {balance.pending_shares} shares waiting for the pool's answer")
    if balance.pending_sats or balance.pending_ehash:
        typer.echo(
            f"pending  {balance.pending_sats} sats, {balance.pending_ehash} ehash in unfinished requests "
            f"(`nutx wallet restore` settles them)"
        )


def register(app: typer.Typer) -> None:
    wallet_app = typer.Typer(
        help="The miner's wallet: ehash, sats, tokens, Lightning, restore.", no_args_is_help=True
    )
    app.add_typer(wallet_app, name="wallet")

    @wallet_app.callback()
    def quiet_http() -> None:
        """Keep the one-line-per-request logs of the HTTP client out of the wallet's output."""
        logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.getLogger().level))

    @wallet_app.command()
    def balance(wallet_dir: Path = _wallet_dir_option(), mint: str | None = _mint_option()) -> None:
        """ehash per epoch (status, estimated sats at the epoch price) and sats."""
        from nutx_cli.wallet.client import MintUnreachable

        with _opened(wallet_dir, mint) as wallet:

            async def sync() -> None:
                await wallet.sync_epochs()
                await wallet.check_invoices()

            try:
                _run(sync)
            except MintUnreachable:
                typer.echo(
                    f"(the mint at {wallet.mint_url} is not reachable: showing the stored balance)", err=True
                )
            except NutxError as exc:
                typer.echo(f"(could not sync with the mint: {exc}; showing the stored balance)", err=True)
            _print_balance(wallet, wallet.balance())

    @wallet_app.command("list")
    def list_(
        wallet_dir: Path = _wallet_dir_option(),
        mint: str | None = _mint_option(),
        limit: int = typer.Option(20, "--limit", min=0, help="How many history entries to show."),
    ) -> None:
        """Proofs held (by unit, epoch and amount), pending shares and recent history."""
        with _opened(wallet_dir, mint) as wallet:
            listing = wallet.listing(limit)
            typer.echo(f"mint {wallet.mint_url}")
            typer.echo("proofs:")
            if not listing.proofs:
                typer.echo("  none")
            for p in listing.proofs:
                where = Unit.SAT if p.unit == Unit.SAT else f"ehash epoch {p.epoch}"
                typer.echo(f"  {where:<18} {p.state:<9} {p.count:>6} × {p.amount}")
            if listing.pending_shares:
                typer.echo(f"pending shares: {listing.pending_shares}")
            typer.echo("history:")
            for h in listing.history:
                epoch = "" if h.epoch is None else f" epoch {h.epoch}"
                typer.echo(f"  {h.at:%Y-%m-%d %H:%M:%S}  {h.kind:<9} {h.amount:>12} {h.unit}{epoch}")

    @wallet_app.command()
    def redeem(
        wallet_dir: Path = _wallet_dir_option(),
        mint: str | None = _mint_option(),
        epoch: int | None = typer.Option(
            None, "--epoch", help="Only this epoch (default: every mature one)."
        ),
    ) -> None:
        """Turn mature ehash into sats (floor(ehash × price)), in requests of at most 1,000 proofs."""
        with _opened(wallet_dir, mint) as wallet:
            progress = Progress(
                TextColumn("redeeming"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                console=Console(stderr=True),
                transient=True,
            )
            task = progress.add_task("redeem", total=None)
            with progress:
                gained = _run(
                    lambda: wallet.redeem(
                        epoch, progress=lambda done, total: progress.update(task, completed=done, total=total)
                    )
                )
            if gained:
                typer.echo(f"redeemed: +{gained} sats; balance {wallet.balance().sats} sats")
            else:
                typer.echo("nothing to redeem: no mature ehash (see `nutx wallet balance`)")

    @wallet_app.command()
    def pubkey(wallet_dir: Path = _wallet_dir_option(), mint: str | None = _mint_option()) -> None:
        """The wallet's Cashu public key: mine as <pubkey>.<worker> on the pool's SV1 port or a standard
        SV2 channel, then `nutx wallet claim` (derived from the seed: a restore gives the same key)."""
        with _opened(wallet_dir, mint) as wallet:
            typer.echo(wallet.claim_pubkey)

    @wallet_app.command()
    def claim(wallet_dir: Path = _wallet_dir_option(), mint: str | None = _mint_option()) -> None:
        """Mint as ehash the work the pool credited to this wallet's pubkey (epochs won or mature)."""
        with _opened(wallet_dir, mint) as wallet:
            minted = _run(wallet.claim)
            for c in minted:
                typer.echo(f"claimed: {c.amount} ehash of epoch {c.epoch}")
            if not minted:
                typer.echo(
                    f"nothing to claim for {wallet.claim_pubkey}: no unpaid claim of a won or mature epoch "
                    "(claims of the open epoch wait for its block)"
                )

    @wallet_app.command()
    def send(
        amount: int = typer.Argument(..., min=1, help="How much to send."),
        unit: str = typer.Option("sat", "--unit", help="sat or ehash."),
        epoch: int | None = typer.Option(None, "--epoch", help="The epoch of the ehash to send."),
        memo: str | None = typer.Option(None, "--memo", help="A note for the receiver."),
        wallet_dir: Path = _wallet_dir_option(),
        mint: str | None = _mint_option(),
    ) -> None:
        """Print a cashuB token worth AMOUNT (the receiver runs `nutx wallet receive TOKEN`)."""
        with _opened(wallet_dir, mint) as wallet:
            typer.echo(_run(lambda: wallet.send(amount, unit, epoch, memo)))

    @wallet_app.command()
    def receive(
        token: str = typer.Argument(..., help="A cashuA/cashuB token."),
        wallet_dir: Path = _wallet_dir_option(),
        mint: str | None = _mint_option(),
    ) -> None:
        """Claim a token: its proofs are swapped at the mint for fresh ones of this wallet."""
        with _opened(wallet_dir, mint) as wallet:
            unit, amount, epoch = _run(lambda: wallet.receive(token))
            where = "" if epoch is None else f" of epoch {epoch}"
            typer.echo(f"received {amount} {unit}{where}")

    @wallet_app.command()
    def invoice(
        amount: int = typer.Argument(..., min=1, help="Sats to mint."),
        wait: float = typer.Option(30.0, "--wait", min=0, help="Seconds to wait for the payment."),
        wallet_dir: Path = _wallet_dir_option(),
        mint: str | None = _mint_option(),
    ) -> None:
        """Get sats over Lightning: prints the invoice to pay (on regtest it is paid at once)."""
        with _opened(wallet_dir, mint) as wallet:
            request, minted = _run(lambda: wallet.invoice(amount, wait))
            typer.echo(f"invoice  {request}")
            if minted:
                typer.echo(f"minted   {minted} sats; balance {wallet.balance().sats} sats")
            else:
                typer.echo("not paid yet: pay it, then `nutx wallet balance` collects the sats")

    @wallet_app.command()
    def withdraw(
        bolt11: str = typer.Argument(..., help="A BOLT11 invoice to pay."),
        wallet_dir: Path = _wallet_dir_option(),
        mint: str | None = _mint_option(),
    ) -> None:
        """Pay a Lightning invoice with sats (melt); unused fee reserve comes back as change."""
        with _opened(wallet_dir, mint) as wallet:
            result = _run(lambda: wallet.withdraw(bolt11))
            typer.echo(f"paid     {result['amount']} sats (fee {result['fee']} sats)")
            typer.echo(f"preimage {result['preimage']}")
            typer.echo(f"balance  {wallet.balance().sats} sats")

    @wallet_app.command()
    def restore(wallet_dir: Path = _wallet_dir_option(), mint: str | None = _mint_option()) -> None:
        """Recover sats and ehash from the seed phrase (asked for when the wallet dir is empty)."""
        from nutx_cli.wallet import Wallet

        words = None
        if not Wallet.exists(wallet_dir):
            words = typer.prompt("seed phrase (12 words)")
        wallet = Wallet.open(wallet_dir, mint_url=mint, mnemonic=words)
        try:
            report = _run(
                lambda: wallet.restore(progress=lambda what: typer.echo(f"scanning {what}", err=True))
            )
            if report.settled_pending:
                typer.echo(f"settled {report.settled_pending} proofs of unfinished requests")
            typer.echo("restored:")
            _print_balance(wallet, wallet.balance())
        finally:
            wallet.close()

    @wallet_app.command()
    def seed(
        wallet_dir: Path = _wallet_dir_option(),
        force: bool = typer.Option(False, "--force", help="Show the phrase again."),
    ) -> None:
        """Show the seed phrase once: write it down, it is the only way to restore this wallet."""
        with _opened(wallet_dir, None) as wallet:
            words = wallet.show_seed(again=force)
            typer.echo(
                "WARNING: anyone who sees these words can take this wallet's ecash. Write them down on "
                "paper, keep them safe, never share them.",
                err=True,
            )
            typer.echo(words)
