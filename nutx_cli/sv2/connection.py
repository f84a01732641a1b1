"""The asyncio wrapper around the sans-IO SV2 stack: one `Connection` type for both ends.

Server side (the pool)::

    from nutx_cli.sv2.connection import Connection, serve
    from nutx_cli.sv2.messages import SetupConnectionSuccess

    async def handle(conn: Connection) -> None:          # runs once per miner, after the handshake
        setup = await conn.recv()                        # SetupConnection comes first
        await conn.send(SetupConnectionSuccess(used_version=2, flags=0))
        async for msg in conn:                           # ends when the miner disconnects
            ...

    server = await serve("127.0.0.1", 34254, static_secret=secret, authority_secret=authority_secret,
                         on_connection=handle)            # or certificate=make_certificate(...)
    print(server.port, authority_key_to_text(server.authority_pubkey))
    ...
    await server.close()                                 # stops listening and closes every connection

Client side (the miner)::

    conn = await Connection.connect("127.0.0.1", 34254, authority_pubkey="9auqWEzQ…")  # text or 32 bytes
    await conn.send(SetupConnection(...))
    reply = await conn.recv()
    await conn.close()

`connect` raises `CertificateError` if the pool's certificate is not signed by the pinned authority key
or is outside its validity window (±10 s), `HandshakeError` on a failed or slow handshake, and
`ConnectError` if the TCP connection cannot be opened. `recv` skips frames of unknown extensions
(§6.2), raises `ConnectionClosed` at the end of the stream, and raises `FrameError` /
`AuthenticationError` on a malformed or tampered frame, after logging one line and closing that
connection (never any other). One task may `recv` while others `send`; do not `recv` from two tasks.

The server applies its `ListenerLimits` (`nutx_cli.core.limits`): connections past the per-IP cap are
reset at accept; the Noise handshake and the first message must arrive within the handshake timeout, each
later message within the idle timeout of the one before (also while `send` waits for the peer to read); every
frame spends a token of the connection's message budget; a peer may leave at most `max_unread_bytes` of our
output unread. Past any of them the connection is closed and `recv`/`send` raise `LimitExceeded` (a
`ConnectionClosed`, so `async for` just ends). SV2 has no message for "too fast", and refusing frames one
by one would still cost a decryption each and an answer each: closing is what protects the pool.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Self

from nutx_cli.core.limits import DEFAULT_HANDSHAKE_TIMEOUT, ConnectionLimiter, ListenerLimits
from nutx_cli.listener import Admission, close_stream
from nutx_cli.sv2.certificate import (
    Certificate,
    authority_key_from_text,
    make_certificate,
    pubkey_of_secret,
    xonly_of,
)
from nutx_cli.sv2.errors import ConnectError, ConnectionClosed, HandshakeError, LimitExceeded, Sv2Error
from nutx_cli.sv2.framing import DEFAULT_MAX_MESSAGE_SIZE
from nutx_cli.sv2.messages import Message
from nutx_cli.sv2.noise import ACT1_SIZE, ACT2_SIZE, NoiseInitiator, NoiseResponder, TransportKeys, new_secret
from nutx_cli.sv2.session import Sv2Session

log = logging.getLogger(__name__)

DEFAULT_CERT_VALIDITY = 3600
"""Seconds a per-connection certificate is valid (SRI signs one per connection the same way)."""
_READ_SIZE = 1 << 16


class Connection:
    """One established (handshaken) SV2 connection, client or server side."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        session: Sv2Session,
        keys: TransportKeys | None = None,
        limiter: ConnectionLimiter | None = None,
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._session = session
        self._inbox: deque[Message] = deque()
        self._closed = False
        self.keys = keys
        self._limiter = limiter
        peer = writer.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)

    @classmethod
    async def connect(
        cls,
        host: str,
        port: int,
        authority_pubkey: bytes | str,
        *,
        handshake_timeout: float = DEFAULT_HANDSHAKE_TIMEOUT,
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
        encrypted: bool = True,
        local_host: str | None = None,
    ) -> Connection:
        """Open a TCP connection, run the Noise handshake as initiator and verify the certificate.

        `encrypted=False` speaks plain frames with no handshake (spec §2.3: trusted LAN only); the
        authority key is then not used. `local_host` picks the address to connect from.
        """
        if encrypted:  # a bad key is refused before any byte goes out
            authority = (
                authority_key_from_text(authority_pubkey)
                if isinstance(authority_pubkey, str)
                else xonly_of(authority_pubkey)
            )
        try:
            local_addr = None if local_host is None else (local_host, 0)
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(host, port, local_addr=local_addr), handshake_timeout
            )
        except (OSError, TimeoutError) as exc:
            raise ConnectError(
                f"cannot reach the SV2 server at {host}:{port}: {exc or 'timed out'}"
            ) from None
        if not encrypted:
            return cls(reader, writer, Sv2Session.plain(max_message_size))
        try:
            keys = await asyncio.wait_for(_initiate(reader, writer, authority), handshake_timeout)
        except BaseException as exc:
            writer.close()
            if isinstance(exc, TimeoutError):
                raise HandshakeError(
                    f"no handshake answer from {host}:{port} within {handshake_timeout} s"
                ) from None
            if isinstance(exc, (asyncio.IncompleteReadError, OSError)):
                raise HandshakeError(f"{host}:{port} closed the connection during the handshake") from None
            raise
        return cls(reader, writer, Sv2Session.encrypted(keys, max_message_size), keys)

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def skipped_frames(self) -> int:
        """Frames of unknown extensions ignored so far (§6.2)."""
        return self._session.skipped_frames

    async def send(self, message: Message) -> None:
        """Encode, encrypt and write one message, then wait for the socket buffer to drain."""
        self.send_nowait(message)
        await self._drain()

    async def send_many(self, messages: Sequence[Message]) -> None:
        """Write a batch of messages with one write (e.g. the answers of one group commit)."""
        self.send_many_nowait(messages)
        await self._drain()

    def send_many_nowait(self, messages: Sequence[Message]) -> None:
        """Queue a batch of messages on the transport with one write, without waiting for it to drain."""
        if self._closed:
            raise ConnectionClosed(f"connection to {self.peer} is closed")
        self._write(self._session.encode_many(messages))

    def send_nowait(self, message: Message) -> None:
        """Queue one message on the transport without waiting for it to drain."""
        if self._closed:
            raise ConnectionClosed(f"connection to {self.peer} is closed")
        self._write(self._session.encode(message))

    def _write(self, data: bytes) -> None:
        self._writer.write(data)
        limiter = self._limiter
        if limiter is None:
            return
        cap = limiter.limits.max_unread_bytes
        if self._writer.transport.get_write_buffer_size() > cap:
            log.warning(
                "closing SV2 connection from %s: it leaves over %d bytes of our output unread", self.peer, cap
            )
            self._abort()
            raise LimitExceeded(f"closed the connection from {self.peer}: over {cap} bytes unread")

    async def _drain(self) -> None:
        try:
            async with asyncio.timeout_at(self._deadline()):
                await self._writer.drain()
        except TimeoutError:  # before OSError, of which it is a subclass
            raise self._timed_out() from None
        except (ConnectionError, OSError) as exc:
            self._abort()
            raise ConnectionClosed(f"connection to {self.peer} lost: {exc}") from None

    def _deadline(self) -> float | None:
        """When the peer's silence ends the connection (also while we wait for it to read)."""
        return None if self._limiter is None else self._limiter.deadline()

    def _timed_out(self) -> LimitExceeded:
        assert self._limiter is not None
        reason = self._limiter.waiting_for()
        log.info("closing SV2 connection from %s: %s", self.peer, reason)
        self._abort()
        return LimitExceeded(f"closed the connection from {self.peer}: {reason}")

    async def recv(self) -> Message:
        """The next message from the peer."""
        inbox = self._inbox
        while not inbox:
            if self._closed:
                raise ConnectionClosed(f"connection to {self.peer} is closed")
            data = await self._read()
            if not data:
                self._abort()
                raise ConnectionClosed(f"{self.peer} closed the connection")
            skipped = self._session.skipped_frames
            try:
                inbox.extend(self._session.feed(data))
            except Sv2Error as exc:
                log.warning("closing SV2 connection from %s: %s", self.peer, exc)
                self._abort()
                raise
            self._spend(len(inbox) + self._session.skipped_frames - skipped)
        return inbox.popleft()

    async def _read(self) -> bytes:
        try:
            async with asyncio.timeout_at(self._deadline()):
                return await self._reader.read(_READ_SIZE)
        except TimeoutError:  # before OSError, of which it is a subclass
            raise self._timed_out() from None
        except (ConnectionError, OSError) as exc:
            self._abort()
            raise ConnectionClosed(f"connection to {self.peer} lost: {exc}") from None

    def _spend(self, frames: int) -> None:
        """Count `frames` against the message budget; past it the connection is closed."""
        limiter = self._limiter
        if limiter is None or limiter.received(frames, asyncio.get_running_loop().time()):
            return
        rate = limiter.limits.messages_per_second
        log.warning(
            "closing SV2 connection from %s: more than %g frames a second (--max-messages-per-second)",
            self.peer,
            rate,
        )
        self._abort()
        raise LimitExceeded(f"closed the connection from {self.peer}: more than {rate:g} frames a second")

    def __aiter__(self) -> AsyncIterator[Message]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Message]:
        while True:
            try:
                yield await self.recv()
            except ConnectionClosed:
                return

    async def close(self) -> None:
        """Close the connection (idempotent), after our last bytes left or `close_stream`'s timeout."""
        if self._closed:
            return
        self._closed = True
        await close_stream(self._writer)

    def _abort(self) -> None:
        if not self._closed:
            self._closed = True
            self._writer.close()


async def _initiate(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, authority: bytes
) -> TransportKeys:
    initiator = NoiseInitiator(authority)
    writer.write(initiator.act1())
    await writer.drain()
    act2 = await reader.readexactly(ACT2_SIZE)
    return initiator.act2(act2, int(time.time()))


async def _respond(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, responder: NoiseResponder
) -> TransportKeys:
    act1 = await reader.readexactly(ACT1_SIZE)
    act2, keys = responder.act2(act1)
    writer.write(act2)
    await writer.drain()
    return keys


@dataclass
class Sv2Server:
    """A listening SV2 server; `port` is the bound port (useful with port 0)."""

    server: asyncio.Server
    host: str
    port: int
    static_pubkey: bytes
    authority_pubkey: bytes | None
    connections: set[Connection] = field(default_factory=set)

    async def close(self) -> None:
        """Stop listening and close every open connection."""
        self.server.close()
        for conn in list(self.connections):
            await conn.close()
        await self.server.wait_closed()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


async def serve(
    host: str,
    port: int,
    *,
    on_connection: Callable[[Connection], Awaitable[None]],
    static_secret: bytes | None = None,
    authority_secret: bytes | None = None,
    certificate: Certificate | None = None,
    cert_validity: int = DEFAULT_CERT_VALIDITY,
    max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
    limits: ListenerLimits = ListenerLimits(),
    encrypted: bool = True,
) -> Sv2Server:
    """Listen for SV2 clients; run `on_connection(conn)` for each one after its handshake.

    Give either `authority_secret` (a certificate is signed per connection, valid from now for
    `cert_validity` seconds) or a pre-signed `certificate` for `static_secret`'s key. Without a
    `static_secret` a fresh static key is made (fine with `authority_secret`, as SRI does). The
    connection is closed when `on_connection` returns or raises; an error there is logged and
    affects no other connection. `encrypted=False` serves plain frames (trusted LAN only). `limits` are
    the listener's caps and timeouts (module docstring).
    """
    if encrypted and (authority_secret is None) == (certificate is None):
        raise Sv2Error("serve() needs exactly one of authority_secret or certificate")
    if certificate is not None and static_secret is None:
        raise Sv2Error("a pre-signed certificate needs the static_secret it was signed for")
    if not 0 < cert_validity < 1 << 31:
        raise Sv2Error("cert_validity must be a positive number of seconds below 2^31")
    if static_secret is None:
        static_secret = new_secret()
    static_pubkey = pubkey_of_secret(static_secret)
    authority_pubkey = pubkey_of_secret(authority_secret) if authority_secret is not None else None
    connections: set[Connection] = set()

    def certificate_now() -> Certificate:
        if certificate is not None:
            return certificate
        assert authority_secret is not None
        now = int(time.time())
        return make_certificate(authority_secret, static_pubkey, now, now + cert_validity)

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        limiter = ConnectionLimiter(limits, asyncio.get_running_loop().time())
        if not encrypted:
            await run(Connection(reader, writer, Sv2Session.plain(max_message_size), limiter=limiter))
            return
        assert static_secret is not None
        try:
            responder = NoiseResponder(static_secret, certificate_now())
            async with asyncio.timeout_at(limiter.deadline()):
                keys = await _respond(reader, writer, responder)
        except (TimeoutError, asyncio.IncompleteReadError, OSError, Sv2Error) as exc:
            reason = limiter.waiting_for() if isinstance(exc, TimeoutError) else exc or type(exc).__name__
            log.info("SV2 handshake with %s failed: %s", peer, reason)
            writer.close()
            return
        session = Sv2Session.encrypted(keys, max_message_size)
        await run(Connection(reader, writer, session, keys, limiter=limiter))

    async def run(conn: Connection) -> None:
        connections.add(conn)
        try:
            await on_connection(conn)
        except ConnectionClosed:
            pass
        except Sv2Error as exc:
            log.warning("SV2 connection from %s ended: %s", conn.peer, exc)
        except Exception:
            log.exception("SV2 connection handler for %s failed", conn.peer)
        finally:
            connections.discard(conn)
            await conn.close()

    server = await asyncio.start_server(Admission("SV2", limits.connections_per_ip).wrap(accept), host, port)
    bound = server.sockets[0].getsockname()[1]
    return Sv2Server(server, host, bound, static_pubkey, authority_pubkey, connections)
