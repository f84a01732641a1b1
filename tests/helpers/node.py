"""Helpers for node tests: start a real node process, and build (possibly broken) blocks from a template."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from nutx_cli.chain.coinbase import assemble_block, build_coinbase
from nutx_cli.chain.hashes import from_display_hex
from nutx_cli.chain.header import BlockHeader
from nutx_cli.chain.script import p2wpkh
from nutx_cli.chain.tx import Tx
from nutx_cli.core.targets import meets
from nutx_cli.node.client import NodeClient, connect
from nutx_cli.node.mining import search_header
from tests.helpers.procs import NutxProcess, free_port, nutx_process, port_open

PAYOUT = p2wpkh(bytes(range(20)))


@contextmanager
def running_node(
    data_dir: Path, log: Path, port: int | None = None
) -> Iterator[tuple[NutxProcess, NodeClient, int]]:
    """`nutx node start` on a free port; yields the process, a cookie client and the port."""
    port = port or free_port()
    args = ["node", "start", "--data-dir", str(data_dir), "--rpc-port", str(port)]
    with nutx_process(
        args, log, ready=lambda: "ready" in log.read_text() and port_open(port), timeout=20
    ) as proc:
        yield proc, connect(node_data_dir=data_dir, port=port, timeout=30), port


def block_from_template(
    gbt: dict[str, Any],
    *,
    value: int | None = None,
    height: int | None = None,
    time: int | None = None,
    bits: int | None = None,
    bad_merkle: bool = False,
    high_hash: bool = False,
    prev: bytes | None = None,
    tag: bytes = b"/test/",
    witness_commitment: bool = True,
) -> bytes:
    """A coinbase-only block for a GBT template; keyword arguments break one rule each."""
    commitment = bytes.fromhex(gbt["default_witness_commitment"]) if witness_commitment else None
    parts = build_coinbase(
        gbt["height"] if height is None else height,
        gbt["coinbasevalue"] if value is None else value,
        PAYOUT,
        8,
        witness_commitment=commitment,
        tag=tag,
    )
    coinbase = parts.with_extranonce(os.urandom(8))
    txid = Tx.parse(coinbase).txid()
    header = BlockHeader(
        gbt["version"],
        from_display_hex(gbt["previousblockhash"]) if prev is None else prev,
        bytes(32) if bad_merkle else txid,
        gbt["curtime"] if time is None else time,
        int(gbt["bits"], 16) if bits is None else bits,
        0,
    )
    target = int(gbt["target"], 16)
    if high_hash:
        while meets(header.hash(), target):
            header = replace(header, nonce=header.nonce + 1)
    else:
        header = search_header(header, target)
    return assemble_block(header, coinbase)
