"""The SV1 listener's limits on real node, pool and proxy processes, with an honest SV1 miner alongside.

Each cap trips with the SV1 answer (a JSON-RPC error line, then the close) or a reset, while an honest
miner keeps getting shares accepted; the handshake and idle timeouts close the socket. No time is
measured: a close that should come is waited for with a generous safety net.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.procs import NutxProcess, free_port, nutx_process, port_open
from tests.helpers.stack import Stack, node_and_pool
from tests.proxy.test_e2e import DIFF1, LEVEL, Sv1Miner, mine_one

pytestmark = pytest.mark.e2e

SAFETY = 30.0
CAPS = (
    "--max-connections-per-ip",
    "3",
    "--max-workers-per-connection",
    "2",
    "--max-messages-per-second",
    "10",
    "--message-burst",
    "30",
)
TIMEOUTS = ("--handshake-timeout", "1", "--idle-timeout", "2")


@pytest.fixture
def pool(tmp_path: Path) -> Iterator[Stack]:
    """Node and pool; HOME is a temp dir so proxies find the pool by its pool.json."""
    home = tmp_path / "home"
    flags = ("--start-level", str(LEVEL), "--network-difficulty", "1/1024")
    with node_and_pool(tmp_path, *flags, pool_dir=home / ".nutx" / "pool", env={"HOME": str(home)}) as stack:
        yield stack


@contextmanager
def proxy(stack: Stack, *flags: str) -> Iterator[tuple[int, NutxProcess]]:
    """`nutx proxy start FLAGS` on free ports; yields its SV1 port and the process."""
    sv1, admin = free_port(), free_port()
    args = ["proxy", "start", "--data-dir", str(stack.tmp / f"proxy{sv1}"), "--sv1-port", str(sv1)]
    with nutx_process(
        [*args, "--admin-port", str(admin), *flags],
        stack.tmp / f"proxy{sv1}.log",
        ready=lambda: port_open(sv1) and port_open(admin),
        timeout=60,
        env={"HOME": str(stack.tmp / "home")},
    ) as proc:
        yield sv1, proc
        assert "Traceback" not in proc.output()


def raw(port: int, source: str = "127.0.0.1") -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=SAFETY, source_address=(source, 0))


def lines_until_closed(sock: socket.socket) -> list[dict[str, Any]]:
    """Every line the proxy sends until it ends the connection (EOF or reset)."""
    data = b""
    try:
        while chunk := sock.recv(1 << 16):
            data += chunk
    except ConnectionResetError:
        pass
    return [json.loads(line) for line in data.splitlines() if line.strip()]


def request(request_id: int, method: str, params: list[Any]) -> bytes:
    return json.dumps({"id": request_id, "method": method, "params": params}).encode() + b"\n"


def first_job(miner: Sv1Miner) -> tuple[list[Any], int]:
    """The first notify after subscribe and authorize, and the target its set_difficulty gave."""
    difficulty = miner.notification("mining.set_difficulty")["params"][0]
    return miner.notification("mining.notify")["params"], int(DIFF1 / Fraction(difficulty))


def test_each_cap_trips_with_an_sv1_answer_while_an_honest_miner_mines(pool: Stack) -> None:
    with proxy(pool, *CAPS) as (port, _):
        # the per-IP cap: 127.0.0.2 holds 3 connections (each answers), its 4th is reset at once
        crowd = [raw(port, "127.0.0.2") for _ in range(3)]
        for i, sock in enumerate(crowd):
            sock.sendall(request(i, "mining.extranonce.subscribe", []))
            with sock.makefile("rb") as answer:
                assert json.loads(answer.readline())["result"] is True
        refused = raw(port, "127.0.0.2")
        assert lines_until_closed(refused) == []
        refused.close()

        honest = Sv1Miner(port)  # from 127.0.0.1, admitted while 127.0.0.2 is full
        try:
            _, extranonce1, en2_size = honest.call("mining.subscribe", ["honest/1.0"])["result"]
            assert honest.call("mining.authorize", ["alice.1", "x"])["result"] is True
            assert honest.call("mining.authorize", ["alice.2", "x"])["result"] is True
            third = honest.call("mining.authorize", ["alice.3", "x"])  # the worker cap is 2
            assert third["error"][0] == 24 and "at most 2 workers" in third["error"][1]
            job, target = first_job(honest)

            def share(counter: int) -> Any:
                params = mine_one(job, extranonce1, en2_size, target, counter)
                return honest.call("mining.submit", ["alice.1", *params])["result"]

            assert share(0) is True

            # the message rate: 100 lines at once (burst 30) get one error line, then the close
            flooder = raw(port)
            flooder.sendall(b"".join(request(i, "mining.extranonce.subscribe", []) for i in range(100)))
            answers = lines_until_closed(flooder)
            flooder.close()
            assert len(answers) < 100 and "messages a second" in answers[-1]["error"][1]

            # the 16 KiB line cap: one error line, then the close
            long_line = raw(port)
            long_line.sendall(b'{"id": 1, "method": "' + b"x" * (17 * 1024) + b'"}\n')
            answers = lines_until_closed(long_line)
            long_line.close()
            assert len(answers) == 1 and "longer than 16384 bytes" in answers[0]["error"][1]

            assert share(1) is True
        finally:
            honest.close()
            for sock in crowd:
                sock.close()


def test_handshake_and_idle_timeouts_close_the_socket(pool: Stack) -> None:
    with proxy(pool, *TIMEOUTS) as (port, process):
        silent = raw(port)  # not a line within the handshake timeout
        assert lines_until_closed(silent) == []
        silent.close()

        idle = raw(port)  # subscribed, then only blank lines, which are no messages
        idle.sendall(request(1, "mining.subscribe", ["idle/1.0"]))
        stop = threading.Event()

        def trickle() -> None:
            try:
                while not stop.wait(0.3):
                    idle.sendall(b" \r\n")
            except OSError:
                pass

        dribbler = threading.Thread(target=trickle)
        dribbler.start()
        try:
            answers = lines_until_closed(idle)
        finally:
            stop.set()
            dribbler.join()
            idle.close()
        assert [a.get("id") for a in answers if "result" in a][:1] == [1]  # the subscribe was answered
        log = process.output()
        assert "within the handshake timeout of 1 s" in log and "for the idle timeout of 2 s" in log
