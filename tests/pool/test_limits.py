"""The pool's listener limits on real `nutx node` + `nutx pool` processes, with an honest miner alongside.

Each cap trips with the protocol's own answer (OpenMiningChannel.Error, 429) or a close, while an honest
miner keeps getting shares signed; the handshake and idle timeouts close the socket; connect/disconnect
cycles of every kind leave the pool's file descriptors where they were. Nothing here measures time: a
timeout is waited for with a generous safety net.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from urllib.parse import urlsplit

import httpx
import pytest

from nutx_cli.sv2.connection import Connection
from nutx_cli.sv2.ecash import (
    ECASH_EXTENSION,
    OpenExtendedEcashMiningChannel,
    OpenExtendedEcashMiningChannelSuccess,
)
from nutx_cli.sv2.errors import ConnectionClosed, HandshakeError
from nutx_cli.sv2.extensions import RequestExtensions, RequestExtensionsSuccess
from nutx_cli.sv2.messages import (
    CloseChannel,
    OpenMiningChannelError,
    SetupConnection,
    SetupConnectionSuccess,
    UpdateChannel,
)
from tests.helpers.fds import open_fds
from tests.helpers.waits import until_async
from tests.pool.test_e2e import EcashClient, Stack, mine_shares

pytestmark = pytest.mark.e2e

SAFETY = 30.0
"""Seconds after which a close that should come is a failure (never a measure of speed)."""
CAPS = [
    "--max-connections-per-ip",
    "3",
    "--max-channels-per-connection",
    "2",
    "--max-messages-per-second",
    "10",
    "--message-burst",
    "40",
    "--rate-limit-burst",
    "2",
]
TIMEOUTS = ["--handshake-timeout", "1", "--idle-timeout", "2"]
SETUP = SetupConnection(0, 2, 2, 0, "127.0.0.1", 0, "limits-test", "", "", "")


def open_msg(request_id: int) -> OpenExtendedEcashMiningChannel:
    return OpenExtendedEcashMiningChannel(
        request_id=request_id,
        user_identity="greedy",
        nominal_hash_rate=0.0,
        max_target=2**256 - 1,
        min_extranonce_size=4,
        unit="ehash",
    )


async def set_up(stack: Stack, local_host: str | None = None) -> Connection:
    conn = await Connection.connect(
        "127.0.0.1", stack.sv2_port, stack.pool_json["authority_key"], local_host=local_host
    )
    await conn.send(SETUP)
    assert isinstance(await conn.recv(), SetupConnectionSuccess)
    return conn


async def closed_by_pool(reader: asyncio.StreamReader) -> bool:
    """True once the pool ends the connection (EOF or reset); waits at most SAFETY seconds."""
    try:
        while await asyncio.wait_for(reader.read(1 << 16), SAFETY):
            pass
    except ConnectionResetError:
        pass
    return True


async def recv_until_closed(conn: Connection) -> None:
    """Read (and drop) what the pool still sends until it closes the connection."""
    with pytest.raises(ConnectionClosed):
        while True:
            await asyncio.wait_for(conn.recv(), SAFETY)


@pytest.mark.parametrize("stack", [CAPS], indirect=True)
async def test_each_cap_trips_with_the_protocols_answer_while_an_honest_miner_mines(stack: Stack) -> None:
    # the per-IP cap: 127.0.0.2 holds its 3 connections, its 4th is reset before the handshake
    crowd = [await set_up(stack, "127.0.0.2") for _ in range(3)]
    with pytest.raises(HandshakeError, match="closed the connection"):
        await Connection.connect(
            "127.0.0.1", stack.sv2_port, stack.pool_json["authority_key"], local_host="127.0.0.2"
        )
    honest = await EcashClient.open(stack.sv2_port, stack.pool_json["authority_key"], "honest")  # 127.0.0.1
    try:
        assert len(await mine_shares(honest, 2)) == 2
        await crowd.pop().close()  # a freed slot admits the address again, once the pool has seen the close

        async def admitted() -> Connection | None:
            with contextlib.suppress(HandshakeError):
                return await set_up(stack, "127.0.0.2")
            return None

        again = None
        for _ in range(100):
            again = await admitted()
            if again is not None:
                break
            await asyncio.sleep(0.1)
        assert again is not None, "the pool never freed the slot of a closed connection"
        crowd.append(again)

        # the channel cap: a third channel on one connection is refused with OpenMiningChannel.Error
        greedy = await set_up(stack)
        await greedy.send(RequestExtensions(request_id=1, requested_extensions=[ECASH_EXTENSION]))
        assert isinstance(await greedy.recv(), RequestExtensionsSuccess)
        answers: dict[int, object] = {}

        async def open_channel(request_id: int) -> object:
            await greedy.send(open_msg(request_id))
            while request_id not in answers:
                msg = await asyncio.wait_for(greedy.recv(), SAFETY)
                if isinstance(msg, (OpenExtendedEcashMiningChannelSuccess, OpenMiningChannelError)):
                    answers[msg.request_id] = msg
            return answers[request_id]

        first, second = await open_channel(10), await open_channel(11)
        assert isinstance(first, OpenExtendedEcashMiningChannelSuccess)
        assert isinstance(second, OpenExtendedEcashMiningChannelSuccess)
        third = await open_channel(12)
        assert isinstance(third, OpenMiningChannelError) and third.error_code == "too-many-channels"
        await greedy.send(CloseChannel(channel_id=first.channel_id, reason_code=""))
        assert isinstance(await open_channel(13), OpenExtendedEcashMiningChannelSuccess)  # room again
        await greedy.close()

        # the message rate: 100 frames at once (burst 40) end that connection, and only that one
        flooder = await set_up(stack)
        await flooder.send_many([UpdateChannel(99, 0.0, 2**256 - 1)] * 100)
        await recv_until_closed(flooder)
        assert len(await mine_shares(honest, 2)) == 2

        # the mint's HTTP rate limit (burst 2): the third redeem from one address is answered 429
        async with httpx.AsyncClient(base_url=stack.pool_json["http"], timeout=10) as http:
            codes = [
                await http.post("/v1/mining/redeem", json={"inputs": [], "outputs": []}) for _ in range(3)
            ]
        assert [r.status_code for r in codes] == [400, 400, 429]
        assert codes[2].json()["code"] == 41429 and int(codes[2].headers["retry-after"]) >= 1
    finally:
        await honest.close()
        for conn in crowd:
            await conn.close()
    assert stack.pool is not None and "Traceback" not in stack.pool.output()


@pytest.mark.parametrize("stack", [TIMEOUTS], indirect=True)
async def test_handshake_and_idle_timeouts_close_the_socket(stack: Stack) -> None:
    # no Noise handshake at all
    reader, writer = await asyncio.open_connection("127.0.0.1", stack.sv2_port)
    assert await closed_by_pool(reader)
    writer.close()
    # the handshake, but no SetupConnection
    quiet = await Connection.connect("127.0.0.1", stack.sv2_port, stack.pool_json["authority_key"])
    await recv_until_closed(quiet)
    # set up, then silent except for a byte now and then that never completes a frame
    idle = await set_up(stack)

    async def trickle() -> None:
        with contextlib.suppress(OSError, ConnectionError):
            while not idle.closed:
                idle._writer.write(b"\x00")
                await asyncio.sleep(0.3)

    dribbling = asyncio.create_task(trickle())
    await recv_until_closed(idle)
    dribbling.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await dribbling
    log = stack.pool.output() if stack.pool else ""
    assert "handshake timeout" in log and "idle timeout" in log and "Traceback" not in log


@pytest.mark.parametrize("stack", [["--max-connections-per-ip", "5"]], indirect=True)
async def test_connect_disconnect_cycles_leave_the_fd_count_unchanged(stack: Stack) -> None:
    """100 cycles of four kinds; the pool's fds (but its keep-alive sockets to the node) come back."""
    assert stack.pool is not None
    pid, node_port = stack.pool.pid, urlsplit(stack.node_rpc).port
    port, authority = stack.sv2_port, stack.pool_json["authority_key"]
    honest = await EcashClient.open(port, authority, "honest")

    def fds() -> int:
        return open_fds(pid, not_to_port=node_port)

    try:
        await mine_shares(honest, 1)
        before = fds()

        async def full_cycle() -> None:  # handshake, setup, a channel, a share, close
            client = await EcashClient.open(port, authority, "cycle")
            await mine_shares(client, 1)
            await client.close()

        async def abandoned_handshake() -> None:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(os.urandom(10))
            writer.close()

        async def garbage_after_handshake() -> None:
            conn = await set_up(stack)
            conn._writer.write(os.urandom(300))
            await recv_until_closed(conn)

        async def refused_past_the_cap() -> None:
            held = [await set_up(stack) for _ in range(4)]  # with `honest`: the cap of 5
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            assert await closed_by_pool(reader)
            writer.close()
            for conn in held:
                await conn.close()

        for _ in range(25):
            for cycle in (full_cycle, abandoned_handshake, garbage_after_handshake, refused_past_the_cap):
                await cycle()
                # the pool frees a connection when it sees the close: wait for that, so the cap of 5 holds
                await until_async(lambda: fds() <= before, "the pool's fds back to their count before")
        assert fds() == before
        assert len(await mine_shares(honest, 1)) == 1
    finally:
        await honest.close()
