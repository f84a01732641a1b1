"""The server side of an SV1 listener under its `ListenerLimits`: for every SV1 port (the proxy's, the pool's).

`serve_sv1(host, port, handler, limits)` listens and resets connections past the per-IP cap at accept.
In the handler, `Sv1Reader(reader, limits).lines()` returns the next complete lines and enforces the rest:
the 16 KiB line cap (`LineTooLong`), the message rate (`TooManyMessages`: both are `Sv1Error`s to answer
with `exc.response()` before `hang_up`), the first line within the handshake timeout and each later line
within the idle timeout of the one before (`PeerTimedOut`: just close; `drain` waits for our output within
the same deadline, and `unread_over_cap` says when a peer leaves too much of it unread). Blank lines and
partial lines are not messages, so trickling bytes does not keep a connection alive. SV1 has one subscription per
connection; the cap on channels per connection caps its authorized workers instead (`MinerSession`).
"""

from __future__ import annotations

import asyncio
import contextlib

from nutx_cli.core.limits import ConnectionLimiter, ListenerLimits
from nutx_cli.errors import NutxError
from nutx_cli.listener import Admission, StreamHandler
from nutx_cli.sv1.protocol import ERR_OTHER, LineSplitter, Sv1Error
from nutx_cli.sv1.session import MAX_USERS

READ_SIZE = 1 << 16
HANG_UP_SECONDS = 1.0
SV1_LIMITS = ListenerLimits(channels_per_connection=MAX_USERS)
"""The defaults of an SV1 listener: those of SV2, with the workers of one connection as its channels."""


class TooManyMessages(Sv1Error):
    """Lines faster than the listener's message rate: answered once, then the connection is closed."""

    def __init__(self, rate: float) -> None:
        super().__init__(ERR_OTHER, f"more than {rate:g} messages a second; connection closed")


class PeerTimedOut(NutxError):
    """No complete line within the handshake or idle timeout: the connection is closed without a word."""


async def serve_sv1(host: str, port: int, handler: StreamHandler, limits: ListenerLimits) -> asyncio.Server:
    """Listen for SV1 miners; `handler(reader, writer)` runs for each connection the per-IP cap admits."""
    return await asyncio.start_server(Admission("SV1", limits.connections_per_ip).wrap(handler), host, port)


class Sv1Reader:
    """The lines one SV1 peer sends, read under `limits` (module docstring)."""

    def __init__(self, reader: asyncio.StreamReader, limits: ListenerLimits) -> None:
        self._reader = reader
        self._splitter = LineSplitter()
        self.limiter = ConnectionLimiter(limits, asyncio.get_running_loop().time())

    async def lines(self) -> list[bytes]:
        """The next complete non-blank lines, at least one; [] at the end of the stream (or a reset)."""
        loop = asyncio.get_running_loop()
        while True:
            try:
                async with asyncio.timeout_at(self.limiter.deadline()):
                    data = await self._reader.read(READ_SIZE)
            except TimeoutError:  # before OSError, of which it is a subclass
                raise PeerTimedOut(self.limiter.waiting_for()) from None
            except (ConnectionError, OSError):  # a reset is an end of the stream like any other
                return []
            if not data:
                return []
            lines = self._splitter.feed(data)
            if not lines:
                continue
            if not self.limiter.received(len(lines), loop.time()):
                raise TooManyMessages(self.limiter.limits.messages_per_second)
            return lines

    async def drain(self, writer: asyncio.StreamWriter) -> None:
        """Wait for our output to leave, within the same deadline: a peer that neither sends nor reads
        times out like an idle one (`PeerTimedOut`)."""
        try:
            async with asyncio.timeout_at(self.limiter.deadline()):
                await writer.drain()
        except TimeoutError:
            raise PeerTimedOut(self.limiter.waiting_for()) from None


def unread_over_cap(writer: asyncio.StreamWriter, limits: ListenerLimits) -> bool:
    """True if the peer leaves more of our output unread than `limits` allow: abort the connection then
    (`writer.transport.abort()`; a plain close would wait for the peer to read it all)."""
    return writer.transport.get_write_buffer_size() > limits.max_unread_bytes


async def hang_up(writer: asyncio.StreamWriter, reader: asyncio.StreamReader) -> None:
    """Send our last words, end our side, and discard what is still coming for a moment.

    Closing with unread input would reset the connection and lose the error line.
    """
    with contextlib.suppress(OSError, ConnectionError, TimeoutError):
        async with asyncio.timeout(HANG_UP_SECONDS):  # a peer that reads nothing gets no longer either
            await writer.drain()
            writer.write_eof()
            while await reader.read(READ_SIZE):
                pass
