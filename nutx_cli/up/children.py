"""Child `nutx` processes: start with output to a log file, wait until ready, stop by PID.

`nutx up` runs its roles this way, and the end-to-end tests use the same class.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

from nutx_cli.admin_access import TOKEN_ENV
from nutx_cli.errors import NutxError
from nutx_cli.private_files import private_dir


class ChildFailed(NutxError):
    """A child role exited or did not become ready in time."""


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _inherited_env() -> dict[str, str]:
    """The caller's environment minus an admin token: children listen on loopback, and `nutx up`'s own
    poller and dashboard do not send one (a token meant for another pool would lock them out)."""
    return {k: v for k, v in os.environ.items() if k != TOKEN_ENV}


class ChildProcess:
    """A running `python -m nutx_cli ARGS`, in its own session, writing to `log`."""

    def __init__(self, args: list[str], log: Path, env: dict[str, str] | None = None) -> None:
        self.args = args
        self.log_path = log
        private_dir(log.parent)
        self._log: IO[bytes] = open(log, "ab")  # noqa: SIM115 - closed in stop(), outlives this call
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "nutx_cli", *args],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**_inherited_env(), **(env or {})},
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def name(self) -> str:
        return " ".join(self.args[:2])

    def running(self) -> bool:
        return self.proc.poll() is None

    def output(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def wait_until(self, ready: Callable[[], bool], timeout: float = 30.0, what: str = "ready") -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                tail = "\n".join(self.output().splitlines()[-15:])
                raise ChildFailed(f"`nutx {' '.join(self.args)}` exited ({self.proc.returncode}):\n{tail}")
            if ready():
                return
            time.sleep(0.05)
        raise ChildFailed(
            f"`nutx {' '.join(self.args)}` not {what} after {timeout:.0f}s; see {self.log_path}"
        )

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int:
        """Signal the process by PID and wait; SIGKILL if it does not end in time."""
        if self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, sig)
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
            except ProcessLookupError:
                self.proc.wait(5)
        if not self._log.closed:
            self._log.close()
        return int(self.proc.returncode)

    def kill(self) -> None:
        self.stop(signal.SIGKILL)
