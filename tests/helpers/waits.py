"""Waiting for a condition the test can observe (a state, a log line, a process status) instead of
sleeping and hoping it happened. The bound is only a safety net, generous for a loaded machine."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

SAFETY_NET = 60.0
"""Seconds after which a condition that should hold at once is declared never to hold."""


def until(condition: Callable[[], bool], what: str, timeout: float = SAFETY_NET) -> None:
    """Poll `condition` until it holds; fail naming `what` if it never does."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


async def until_async(condition: Callable[[], bool], what: str, timeout: float = SAFETY_NET) -> None:
    """`until` on the event loop: the loop keeps running while the condition is polled."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)
