"""The asyncio side of `core.limits` shared by the stream listeners (SV2, SV1): admission per peer address.

`Admission(...).wrap(handler)` is an `asyncio.start_server` callback that refuses a connection past the
per-IP cap at once (the socket is reset before any byte is read, so a refusal costs no handshake) and
frees the slot when the handler returns, however it ends. Refusals are logged, at most one line every
`LOG_EVERY` seconds, so a flood cannot fill the disk with log lines. `raise_fd_limit()` lifts the
process's soft limit on open files (often 1,024) to its hard limit, so the caps, not the kernel, decide.
`close_stream(writer)` closes a connection without waiting for ever on a peer that stopped reading.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import resource
import time
from collections.abc import Awaitable, Callable

from nutx_cli.core.limits import PerIpSlots, TokenBucket

log = logging.getLogger(__name__)

LOG_EVERY = 10.0
CLOSE_TIMEOUT = 5.0
"""Seconds a closing connection waits for the peer to take what we still had to send."""

StreamHandler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def raise_fd_limit() -> int:
    """Lift the soft RLIMIT_NOFILE to the hard one (at most 2^20); the limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = min(hard, 1 << 20) if hard != resource.RLIM_INFINITY else 1 << 20
    if soft != resource.RLIM_INFINITY and soft < wanted:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


async def close_stream(writer: asyncio.StreamWriter) -> None:
    """Close after our last bytes left, or abort after CLOSE_TIMEOUT: a peer that never reads them must not
    keep the socket (and its per-IP slot) for ever."""
    writer.close()
    with contextlib.suppress(ConnectionError, OSError):  # TimeoutError is an OSError
        async with asyncio.timeout(CLOSE_TIMEOUT):
            await writer.wait_closed()
    writer.transport.abort()


def peer_ip(writer: asyncio.StreamWriter) -> str:
    """The peer's address without its port ("" if the transport does not say)."""
    peer = writer.get_extra_info("peername")
    return str(peer[0]) if isinstance(peer, tuple) and peer else ""


class Admission:
    """The per-IP connection cap of one listener (`what` names it in the log, e.g. "SV2")."""

    def __init__(self, what: str, connections_per_ip: int) -> None:
        self.what = what
        self.slots = PerIpSlots(connections_per_ip)
        self.refused = 0
        self._log_budget = TokenBucket(1 / LOG_EVERY, 1, time.monotonic())

    def wrap(self, handler: StreamHandler) -> StreamHandler:
        async def admit(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            ip = peer_ip(writer)
            if not self.slots.acquire(ip):
                self._refuse(ip, writer)
                return
            try:
                await handler(reader, writer)
            finally:
                self.slots.release(ip)

        return admit

    def _refuse(self, ip: str, writer: asyncio.StreamWriter) -> None:
        self.refused += 1
        writer.transport.abort()
        if self._log_budget.take(time.monotonic()):
            log.warning(
                "%s: refusing connections from %s: %d open, the cap is %d per address "
                "(--max-connections-per-ip); %d refused so far",
                self.what,
                ip,
                self.slots.count(ip),
                self.slots.cap,
                self.refused,
            )
