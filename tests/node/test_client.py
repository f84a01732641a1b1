"""The RPC client follows the node's cookie: a restarted node writes a new one, as bitcoind does."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from nutx_cli.errors import NutxError
from nutx_cli.node.client import NodeUnreachable, connect
from tests.helpers.procs import free_port, nutx_process, port_open

pytestmark = pytest.mark.e2e


def test_client_rereads_the_cookie_after_a_node_restart(tmp_path: Path) -> None:
    node_dir, port = tmp_path / "node", free_port()
    args = ["node", "start", "--data-dir", str(node_dir), "--rpc-port", str(port)]

    def ready() -> bool:
        return (node_dir / ".cookie").exists() and port_open(port)

    with nutx_process(args, tmp_path / "node1.log", ready=ready):
        client = connect(node_data_dir=node_dir, port=port)
        first_cookie = (node_dir / ".cookie").read_text()
        assert client.getblockcount() == 0
        client.generatetoaddress(2, "bcrt1qw49pau7kzqzzgspve4rs4nv5s4s3ta5chnrmke")
    with pytest.raises(NodeUnreachable, match="start it with `nutx node start`"):
        client.getblockcount()
    with nutx_process(args, tmp_path / "node2.log", ready=ready):
        assert (node_dir / ".cookie").read_text() != first_cookie
        assert client.getblockcount() == 2  # same client, new cookie, chain kept


def test_node_cookie_flag_rules(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    cookie = tmp_path / ".cookie"
    with pytest.raises(NutxError, match=f"no node cookie at {cookie}"):
        connect("http://127.0.0.1:1", node_cookie=cookie)
    cookie.write_text("no-colon")
    with pytest.raises(NutxError, match="is not a node cookie"):
        connect("http://127.0.0.1:1", node_cookie=cookie)
    cookie.write_text("__cookie__:abc\n")
    assert connect("http://127.0.0.1:1", node_cookie=cookie).url == "http://__cookie__:abc@127.0.0.1:1"
    assert connect(node_cookie=cookie, port=2).url == "http://__cookie__:abc@127.0.0.1:2"
    with pytest.raises(NutxError, match=r"has credentials and --node-cookie others") as refused:
        connect("http://u:secret@127.0.0.1:1", node_cookie=cookie)
    assert "secret" not in str(refused.value)
    with caplog.at_level(logging.WARNING):
        connect("http://__cookie__:abc@127.0.0.1:1")
    assert "pass --node-rpc http://HOST:PORT --node-cookie PATH" in caplog.text
