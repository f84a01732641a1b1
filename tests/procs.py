"""Start real `nutx` processes for end-to-end tests, on loopback with free ports, and always stop them."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


class NutxProcess:
    """A running `python -m nutx_cli ARGS` whose output goes to a log file."""

    def __init__(self, args: list[str], log: Path, env: dict[str, str] | None = None) -> None:
        self.args = args
        self.log_path = log
        self._log = open(log, "wb")  # noqa: SIM115 - closed in stop(), outlives this call
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "nutx_cli", *args],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def output(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def wait_until(self, ready: Callable[[], bool], timeout: float = 30.0, what: str = "ready") -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"nutx {' '.join(self.args)} exited ({self.proc.returncode}):\n{self.output()}")
            if ready():
                return
            time.sleep(0.05)
        raise AssertionError(f"nutx {' '.join(self.args)} not {what} after {timeout}s:\n{self.output()}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int:
        """Signal the process by PID and wait; SIGKILL if it does not end in time."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self._log.close()
        return self.proc.returncode

    def kill(self) -> None:
        self.stop(signal.SIGKILL)


@contextmanager
def nutx_process(args: list[str], log: Path, ready: Callable[[], bool] | None = None,
                 timeout: float = 30.0, env: dict[str, str] | None = None) -> Iterator[NutxProcess]:
    """Start a nutx process, wait for `ready`, and stop it by PID however the test ends."""
    p = NutxProcess(args, log, env)
    try:
        if ready is not None:
            p.wait_until(ready, timeout)
        yield p
    finally:
        p.stop()
