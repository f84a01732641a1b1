"""The same RPC client and block building against a real `bitcoind -regtest` (skipped without bitcoind)."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest

from nutx_cli.node.client import NodeUnreachable, connect
from tests.conftest import REPO_ROOT
from tests.helpers.node import block_from_template
from tests.helpers.procs import free_port

REPO = REPO_ROOT

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        shutil.which("bitcoind") is None,
        reason="no bitcoind on PATH: the real-bitcoind interop test was skipped",
    ),
]


def test_client_mines_on_real_bitcoind(tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [
            str(REPO / "scripts" / "regtest-bitcoind"),
            str(tmp_path),
            f"-rpcport={port}",
            "-port=0",
            "-printtoconsole=0",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        cookie = tmp_path / "regtest" / ".cookie"
        deadline = time.monotonic() + 30
        client = None
        while time.monotonic() < deadline:
            if cookie.exists():
                client = connect(f"http://{cookie.read_text().strip()}@127.0.0.1:{port}")
                try:
                    client.getblockcount()
                    break
                except NodeUnreachable:
                    pass
            time.sleep(0.2)
        assert client is not None, "bitcoind did not come up"
        client.generatetoaddress(1, "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080")
        gbt = client.getblocktemplate()
        assert client.submitblock(block_from_template(gbt, high_hash=True)) == "high-hash"
        assert client.submitblock(block_from_template(gbt)) is None
        assert client.getblockcount() == gbt["height"]
        client.call("stop")
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(30)
