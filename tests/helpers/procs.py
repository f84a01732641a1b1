"""Start real `nutx` processes for end-to-end tests, on loopback with free ports, and always stop them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from nutx_cli.up.children import ChildProcess, free_port, port_open

NutxProcess = ChildProcess

__all__ = ["NutxProcess", "free_port", "nutx_process", "port_open"]


@contextmanager
def nutx_process(
    args: list[str],
    log: Path,
    ready: Callable[[], bool] | None = None,
    timeout: float = 30.0,
    env: dict[str, str] | None = None,
) -> Iterator[ChildProcess]:
    """Start a nutx process, wait for `ready`, and stop it by PID however the test ends."""
    p = ChildProcess(args, log, env)
    try:
        if ready is not None:
            p.wait_until(ready, timeout)
        yield p
    finally:
        p.stop()
