"""Compatibility: the reference Cashu wallet (Nutshell, PyPI `cashu` 0.21.0) against `nutx mint serve`.

The wallet lives in its own virtualenv `.venv-cashu` (its pins clash with ours), built by
`scripts/cashu-venv`; without it this test is skipped and says why.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from nutx_cli.mint.lightning import FakeBackend
from tests.conftest import REPO_ROOT
from tests.helpers.procs import free_port, nutx_process, port_open

REPO = REPO_ROOT
CASHU = REPO / ".venv-cashu" / "bin" / "cashu"


def _wallet(url: str, home: Path):  # type: ignore[no-untyped-def]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MINT_", "CASHU_", "WALLET_"))}
    env.update(CASHU_DIR=str(home), TOR="FALSE", DEBUG="FALSE")

    def run(*args: str, wallet: str = "alice", verbose: bool = False) -> str:
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
        assert out.returncode == 0 and "Error" not in text and "Traceback" not in text, (
            f"cashu {args}: {text}"
        )
        return text

    return run


def balance(text: str) -> int:
    found = re.findall(r"Balance: (\d+) sat", text)
    assert found, text
    return int(found[-1])


@pytest.mark.e2e
def test_reference_wallet_against_mint_serve(tmp_path: Path) -> None:
    if not CASHU.exists():
        log = REPO / "build" / "cashu-venv.log"
        why = (
            f"its build failed, see {log}: {log.read_text()[-300:]!r}"
            if log.exists()
            else "run scripts/cashu-venv"
        )
        pytest.skip(f"SKIPPED: reference wallet not installed at {CASHU.parent.parent} ({why})")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with nutx_process(
        ["mint", "serve", "--data-dir", str(tmp_path / "mint"), "--http-port", str(port)],
        tmp_path / "mint.log",
        ready=lambda: port_open(port),
    ):
        cashu = _wallet(url, tmp_path / "wallets")
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
