"""Compatibility: the reference Cashu wallet (Nutshell, PyPI `cashu` 0.21.0) against `nutx mint serve`.

The wallet lives in its own virtualenv `.venv-cashu` (its pins clash with ours), built by
`scripts/cashu-venv`; without it this test is skipped and says why.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from nutx_cli.mint.lightning import FakeBackend
from tests.conftest import REPO_ROOT
from tests.helpers.procs import free_port, nutx_process, port_open

REPO = REPO_ROOT
CASHU = REPO / ".venv-cashu" / "bin" / "cashu"


def _wallet(url: str, home: Path):  # type: ignore[no-untyped-def]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MINT_", "CASHU_", "WALLET_"))}
    env.update(CASHU_DIR=str(home), TOR="FALSE", DEBUG="FALSE")

    def run(*args: str, wallet: str = "alice", verbose: bool = False, refused: bool = False) -> str:
        """The wallet's output; with `refused`, the command must fail with an error (and no traceback)."""
        flags = ["-v"] if verbose else []
        out = subprocess.run(
            [str(CASHU), "-h", url, "-w", wallet, "-y", *flags, *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        text = out.stdout + out.stderr
        failed = out.returncode != 0 or "Error" in text
        assert failed == refused and "Traceback" not in text, f"cashu {args}: {text}"
        return text

    return run


def balance(text: str) -> int:
    found = re.findall(r"Balance: (\d+) sat", text)
    assert found, text
    return int(found[-1])


def _need_reference_wallet() -> None:
    if not CASHU.exists():
        log = REPO / "build" / "cashu-venv.log"
        why = (
            f"its build failed, see {log}: {log.read_text()[-300:]!r}"
            if log.exists()
            else "run scripts/cashu-venv"
        )
        pytest.skip(f"SKIPPED: reference wallet not installed at {CASHU.parent.parent} ({why})")


@contextmanager
def _served_mint(tmp_path: Path) -> Iterator[tuple[str, Any]]:
    """`nutx mint serve` on a free port, and the reference wallet's runner for it."""
    _need_reference_wallet()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with nutx_process(
        ["mint", "serve", "--data-dir", str(tmp_path / "mint"), "--http-port", str(port)],
        tmp_path / "mint.log",
        ready=lambda: port_open(port),
    ):
        yield url, _wallet(url, tmp_path / "wallets")


@pytest.mark.e2e
def test_reference_wallet_against_mint_serve(tmp_path: Path) -> None:
    with _served_mint(tmp_path) as (url, cashu):
        info = cashu("info")
        assert url in info and "unit: sat" in info and "active: True" in info
        assert "Invoice paid" in cashu("invoice", "100")
        assert balance(cashu("balance")) == 100
        sent = cashu("send", "30")
        token = re.search(r"cashu[AB][A-Za-z0-9_\-=]+", sent)
        assert token, sent
        assert "Received 30 sat" in cashu("receive", token.group(0), wallet="bob")
        assert balance(cashu("balance", wallet="bob")) == 30
        # checkstate (NUT-07): the sender's reserved proofs read SPENT now and are dropped
        burned = cashu("burn", "--all", verbose=True)
        assert '"state": "SPENT"' in burned and "UNSPENT" not in burned and balance(burned) == 70
        invoice = FakeBackend().create_invoice(20_000, "melt test", 600).request
        assert "Invoice paid" in cashu("pay", invoice)
        assert balance(cashu("balance")) == 50


@pytest.mark.e2e
def test_reference_wallet_locked_tokens(tmp_path: Path) -> None:
    """NUT-11 with the reference wallet: a token locked to bob's key (SIG_INPUTS and SIG_ALL) is refused to
    carol by the mint, and bob receives it."""
    with _served_mint(tmp_path) as (_, cashu):
        assert "Invoice paid" in cashu("invoice", "100")
        lock = re.search(r"P2PK:(0[23][0-9a-f]{64})", cashu("lock", "p2pk", wallet="bob"))
        assert lock, "cashu lock p2pk printed no P2PK:<pubkey>"
        for flavour in ("P2PK", "P2PK-SIGALL"):
            sent = cashu("send", "30", "--lock", f"{flavour}:{lock.group(1)}")
            token = re.search(r"cashu[AB][A-Za-z0-9_\-=]+", sent)
            assert token, sent
            refused = cashu("receive", token.group(0), wallet="carol", refused=True)
            assert "Received" not in refused and "10001" in refused, refused
            assert "Received 30 sat" in cashu("receive", token.group(0), wallet="bob")
        assert balance(cashu("balance", wallet="bob")) == 60
        assert balance(cashu("balance", wallet="carol")) == 0
