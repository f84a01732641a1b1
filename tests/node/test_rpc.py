"""The node as a real process: bitcoind's RPC shapes and errors, submitblock verdicts, levers, restarts."""

from __future__ import annotations

import base64
import http.client
import json
import socket
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from nutx_cli.chain.block import Block
from nutx_cli.errors import NutxError
from nutx_cli.node.client import NodeClient, NodeRpcError, NodeUnreachable, connect
from nutx_cli.node.http import MAX_BODY
from tests.helpers.node import block_from_template, running_node
from tests.helpers.procs import NutxProcess, free_port, nutx_process, port_open

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("node_rpc")]

ADDRESS = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080"


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[NutxProcess, NodeClient, int, Path]]:
    base = tmp_path_factory.mktemp("node")
    with running_node(base / "data", base / "node.log") as (proc, client, port):
        yield proc, client, port, base / "data"


def raw_post(
    port: int, body: bytes, auth: str | None, method: str = "POST"
) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Content-Type": "application/json"}
    if auth is not None:
        headers["Authorization"] = "Basic " + base64.b64encode(auth.encode()).decode()
    conn.request(method, "/", body=body, headers=headers)
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, dict(response.getheaders()), data


def cookie(data_dir: Path) -> str:
    return (data_dir / ".cookie").read_text()


def test_cookie_and_basic_shapes(node: tuple[NutxProcess, NodeClient, int, Path]) -> None:
    _, client, _, data_dir = node
    assert stat.S_IMODE((data_dir / ".cookie").stat().st_mode) == 0o600
    assert cookie(data_dir).startswith("__cookie__:")
    info = client.call("getblockchaininfo")
    assert info["chain"] == "regtest" and info["blocks"] == client.getblockcount()
    assert (
        client.call("getblockhash", 0) == "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206"
    )
    assert client.call("getnetworkinfo")["connections"] == 0
    assert isinstance(client.call("uptime"), int)
    header_hex = client.getblockheader(client.call("getblockhash", 0), False)
    assert len(header_hex) == 160


def test_getblocktemplate_fields_and_errors(node: tuple[NutxProcess, NodeClient, int, Path]) -> None:
    _, client, _, _ = node
    gbt = client.getblocktemplate()
    assert gbt["previousblockhash"] == client.getbestblockhash()
    assert gbt["height"] == client.getblockcount() + 1
    assert gbt["transactions"] == [] and gbt["bits"] == "207fffff"
    assert int(gbt["target"], 16) == 0x7FFFFF << 232
    assert gbt["curtime"] >= gbt["mintime"]
    assert gbt["default_witness_commitment"] == (
        "6a24aa21a9ed" + "e2f61c3f71d1defd3fa999dfa36953755c690689799962b48bebd836974e8cf9"
    )
    with pytest.raises(NodeRpcError) as err:
        client.call("getblocktemplate", {})
    assert err.value.code == -8 and "segwit" in err.value.rpc_message


def test_mine_300_blocks_then_restart_keeps_the_tip(tmp_path: Path) -> None:
    with running_node(tmp_path / "data", tmp_path / "a.log") as (_, client, port):
        start = client.getblockcount()
        for _ in range(300):
            gbt = client.getblocktemplate()
            assert client.submitblock(block_from_template(gbt)) is None
        tip, height = client.getbestblockhash(), client.getblockcount()
        assert height == start + 300
        assert client.getblocktemplate()["coinbasevalue"] == 50 * 10**8 >> 2  # halvings at 150 and 300
        assert client.call("getblockheader", tip)["confirmations"] == 1
    assert not (tmp_path / "data" / ".cookie").exists()  # removed on clean shutdown
    with running_node(tmp_path / "data", tmp_path / "b.log", port) as (_, client, _):
        assert client.getbestblockhash() == tip and client.getblockcount() == height


@pytest.mark.parametrize(
    "breakage, reason",
    [
        ({"high_hash": True}, "high-hash"),
        ({"bad_merkle": True}, "bad-txnmrklroot"),
        ({"time": 1_296_688_602}, "time-too-old"),
        ({"time_delta": 3 * 3600}, "time-too-new"),
        ({"value_delta": 1}, "bad-cb-amount"),
        ({"height_delta": -1}, "bad-cb-height"),
        ({"height": 300, "tag": b"\x01" * 3}, "bad-txns-nonfinal"),
        ({"bits": 0x207FFFFE}, "bad-diffbits"),
        ({"prev": b"\x42" * 32}, "prev-blk-not-found"),
    ],
)
def test_submitblock_rejections(
    node: tuple[NutxProcess, NodeClient, int, Path], breakage: dict[str, Any], reason: str
) -> None:
    _, client, _, _ = node
    client.generatetoaddress(1, ADDRESS)
    gbt = client.getblocktemplate()
    kwargs = dict(breakage)
    if "time_delta" in kwargs:
        kwargs["time"] = gbt["curtime"] + kwargs.pop("time_delta")
    if "value_delta" in kwargs:
        kwargs["value"] = gbt["coinbasevalue"] + kwargs.pop("value_delta")
    if "height_delta" in kwargs:
        kwargs["height"] = gbt["height"] + kwargs.pop("height_delta")
    tip = client.getbestblockhash()
    assert client.submitblock(block_from_template(gbt, **kwargs)) == reason
    assert client.getbestblockhash() == tip


def test_submitblock_duplicate_inconclusive_and_decode_errors(
    node: tuple[NutxProcess, NodeClient, int, Path],
) -> None:
    _, client, _, _ = node
    gbt = client.getblocktemplate()
    block = block_from_template(gbt)
    assert client.submitblock(block) is None
    assert client.submitblock(block) == "duplicate"
    # a second valid block at the same height: stored, but not the tip
    assert client.submitblock(block_from_template(gbt, tag=b"/other/")) == "inconclusive"
    # the coinbase reserved value is filled in when it is missing (as bitcoind does)
    gbt = client.getblocktemplate()
    stripped = block_from_template(gbt, witness_commitment=True)
    assert client.submitblock(Block.parse(stripped).serialize(witness=False)) is None
    for bad in ("zz", "00" * 81, ""):
        with pytest.raises(NodeRpcError) as err:
            client.call("submitblock", bad)
        assert err.value.code == -22


def test_reorg_lever_by_cli(node: tuple[NutxProcess, NodeClient, int, Path]) -> None:
    _, client, port, data_dir = node
    client.generatetoaddress(3, ADDRESS)
    old_tip, old_height = client.getbestblockhash(), client.getblockcount()
    url = f"http://{cookie(data_dir)}@127.0.0.1:{port}"
    out = subprocess.run(
        [sys.executable, "-m", "nutx_cli", "regtest", "reorg", "--depth", "2", "--node-rpc", url],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert "2 blocks out, 3 in" in out.stdout
    assert client.getblockcount() == old_height + 1
    header = client.getblockheader(old_tip)
    assert header["confirmations"] == -1 and "nextblockhash" not in header
    assert client.call("getblock", old_tip, 1)["confirmations"] == -1
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "nutx_cli",
            "regtest",
            "generate",
            "2",
            "--address",
            ADDRESS,
            "--node-rpc",
            url,
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[-1] == client.getbestblockhash()
    assert client.getblockcount() == old_height + 3


def test_longpoll_sees_a_new_tip_within_a_second(node: tuple[NutxProcess, NodeClient, int, Path]) -> None:
    _, client, _, _ = node
    gbt = client.getblocktemplate()
    result: dict[str, Any] = {}

    def poll() -> None:
        result["gbt"] = client.getblocktemplate(gbt["longpollid"])

    waiter = threading.Thread(target=poll)
    waiter.start()
    time.sleep(0.3)
    assert waiter.is_alive()  # still waiting for a new tip
    new_tip = client.generatetoaddress(1, ADDRESS)[0]
    waiter.join(10)
    assert not waiter.is_alive()  # woken by the tip, long before the long poll's own timeout
    assert result["gbt"]["previousblockhash"] == new_tip
    stale = client.getblocktemplate(gbt["longpollid"])  # an old id returns at once
    assert stale["previousblockhash"] == new_tip


def test_waitfornewblock(node: tuple[NutxProcess, NodeClient, int, Path]) -> None:
    _, client, _, _ = node
    tip = client.getbestblockhash()
    assert client.waitfornewblock(100)["hash"] == tip  # timeout: the current tip
    threading.Timer(0.2, lambda: connect(client.url).generatetoaddress(1, ADDRESS)).start()
    assert client.waitfornewblock(10_000)["hash"] != tip


def test_bad_params_use_bitcoind_codes(node: tuple[NutxProcess, NodeClient, int, Path]) -> None:
    _, client, _, _ = node
    cases: list[tuple[tuple[Any, ...], int]] = [
        (("nosuchmethod",), -32601),
        (("getblockhash", "1"), -3),
        (("getblockhash", 10**9), -8),
        (("getblockhash",), -1),
        (("getblockcount", 1), -1),
        (("getblockheader", "00" * 32), -5),
        (("getblockheader", "xyz"), -8),
        (("getblock", "zz" * 32), -8),
        (("generatetoaddress", 1, "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"), -5),
        (("reorg", 10**6), -8),
    ]
    for args, code in cases:
        with pytest.raises(NodeRpcError) as err:
            client.call(*args)
        assert err.value.code == code, args


def test_transport_errors_leave_the_node_running(node: tuple[NutxProcess, NodeClient, int, Path]) -> None:
    proc, client, port, data_dir = node
    auth = cookie(data_dir)
    status, headers, _ = raw_post(port, b'{"method":"getblockcount","params":[],"id":1}', "__cookie__:wrong")
    assert status == 401 and headers.get("WWW-Authenticate") == 'Basic realm="jsonrpc"'
    assert raw_post(port, b"{}", None)[0] == 401
    status, _, body = raw_post(port, b'{"method": "getblockcount", ', auth)
    assert status == 500 and json.loads(body)["error"]["code"] == -32700
    status, _, body = raw_post(port, b"[1, 2]", auth)
    assert status == 200 and len(json.loads(body)) == 2
    status, _, body = raw_post(port, b'{"jsonrpc":"2.0","method":"nosuch","id":7}', auth)
    assert status == 200 and json.loads(body) == {
        "jsonrpc": "2.0",
        "error": {"code": -32601, "message": "Method not found"},
        "id": 7,
    }
    status, _, body = raw_post(port, b'{"method":"getblockcount","params":"x","id":1}', auth)
    assert status == 400 and json.loads(body)["error"]["code"] == -32600
    assert raw_post(port, b"", auth, method="GET")[0] == 405
    status, _, _ = raw_post(port, b"[" + b" " * MAX_BODY + b"]", auth)
    assert status == 413
    status, _, body = raw_post(port, b'{"method":"getblockcount","params":{},"id":"x"}', auth)
    assert status == 200 and json.loads(body)["id"] == "x"
    for garbage in (b"GARBAGE\r\n\r\n", b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n"):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(garbage)
            assert sock.recv(100).startswith(b"HTTP/1.1 400")
    assert proc.proc.poll() is None and client.getblockcount() >= 0


def test_client_errors_say_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(NutxError, match="nutx node start"):
        connect(node_data_dir=tmp_path)  # no cookie
    port = free_port()
    with pytest.raises(NodeUnreachable, match="start it with `nutx node start`"):
        connect(f"http://u:p@127.0.0.1:{port}").getblockcount()
    with pytest.raises(NutxError):
        connect("ftp://nowhere")


def test_wrong_credentials_and_rpc_user(tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "node.log"
    args = [
        "node",
        "start",
        "--data-dir",
        str(tmp_path / "d"),
        "--rpc-port",
        str(port),
        "--rpc-user",
        "alice",
        "--rpc-password",
        "secret",
    ]
    with nutx_process(args, log, ready=lambda: port_open(port), timeout=20) as proc:
        assert not (tmp_path / "d" / ".cookie").exists()
        assert connect(f"http://alice:secret@127.0.0.1:{port}").getblockcount() == 0
        with pytest.raises(NodeUnreachable, match="refused our credentials"):
            connect(f"http://alice:wrong@127.0.0.1:{port}").getblockcount()
        assert connect(f"http://alice:secret@127.0.0.1:{port}").call("stop") == "Bitcoin server stopping"
        proc.proc.wait(10)
        assert proc.proc.returncode == 0


def test_restart_after_a_crash_keeps_the_chain(tmp_path: Path) -> None:
    with running_node(tmp_path / "data", tmp_path / "a.log") as (proc, client, port):
        client.generatetoaddress(20, ADDRESS)
        tip = client.getbestblockhash()
        proc.kill()  # SIGKILL: the chainstate is not flushed
    assert (tmp_path / "data" / "node.pid").exists()
    with running_node(tmp_path / "data", tmp_path / "b.log", port) as (_, client, _):
        assert client.getbestblockhash() == tip and client.getblockcount() == 20
        # a second node on the same data dir is refused
        with (
            pytest.raises(NutxError, match="another node"),
            running_node(tmp_path / "data", tmp_path / "c.log"),
        ):
            pass
    assert not (tmp_path / "data" / "node.pid").exists()
