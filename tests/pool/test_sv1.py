"""The pool's own SV1 port in-process: a real node process and mint, the port on loopback, and the tests' SV1
miner (`tests.helpers.sv1_miner`, no nutx code) in a thread.

What is tested: a user name that is no key refused with how to get one, `mining.set_extranonce` to a
miner that subscribed to it, power-of-two difficulties, a share answered `true` only once its claim is
durable, a fresh notify on an idle tip from the pool's template refresh, a suggested difficulty that
moves the level (older jobs still credited at theirs), pool refusals as SV1 codes, `client.reconnect` on
a clean shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator, Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from nutx_cli.core.claims import HOW_TO_GET_A_KEY, claim_pubkey
from nutx_cli.core.limits import ListenerLimits
from nutx_cli.core.vardiff import VardiffConfig
from nutx_cli.mint import Mint
from nutx_cli.node.client import NodeClient
from nutx_cli.pool import chain_watch
from nutx_cli.pool.service import Pool
from nutx_cli.pool.settings import PoolSettings
from nutx_cli.pool.shares import Submission
from nutx_cli.pool.sv1 import Line, Sv1Port, Sv1Wire
from nutx_cli.sv1.protocol import Response
from nutx_cli.sv1.server import SV1_LIMITS
from nutx_cli.sv1.session import MinerSession
from tests.helpers.node import PAYOUT, running_node
from tests.helpers.sv1_miner import DIFF1, Sv1Miner, mine_one

PUBKEY = claim_pubkey(b"\x05" * 32)


@pytest.fixture
def node(tmp_path: Path) -> Iterator[NodeClient]:
    with running_node(tmp_path / "node", tmp_path / "node.log") as (_, client, _):
        yield client


@contextlib.asynccontextmanager
async def serving(
    tmp_path: Path, node: NodeClient, limits: ListenerLimits = SV1_LIMITS
) -> AsyncIterator[tuple[Pool, Sv1Port, int]]:
    """A pool at level 256 with no block in reach (network difficulty 1), its SV1 port on a free port."""
    mint = Mint.open(tmp_path / "pool")
    settings = PoolSettings(
        network="regtest",
        payout_script=PAYOUT,
        network_difficulty=Fraction(1),
        maturity=2,
        vardiff=VardiffConfig(k_max=mint.k_max, shares_per_minute=60_000.0, start_level=256),
    )
    try:
        pool = await Pool.start(mint, node, settings)
        sv1 = Sv1Port(pool, limits)
        yield pool, sv1, await sv1.start("127.0.0.1", 0)
        await sv1.close()
        await pool.shares.wait()
    finally:
        mint.close()


@pytest.fixture
async def port(tmp_path: Path, node: NodeClient) -> AsyncIterator[tuple[Pool, Sv1Port, int]]:
    async with serving(tmp_path, node) as served:
        yield served


def ready_miner(port: int) -> tuple[Sv1Miner, str, int]:
    """Subscribed (and to extranonce changes) and authorized as PUBKEY.rig; returns extranonce1, size."""
    miner = Sv1Miner(port)
    _, extranonce1, size = miner.call("mining.subscribe", ["test/1.0"])["result"]
    assert miner.call("mining.extranonce.subscribe", [])["result"] is True
    assert miner.notification("mining.set_extranonce")["params"] == [extranonce1, size]
    refused = miner.call("mining.authorize", ["alice", "x"])
    assert refused["error"][0] == 24 and HOW_TO_GET_A_KEY in refused["error"][1]
    assert miner.call("mining.authorize", [f"{PUBKEY}.rig", "x"])["result"] is True
    return miner, extranonce1, size


def job(miner: Sv1Miner) -> tuple[list[Any], int]:
    """The next notify and the target of the difficulty announced before it."""
    difficulty = miner.notification("mining.set_difficulty")["params"][0]
    return miner.notification("mining.notify")["params"], int(DIFF1 / Fraction(difficulty))


async def test_an_sv1_miner_is_credited_renotified_on_an_idle_tip_and_told_to_reconnect(
    port: tuple[Pool, Sv1Port, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    pool, sv1, number = port
    miner, extranonce1, size = await asyncio.to_thread(ready_miner, number)
    try:
        assert size == 8 and len(bytes.fromhex(extranonce1)) == 4
        difficulty = miner.notification("mining.set_difficulty")["params"][0]
        assert difficulty == 2.0**-32  # level 256 as a power of two
        notify = miner.notification("mining.notify")["params"]
        assert notify[8] is True  # the first job is clean
        params = await asyncio.to_thread(
            mine_one, notify, extranonce1, size, int(DIFF1 / Fraction(difficulty)), 0
        )
        assert (await asyncio.to_thread(miner.call, "mining.submit", [f"{PUBKEY}.rig", *params]))[
            "result"
        ] is True
        assert [(c.epoch, c.amount) for c in pool.mint.claims(PUBKEY)] == [(1, 1)]  # durable before the true
        assert pool.mint.epoch(1).work == 1

        # an idle tip: the template refresh gives the SV1 miner a new job id, not clean
        monkeypatch.setattr(chain_watch, "TEMPLATE_REFRESH_SECONDS", 0.2)
        stop = asyncio.Event()
        watching = asyncio.create_task(pool.tip_watch.run(stop))
        fresh = (await asyncio.to_thread(miner.notification, "mining.notify"))["params"]
        stop.set()
        await watching
        assert fresh[0] != notify[0] and fresh[8] is False and fresh[1] == notify[1]
        params = await asyncio.to_thread(
            mine_one, fresh, extranonce1, size, int(DIFF1 / Fraction(difficulty)), 1
        )
        assert (await asyncio.to_thread(miner.call, "mining.submit", [f"{PUBKEY}.rig", *params]))[
            "result"
        ] is True
        assert pool.mint.claims(PUBKEY)[0].amount == 2

        await sv1.close()  # a clean shutdown
        reconnect = await asyncio.to_thread(miner.notification, "client.reconnect")
        assert reconnect["params"] == ["127.0.0.1", number, 5]
    finally:
        miner.close()


async def test_a_suggested_difficulty_moves_the_level_and_older_jobs_keep_theirs(
    port: tuple[Pool, Sv1Port, int],
) -> None:
    pool, _, number = port
    miner, extranonce1, size = await asyncio.to_thread(ready_miner, number)
    try:
        old, old_target = await asyncio.to_thread(job, miner)
        assert (await asyncio.to_thread(miner.call, "mining.suggest_difficulty", [2**-24]))["result"] is True
        new, new_target = await asyncio.to_thread(job, miner)  # set_difficulty 2^-24 before the new job
        assert new_target == 0xFFFF << (248 - 16) and new[8] is False  # level 248: exactly the suggestion
        for notify, target, counter in ((old, old_target, 0), (new, new_target, 1)):
            params = await asyncio.to_thread(mine_one, notify, extranonce1, size, target, counter)
            answer = await asyncio.to_thread(miner.call, "mining.submit", [f"{PUBKEY}.rig", *params])
            assert answer["result"] is True
        assert pool.mint.claims(PUBKEY)[0].amount == 1 + 2**8  # each share at the level of its own job
        channel = next(iter(pool.channels))
        assert (channel.kind, channel.level, channel.user) == ("sv1", 248, f"{PUBKEY}.rig")
    finally:
        miner.close()


class MemoryLines:
    closed = False

    def __init__(self) -> None:
        self.lines: list[Line] = []

    def write_many(self, lines: Any) -> None:
        self.lines.extend(lines)


@pytest.mark.parametrize(
    ("code", "sv1_code"),
    [("stale-share", 21), ("duplicate-share", 22), ("difficulty-too-low", 23), ("inactive-keyset", 20)],
)
async def test_pool_refusals_reach_sv1_miners_as_their_codes(code: str, sv1_code: int) -> None:
    lines = MemoryLines()
    wire = Sv1Wire(MinerSession("x"), lines)
    wire.pending[7] = "submit-7"
    share = Submission(1, 7, 1, 0, 0, 0x20000000, bytes(8), claimant=PUBKEY)
    wire.rejected(None, share, code)  # type: ignore[arg-type]
    await asyncio.sleep(0)  # the outbox writes on the next loop iteration
    assert lines.lines == [Response("submit-7", None, [sv1_code, code, None])] and wire.pending == {}


def _lines_until_closed(sock: socket.socket) -> list[dict[str, Any]]:
    """Every line the pool sends until it ends the connection (EOF or reset)."""
    data = b""
    try:
        while chunk := sock.recv(1 << 16):
            data += chunk
    except ConnectionResetError:
        pass
    return [json.loads(line) for line in data.splitlines() if line.strip()]


async def test_the_sv1_port_keeps_the_listener_limits(tmp_path: Path, node: NodeClient) -> None:
    """Per-IP cap, worker cap, message rate, the 16 KiB line and the handshake timeout, as on the proxy."""
    limits = ListenerLimits(
        connections_per_ip=2,
        handshake_timeout=1.0,
        channels_per_connection=1,
        messages_per_second=5,
        message_burst=10,
    )
    async with serving(tmp_path, node, limits) as (_, _, number):

        def probe() -> None:
            honest, _, _ = ready_miner(number)
            try:
                second = honest.call("mining.authorize", [f"{PUBKEY}.other", "x"])
                assert second["error"][0] == 24 and "at most 1 workers" in second["error"][1]
                with socket.create_connection(("127.0.0.1", number), timeout=30) as silent:
                    assert _lines_until_closed(silent) == []  # no first line: closed at the timeout
                with socket.create_connection(("127.0.0.1", number), timeout=30) as crowd:
                    crowd.sendall(b"\n")  # admitted (the honest miner holds the other place) …
                    with socket.create_connection(("127.0.0.1", number), timeout=30) as refused:
                        assert _lines_until_closed(refused) == []  # … so a third is reset at once
                with socket.create_connection(("127.0.0.1", number), timeout=30) as flooder:
                    flood = b"".join(
                        json.dumps({"id": i, "method": "mining.extranonce.subscribe", "params": []}).encode()
                        + b"\n"
                        for i in range(50)
                    )
                    flooder.sendall(flood)
                    answers = _lines_until_closed(flooder)
                    assert len(answers) < 50 and "messages a second" in answers[-1]["error"][1]
                with socket.create_connection(("127.0.0.1", number), timeout=30) as long_line:
                    long_line.sendall(b'{"id": 1, "method": "' + b"x" * (17 * 1024) + b'"}\n')
                    answers = _lines_until_closed(long_line)
                    assert len(answers) == 1 and "longer than 16384 bytes" in answers[0]["error"][1]
                assert honest.call("mining.extranonce.subscribe", [])["result"] is True  # still served
            finally:
                honest.close()

        await asyncio.to_thread(probe)
