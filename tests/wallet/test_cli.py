"""`nutx wallet …` as a user runs it, against a real `nutx mint serve` process on a free port.

The pool's part (an epoch, signed shares, the block won and matured) is done first with the mint
library on the mint's data dir; then the mint process serves that data dir to the wallet commands.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from nutx_cli.core.accounting import redeem_value
from nutx_cli.mint import Mint
from nutx_cli.mint.lightning import FakeBackend
from nutx_cli.wallet import Wallet
from tests.helpers.mint import open_epoch, won_epoch
from tests.helpers.procs import free_port, nutx_process, port_open

pytestmark = pytest.mark.e2e


def nutx(home: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nutx_cli", "wallet", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "HOME": str(home)},
    )


def ok(home: Path, *args: str, stdin: str | None = None) -> str:
    out = nutx(home, *args, stdin=stdin)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Traceback" not in out.stderr
    return out.stdout


async def earn_ehash(mint_dir: Path, wallet_dir: Path, url: str) -> tuple[int, int]:
    """What `nutx mine --cpu` does with the wallet library, the pool's side done by the mint library."""
    mint = Mint.open(mint_dir)
    wallet = Wallet.open(wallet_dir, mint_url=url)
    try:
        epoch = open_epoch(mint)
        keyset = mint.keyset(mint.epoch(epoch).keyset_id)
        for amount in [1024] * 5 + [2048]:
            prepared = wallet.prepare_share(keyset.id, amount, epoch)
            sig = await mint.sign_share(keyset_id=keyset.id, amount=amount, B_=prepared.B_)
            wallet.complete_share(prepared, sig, keyset.public_keys[amount])
        won_epoch(mint, epoch, theta_b=5_000_000_000)
        price = mint.epoch(epoch).price
        assert price is not None
        return epoch, redeem_value([7168], price)
    finally:
        wallet.close()
        mint.close()


def test_wallet_commands_against_a_mint_process(tmp_path: Path) -> None:
    home, mint_dir, wallet_dir = tmp_path / "home", tmp_path / "mint", tmp_path / "wallet"
    home.mkdir()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    epoch, value = asyncio.run(earn_ehash(mint_dir, wallet_dir, url))
    w = ["--wallet-dir", str(wallet_dir)]
    with nutx_process(
        ["mint", "serve", "--data-dir", str(mint_dir), "--http-port", str(port)],
        tmp_path / "mint.log",
        ready=lambda: port_open(port),
    ):
        balance = ok(home, "balance", *w)
        assert f"mint     {url}" in balance and "sats     0" in balance
        assert re.search(
            rf"ehash +epoch {epoch} +mature +7168 ehash  ≈ {value} sats  \(price \d+/\d+ sat/ehash\)", balance
        ), balance

        redeemed = nutx(home, "redeem", *w)
        assert redeemed.returncode == 0, redeemed.stderr
        assert f"redeemed: +{value} sats; balance {value} sats" in redeemed.stdout

        minted = ok(home, "invoice", "1000", *w)
        assert minted.startswith("invoice  lnbcrt") and f"balance {value + 1000} sats" in minted

        token = ok(home, "send", "100", *w).strip()
        assert token.startswith("cashuB")
        assert (
            ok(home, "receive", token, "--wallet-dir", str(tmp_path / "bob"), "--mint", url)
            == "received 100 sat\n"
        )
        again = nutx(home, "receive", token, "--wallet-dir", str(tmp_path / "bob"))
        assert (
            again.returncode == 1
            and again.stderr == "error: this token was already received (its proofs are spent)\n"
        )

        invoice = FakeBackend().create_invoice(250_000, "rent", 3600).request
        withdrawn = ok(home, "withdraw", invoice, *w)
        assert "paid     250 sats (fee 0 sats)" in withdrawn
        left = value + 1000 - 100 - 250
        assert f"balance  {left} sats" in withdrawn

        listed = ok(home, "list", *w)
        assert "withdraw" in listed and "redeem" in listed and "reserved" in listed

        seed = nutx(home, "seed", *w)
        words = seed.stdout.strip()
        assert seed.returncode == 0 and len(words.split()) == 12 and "WARNING" in seed.stderr
        twice = nutx(home, "seed", *w)
        assert twice.returncode == 1 and "already shown" in twice.stderr and words not in twice.stdout

        bad = nutx(home, "send", "5", "--unit", "ehash", *w)
        assert (
            bad.returncode == 1
            and bad.stderr == "error: ehash of different epochs has different prices: pass --epoch E\n"
        )

        for f in wallet_dir.iterdir():
            f.unlink()
        restored = ok(home, "restore", *w, "--mint", url, stdin=words + "\n")
        # the 100 sats sent were claimed by bob; the proofs of the reserved change are back
        assert f"sats     {left}" in restored and "ehash    none" in restored
        assert f"sats     {left}" in ok(home, "balance", *w)

    offline = nutx(home, "balance", "--wallet-dir", str(tmp_path / "new"))
    assert offline.returncode == 0 and "mint     http://127.0.0.1:3338" in offline.stdout
    assert "not reachable" in offline.stderr
    down = nutx(home, "invoice", "5", *w)
    assert down.returncode == 1 and down.stderr.startswith(f"error: cannot reach the mint at {url}")
