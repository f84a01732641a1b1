"""Embedded node validation speed: the same pre-mined chain of N coinbase-only regtest blocks is
validated once through `submitblock` over RPC (a real `nutx node start` process, python-bitcoinrpc
client) and once in-process through the kernel's process_block.
Usage: scripts/bench_node [N]   (default 2000)
Last line: "node: rpc_blocks_per_s=X inprocess_blocks_per_s=Y ratio=R".
"""

import os
import sys
import tempfile
import time
from pathlib import Path

from nutx_cli.chain.coinbase import block_subsidy
from nutx_cli.chain.hashes import from_display_hex
from nutx_cli.chain.header import BlockHeader
from nutx_cli.chain.script import p2wpkh
from nutx_cli.node.kernel import Kernel
from nutx_cli.node.mining import (
    REGTEST_HALVING_INTERVAL,
    REGTEST_POW_LIMIT_BITS,
    Template,
    mine_coinbase_only,
)
from tests.helpers.node import running_node

GENESIS = from_display_hex("0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206")
count = int(sys.argv[1]) if len(sys.argv) > 1 else 2000

start = int(time.time()) - count  # strictly rising times, never in the future
blocks, prev = [], GENESIS
for height in range(1, count + 1):
    t = start + height
    template = Template(
        height, prev, REGTEST_POW_LIMIT_BITS, t, t, block_subsidy(height, REGTEST_HALVING_INTERVAL)
    )
    raw = mine_coinbase_only(template, p2wpkh(bytes(20)), os.urandom(8))
    blocks.append(raw)
    prev = BlockHeader.parse(raw[:80]).hash()
print(f"pre-mined {count} blocks")

with tempfile.TemporaryDirectory() as tmp:
    base = Path(tmp)
    with running_node(base / "rpc", base / "node.log") as (_proc, client, _port):
        t0 = time.perf_counter()
        for raw in blocks:
            if client.submitblock(raw) is not None:
                raise SystemExit("a block was rejected over RPC")
        rpc_s = time.perf_counter() - t0
        assert client.getblockcount() == count
    kernel = Kernel(base / "inprocess")
    t0 = time.perf_counter()
    for raw in blocks:
        if kernel.process_block(raw) is not None:
            raise SystemExit("a block was rejected in-process")
    inproc_s = time.perf_counter() - t0
    assert kernel.height() == count
    kernel.close()

rpc_rate, inproc_rate = count / rpc_s, count / inproc_s
print(f"rpc: {count} blocks in {rpc_s:.2f} s; in-process: {count} blocks in {inproc_s:.2f} s")
print(
    f"node: rpc_blocks_per_s={rpc_rate:.0f} inprocess_blocks_per_s={inproc_rate:.0f} ratio={rpc_rate / inproc_rate:.2f}"
)
