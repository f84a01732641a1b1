"""Loopback tests of the asyncio SV2 Connection: handshake, a mining conversation, bad peers."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from nutx_cli.core.limits import ListenerLimits
from nutx_cli.sv2.certificate import authority_key_to_text, make_certificate, pubkey_of_secret
from nutx_cli.sv2.connection import Connection, Sv2Server, serve
from nutx_cli.sv2.ecash import (
    KEYSET_AMOUNTS,
    BlindedMessage,
    BlindSignature,
    EcashKeyset,
    OpenExtendedEcashMiningChannel,
    OpenExtendedEcashMiningChannelSuccess,
    SubmitSharesEcashExtended,
    SubmitSharesEcashExtendedSuccess,
)
from nutx_cli.sv2.errors import (
    AuthenticationError,
    CertificateError,
    ConnectError,
    ConnectionClosed,
    HandshakeError,
    LimitExceeded,
)
from nutx_cli.sv2.extensions import RequestExtensions, RequestExtensionsSuccess
from nutx_cli.sv2.messages import (
    CloseChannel,
    Message,
    NewExtendedMiningJob,
    SetNewPrevHash,
    SetupConnection,
    SetupConnectionSuccess,
)
from nutx_cli.sv2.noise import ACT2_SIZE, NoiseInitiator, new_secret
from nutx_cli.sv2.session import Sv2Session

KEYSET = EcashKeyset(b"\x01" * 33, "ehash", 1, 256, [(a, b"\x02" * 33) for a in KEYSET_AMOUNTS])
SETUP = SetupConnection(0, 2, 2, 0, "127.0.0.1", 0, "nutx-test", "", "", "")


async def pool(conn: Connection) -> None:
    """A miniature pool: answers setup, extensions, one channel open and every share."""
    async for msg in conn:
        if isinstance(msg, SetupConnection):
            await conn.send(SetupConnectionSuccess(2, 0))
        elif isinstance(msg, RequestExtensions):
            await conn.send(RequestExtensionsSuccess(msg.request_id, [0x4CA5]))
        elif isinstance(msg, OpenExtendedEcashMiningChannel):
            await conn.send_many(
                [
                    OpenExtendedEcashMiningChannelSuccess(
                        msg.request_id, 1, 2**256 - 1, 4, b"\x00\x01", 1, KEYSET
                    ),
                    NewExtendedMiningJob(1, 5, None, 0x20000000, True, [], b"prefix", b"suffix"),
                    SetNewPrevHash(1, 5, b"\x11" * 32, 1700000000, 0x207FFFFF),
                ]
            )
        elif isinstance(msg, SubmitSharesEcashExtended):
            sig = BlindSignature(
                msg.blinded_message.amount, KEYSET.keyset_id, b"\x03" * 33, b"e" * 32, b"s" * 32
            )
            await conn.send(SubmitSharesEcashExtendedSuccess(msg.channel_id, msg.sequence_number, sig))
        elif isinstance(msg, CloseChannel):
            return


@pytest.fixture
async def server() -> AsyncIterator[Sv2Server]:
    srv = await serve(
        "127.0.0.1", 0, static_secret=new_secret(), authority_secret=new_secret(), on_connection=pool
    )
    yield srv
    await srv.close()


async def test_mining_conversation_over_noise(server: Sv2Server) -> None:
    assert server.authority_pubkey is not None
    conn = await Connection.connect("127.0.0.1", server.port, authority_key_to_text(server.authority_pubkey))
    assert conn.keys is not None and conn.keys.server_static_xonly == server.static_pubkey
    await conn.send(SETUP)
    assert await conn.recv() == SetupConnectionSuccess(2, 0)
    await conn.send(RequestExtensions(1, [0x4CA5]))
    assert await conn.recv() == RequestExtensionsSuccess(1, [0x4CA5])
    await conn.send(OpenExtendedEcashMiningChannel(1, "alice", 0.0, 2**256 - 1, 4, "ehash"))
    opened = await conn.recv()
    assert isinstance(opened, OpenExtendedEcashMiningChannelSuccess) and opened.keyset == KEYSET
    assert isinstance(await conn.recv(), NewExtendedMiningJob)
    assert isinstance(await conn.recv(), SetNewPrevHash)
    for seq in range(50):
        blinded = BlindedMessage(1, KEYSET.keyset_id, b"\x02" * 33)
        await conn.send(
            SubmitSharesEcashExtended(1, seq, 5, seq, 1700000000, 0x20000000, b"\x00" * 4, blinded)
        )
    answers = [await conn.recv() for _ in range(50)]
    assert [a.sequence_number for a in answers if isinstance(a, SubmitSharesEcashExtendedSuccess)] == list(
        range(50)
    )
    await conn.send(CloseChannel(1, "done"))
    with pytest.raises(ConnectionClosed):
        await conn.recv()  # the handler returned, so the server closed the connection
    await conn.close()
    await conn.close()  # idempotent


async def test_wrong_authority_key_refuses_to_go_on(server: Sv2Server) -> None:
    with pytest.raises(CertificateError, match="authority"):
        await Connection.connect("127.0.0.1", server.port, pubkey_of_secret(new_secret()))


async def test_expired_precomputed_certificate_is_refused() -> None:
    authority, static = new_secret(), new_secret()
    old = int(time.time()) - 7200
    cert = make_certificate(authority, pubkey_of_secret(static), old, old + 3600)
    async with await serve("127.0.0.1", 0, static_secret=static, certificate=cert, on_connection=pool) as srv:
        with pytest.raises(CertificateError, match="expired"):
            await Connection.connect("127.0.0.1", srv.port, pubkey_of_secret(authority))


async def raw_handshake(server: Sv2Server) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, Sv2Session]:
    """A client built from the sans-IO parts, so the test can write arbitrary bytes afterwards."""
    assert server.authority_pubkey is not None
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    initiator = NoiseInitiator(server.authority_pubkey)
    writer.write(initiator.act1())
    keys = initiator.act2(await reader.readexactly(ACT2_SIZE), int(time.time()))
    return reader, writer, Sv2Session.encrypted(keys)


async def test_malformed_frame_closes_only_that_connection(
    server: Sv2Server, caplog: pytest.LogCaptureFixture
) -> None:
    assert server.authority_pubkey is not None
    good = await Connection.connect("127.0.0.1", server.port, server.authority_pubkey)
    reader, writer, _ = await raw_handshake(server)
    with caplog.at_level(logging.WARNING):
        writer.write(b"\x00" * 64)  # not a valid encrypted header
        assert await asyncio.wait_for(reader.read(), 5) == b""  # the server hung up
    assert any("closing SV2 connection" in r.getMessage() for r in caplog.records)
    await good.send(SETUP)
    assert await good.recv() == SetupConnectionSuccess(2, 0)  # the other connection is untouched
    await good.close()
    writer.close()


async def test_unknown_extension_frames_are_ignored(server: Sv2Server) -> None:
    reader, writer, session = await raw_handshake(server)
    send = session._send  # the test writes a frame of an extension nobody defined
    assert send is not None
    writer.write(send.encrypt(bytes.fromhex("3412 07 030000")) + send.encrypt(b"abc"))
    writer.write(session.encode(SETUP))
    answer: list[Message] = []
    while not answer:
        answer = session.feed(await asyncio.wait_for(reader.read(4096), 5))
    assert answer == [SetupConnectionSuccess(2, 0)]
    writer.close()


async def test_oversized_message_closes_the_connection() -> None:
    authority = new_secret()
    srv = await serve(
        "127.0.0.1",
        0,
        static_secret=new_secret(),
        authority_secret=authority,
        on_connection=pool,
        max_message_size=64,
    )
    async with srv:
        conn = await Connection.connect("127.0.0.1", srv.port, pubkey_of_secret(authority))
        await conn.send(SetupConnection(0, 2, 2, 0, "h" * 200, 0, "", "", "", ""))
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(conn.recv(), 5)
        await conn.close()


async def test_client_side_frame_error_is_raised_and_closes() -> None:
    async def evil(conn: Connection) -> None:
        conn._writer.write(b"\xff" * 40)  # garbage from the "pool"
        await asyncio.sleep(1)

    authority = new_secret()
    async with await serve(
        "127.0.0.1", 0, static_secret=new_secret(), authority_secret=authority, on_connection=evil
    ) as srv:
        conn = await Connection.connect("127.0.0.1", srv.port, pubkey_of_secret(authority))
        with pytest.raises(AuthenticationError):
            await conn.recv()
        assert conn.closed
        with pytest.raises(ConnectionClosed):
            await conn.send(SETUP)


async def test_handshake_timeouts_on_both_sides(caplog: pytest.LogCaptureFixture) -> None:
    silent = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = silent.sockets[0].getsockname()[1]
    with pytest.raises(HandshakeError, match="within"):
        await Connection.connect("127.0.0.1", port, pubkey_of_secret(new_secret()), handshake_timeout=0.3)
    silent.close()
    srv = await serve(
        "127.0.0.1",
        0,
        static_secret=new_secret(),
        authority_secret=new_secret(),
        on_connection=pool,
        limits=ListenerLimits(handshake_timeout=0.3),
    )
    async with srv:
        reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
        with caplog.at_level(logging.INFO):
            assert await asyncio.wait_for(reader.read(), 5) == b""  # closed after the timeout
        assert any("handshake" in r.getMessage() for r in caplog.records)
        writer.close()


async def test_server_close_ends_open_connections(server: Sv2Server) -> None:
    assert server.authority_pubkey is not None
    conn = await Connection.connect("127.0.0.1", server.port, server.authority_pubkey)
    await conn.send(SETUP)
    assert await conn.recv() == SetupConnectionSuccess(2, 0)
    await server.close()
    with pytest.raises(ConnectionClosed):
        await asyncio.wait_for(conn.recv(), 5)


async def test_connect_to_nothing_is_a_connect_error() -> None:
    probe = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = probe.sockets[0].getsockname()[1]
    probe.close()
    await probe.wait_closed()
    with pytest.raises(ConnectError):
        await Connection.connect("127.0.0.1", port, pubkey_of_secret(new_secret()))


async def test_plain_frames_on_a_trusted_lan() -> None:
    async with await serve("127.0.0.1", 0, on_connection=pool, encrypted=False) as srv:
        conn = await Connection.connect("127.0.0.1", srv.port, b"", encrypted=False)
        await conn.send(SETUP)
        assert await conn.recv() == SetupConnectionSuccess(2, 0)
        await conn.close()


async def serve_with(handler: Callable[[Connection], Awaitable[None]], limits: ListenerLimits) -> Sv2Server:
    return await serve(
        "127.0.0.1",
        0,
        static_secret=new_secret(),
        authority_secret=new_secret(),
        on_connection=handler,
        limits=limits,
    )


BIG_JOB = NewExtendedMiningJob(1, 5, None, 0x20000000, True, [], b"p" * 60_000, b"suffix")


async def test_a_peer_that_never_reads_is_closed_past_the_unread_cap() -> None:
    """Jobs are queued without waiting (a broadcast never stalls on one miner); a miner that reads none of
    them is closed once over max_unread_bytes, instead of growing the pool's buffer for ever."""
    ended: asyncio.Future[BaseException] = asyncio.get_running_loop().create_future()

    async def broadcaster(conn: Connection) -> None:
        await conn.recv()
        try:
            for _ in range(400):  # 24 MB: more than the kernel's socket buffers hold
                conn.send_nowait(BIG_JOB)
        except ConnectionClosed as exc:
            ended.set_result(exc)
            raise

    limits = ListenerLimits(channels_per_connection=0)
    async with await serve_with(broadcaster, limits) as srv:
        assert srv.authority_pubkey is not None
        conn = await Connection.connect("127.0.0.1", srv.port, srv.authority_pubkey)
        await conn.send(SETUP)  # and never reads
        exc = await asyncio.wait_for(ended, 30)
        assert isinstance(exc, LimitExceeded) and f"over {limits.max_unread_bytes} bytes unread" in str(exc)
        await conn.close()


async def test_a_peer_that_neither_reads_nor_sends_times_out_while_we_wait_to_send() -> None:
    ended: asyncio.Future[BaseException] = asyncio.get_running_loop().create_future()

    async def sender(conn: Connection) -> None:
        await conn.recv()
        try:
            while True:
                await conn.send(BIG_JOB)  # waits for the peer to read: bounded by the idle deadline
        except ConnectionClosed as exc:
            ended.set_result(exc)
            raise

    async with await serve_with(sender, ListenerLimits(idle_timeout=0.5)) as srv:
        assert srv.authority_pubkey is not None
        conn = await Connection.connect("127.0.0.1", srv.port, srv.authority_pubkey)
        await conn.send(SETUP)
        exc = await asyncio.wait_for(ended, 30)
        assert isinstance(exc, LimitExceeded) and "idle timeout" in str(exc)
        await conn.close()


async def test_closing_does_not_wait_for_ever_on_a_peer_that_never_reads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The handler ends with our output unread: the close gives up after CLOSE_TIMEOUT and frees the socket
    (and its per-IP slot: with a cap of 1 the next connection is admitted)."""
    monkeypatch.setattr("nutx_cli.listener.CLOSE_TIMEOUT", 0.2)

    async def dump_and_leave(conn: Connection) -> None:
        await conn.recv()
        for _ in range(100):  # 6 MB, under the unread cap: nothing aborts it but the close
            conn.send_nowait(BIG_JOB)

    limits = ListenerLimits(connections_per_ip=1, channels_per_connection=1000)
    async with await serve_with(dump_and_leave, limits) as srv:
        assert srv.authority_pubkey is not None
        stuck = await Connection.connect("127.0.0.1", srv.port, srv.authority_pubkey)
        await stuck.send(SETUP)  # and never reads
        admitted = None
        for _ in range(300):
            try:
                admitted = await Connection.connect("127.0.0.1", srv.port, srv.authority_pubkey)
                break
            except HandshakeError:  # still refused: the first connection holds the only slot
                await asyncio.sleep(0.1)
        assert admitted is not None, "the first connection was never closed"
        await admitted.close()
        await stuck.close()
