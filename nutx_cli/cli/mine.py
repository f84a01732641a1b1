"""`nutx mine --cpu`: the CPU test miner, SV2 + ecash straight to the pool, with its wallet (DESIGN.md §1)."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from nutx_cli.cli.config import apply_config, default_data_dir
from nutx_cli.errors import NutxError
from nutx_cli.local import read_pool_json
from nutx_cli.tui.format import hashrate

if TYPE_CHECKING:
    from nutx_cli.miner.miner import MinerStatus
from nutx_cli.service import run_until_signalled

STATUS_EVERY_SECONDS = 10.0
"""Without a terminal the live line is logged this often instead of redrawn."""


def status_line(status: MinerStatus) -> str:
    """The miner's live line: hashrate, level, epoch, shares, ehash this epoch, sats redeemed."""
    if not status.connected:
        return f"miner: connecting to the pool… {status.last_error or ''}".rstrip()
    rejected = sum(status.rejected.values())
    return (
        f"miner: {hashrate(status.hashrate)} · level {status.level} · epoch {status.epoch} · "
        f"shares {status.accepted} ok / {rejected} rejected · ehash this epoch {status.ehash_this_epoch}"
        + (f" · redeemed {status.redeemed_sats} sat" if status.redeemed_sats else "")
    )


def parse_host_port(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise NutxError(f"--pool {text!r} is not HOST:PORT, e.g. 127.0.0.1:34254")
    return host, int(port)


def register(app: typer.Typer) -> None:
    @app.command("mine")
    def mine(
        ctx: typer.Context,
        cpu: bool = typer.Option(
            False, "--cpu", help="Mine with this machine's CPU (the only miner built in)."
        ),
        threads: int = typer.Option(os.cpu_count() or 1, "--threads", min=1, help="Hashing processes."),
        wallet_dir: Path = typer.Option(
            default_data_dir("wallet"), "--wallet-dir", help="Where the ehash goes."
        ),
        user: str = typer.Option("cpu-miner", "--user", help="Name the pool shows for this channel."),
        auto_redeem: bool = typer.Option(
            False, "--auto-redeem", help="Turn mature ehash into sats on its own."
        ),
        pool: str = typer.Option(
            None, "--pool", help="Pool SV2 address HOST:PORT (default: the local pool.json)."
        ),
        authority_key: str = typer.Option(
            None, "--authority-key", help="The pool's authority key (with --pool)."
        ),
        mint: str = typer.Option(None, "--mint", help="The pool's mint URL (default: the local pool.json)."),
        pool_dir: Path = typer.Option(
            None, "--pool-dir", help="Data dir of a local pool to read pool.json from."
        ),
        claim: bool = typer.Option(
            False,
            "--claim",
            help="Mine on a plain SV2 channel under the wallet's pubkey; `nutx wallet claim` mints the work.",
        ),
    ) -> None:
        """Mine on the pool with SV2 + the ecash extension; every share becomes ehash in the wallet."""
        from nutx_cli.miner.miner import CpuMiner
        from nutx_cli.wallet.pool_redeem import PoolAddress
        from nutx_cli.wallet.wallet import Wallet

        if not cpu:
            raise NutxError(
                "say which miner to run: `nutx mine --cpu` (real miners connect to `nutx proxy start`)"
            )
        values = apply_config(ctx, wallet_dir)
        if values["pool"]:
            if not values["authority_key"]:
                raise NutxError("--pool needs --authority-key KEY (the pool prints it on start)")
            host, port = parse_host_port(values["pool"])
            key, mint_url = values["authority_key"], values["mint"]
        else:
            info = read_pool_json(values["pool_dir"])
            host, port = parse_host_port(info.sv2)
            key, mint_url = values["authority_key"] or info.authority_key, values["mint"] or info.http
        wallet = Wallet.open(wallet_dir, mint_url=mint_url)
        tty = sys.stderr.isatty()
        last_logged = [0.0]

        def show(status: MinerStatus) -> None:
            if tty:
                sys.stderr.write("\r\033[K" + status_line(status))
                sys.stderr.flush()
            elif time.monotonic() - last_logged[0] >= STATUS_EVERY_SECONDS:
                last_logged[0] = time.monotonic()
                typer.echo(status_line(status), err=True)

        miner = CpuMiner(
            PoolAddress(host, port, key),
            wallet,
            threads=values["threads"],
            user=values["user"],
            auto_redeem=values["auto_redeem"],
            claim=values["claim"],
            follow_mint=values["mint"] is None,
            on_status=show,
        )
        typer.echo(
            f"nutx miner: {values['threads']} hashing processes → pool {host}:{port}, wallet {wallet_dir}"
        )

        async def serve(stop: asyncio.Event) -> None:
            try:
                await miner.run(stop)
            finally:
                wallet.close()

        run_until_signalled(serve)
        if tty:
            sys.stderr.write("\n")
        typer.echo(
            f"miner stopped: {miner.status.accepted} shares accepted, "
            f"{sum(miner.status.rejected.values())} rejected, {miner.status.redeemed_sats} sat redeemed"
        )
