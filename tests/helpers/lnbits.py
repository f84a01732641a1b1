"""A real LNbits server for the Lightning backend tests: PyPI `lnbits` in `.venv-lnbits` (built by
scripts/lnbits-venv), its FakeWallet funding source, its data in a temp dir, on a free loopback port.

It is bootstrapped as an operator would through its own REST API: the first-install call names the
superuser (a fresh LNbits answers every other request with a redirect to that page), wallets come from
`POST /api/v1/account`, and the superuser credits a wallet (`PUT /users/api/v1/balance`) the way an
operator tops one up. LNbits' calls to the internet (extension manifests, exchange rates) are switched off.
"""

from __future__ import annotations

import os
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import httpx
import pytest

from tests.helpers.procs import free_port, port_open
from tests.helpers.waits import until

REPO = Path(__file__).resolve().parents[2]
VENV = REPO / ".venv-lnbits"
BUILD_LOG = REPO / "build" / "lnbits-venv.log"
ADMIN = ("nutxadmin", "correct-horse-battery")


def lnbits_python() -> Path:
    """The LNbits venv's python, or a test failure that says why it is missing (never a skip)."""
    python = VENV / "bin" / "python"
    if not python.exists():
        why = (
            f"its build failed: {BUILD_LOG.read_text()[-600:]}"
            if BUILD_LOG.exists()
            else "run scripts/lnbits-venv"
        )
        pytest.fail(f"the LNbits virtualenv {VENV} is missing ({why})")
    return python


@dataclass(frozen=True)
class LNbitsWallet:
    id: str
    admin_key: str


class LNbitsServer:
    """One LNbits process; stop it with `stop` (by PID)."""

    def __init__(self, data_dir: Path) -> None:
        python = lnbits_python()
        site = next((VENV / "lib").glob("python3*/site-packages"))
        data_dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = data_dir / "lnbits.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("LNBITS_")}
        env.update(
            LNBITS_DATA_FOLDER=str(data_dir),
            LNBITS_EXTENSIONS_PATH=str(data_dir),
            LNBITS_BACKEND_WALLET_CLASS="FakeWallet",
            LNBITS_EXTENSIONS_MANIFESTS="[]",
            LNBITS_WASM_EXTENSIONS_MANIFESTS="[]",
            LNBITS_EXTENSIONS_BUILDER_MANIFEST_URL="",
            LNBITS_PRICE_AGGREGATOR_ENABLED="false",
            LNBITS_EXCHANGE_RATE_PROVIDERS="[]",
        )
        self._log: IO[bytes] = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        # LNbits finds its static files relative to the working directory: its site-packages
        self.proc = subprocess.Popen(
            [
                str(python),
                "-m",
                "uvicorn",
                "lnbits.__main__:app",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
            ],
            cwd=site,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            until(self._up, f"LNbits on {self.url} (log {self.log_path})", timeout=120)
            self.http = httpx.Client(base_url=self.url, timeout=30)
            self._token = self._first_install()
        except BaseException:
            self.stop()
            raise

    def _up(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(
                f"LNbits exited ({self.proc.returncode}): {self.log_path.read_text()[-1500:]}"
            )
        return port_open(self.port)

    def _first_install(self) -> str:
        """A fresh LNbits wants its superuser named first; the answer logs that superuser in."""
        username, password = ADMIN
        body = {"username": username, "password": password, "password_repeat": password}
        r = self.http.put("/api/v1/auth/first_install", json=body)
        assert r.status_code == 200, r.text
        return str(r.json()["access_token"])

    def new_wallet(self, name: str) -> LNbitsWallet:
        r = self.http.post("/api/v1/account", json={"name": name})
        assert r.status_code == 200, r.text
        return LNbitsWallet(r.json()["id"], r.json()["adminkey"])

    def credit(self, wallet: LNbitsWallet, sats: int) -> None:
        """The superuser tops a wallet up (FakeWallet backs it)."""
        r = self.http.put(
            "/users/api/v1/balance",
            json={"id": wallet.id, "amount": sats},
            headers={"Authorization": f"Bearer {self._token}"},
        )
        assert r.status_code == 200, r.text

    def balance_msat(self, wallet: LNbitsWallet) -> int:
        r = self.http.get("/api/v1/wallet", headers={"X-Api-Key": wallet.admin_key})
        assert r.status_code == 200, r.text
        return int(r.json()["balance"])

    def invoice(self, wallet: LNbitsWallet, sats: int, memo: str) -> dict[str, Any]:
        r = self.http.post(
            "/api/v1/payments",
            json={"out": False, "amount": sats, "memo": memo},
            headers={"X-Api-Key": wallet.admin_key},
        )
        assert r.status_code == 201, r.text
        return dict(r.json())

    def pay(self, wallet: LNbitsWallet, bolt11: str) -> httpx.Response:
        return self.http.post(
            "/api/v1/payments", json={"out": True, "bolt11": bolt11}, headers={"X-Api-Key": wallet.admin_key}
        )

    def paid(self, wallet: LNbitsWallet, payment_hash: str) -> bool:
        r = self.http.get(f"/api/v1/payments/{payment_hash}", headers={"X-Api-Key": wallet.admin_key})
        return r.status_code == 200 and r.json().get("paid") is True

    def payments(self, wallet: LNbitsWallet) -> list[dict[str, Any]]:
        r = self.http.get("/api/v1/payments", headers={"X-Api-Key": wallet.admin_key})
        assert r.status_code == 200, r.text
        return list(r.json())

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        if hasattr(self, "http"):
            self.http.close()
        self._log.close()
