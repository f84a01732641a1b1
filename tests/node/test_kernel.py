"""The kernel wrapper and the regtest levers in-process: verdicts, halving, persistence, reorg."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from nutx_cli.chain.header import BlockHeader
from nutx_cli.node.chainstate import LeverError, generate, reorg, template_on
from nutx_cli.node.kernel import Kernel
from nutx_cli.node.mining import REGTEST_POW_LIMIT_BITS
from tests.helpers.node import PAYOUT, block_from_template

GENESIS = "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206"


def test_fresh_chain_is_regtest_genesis(tmp_path: Path) -> None:
    kernel = Kernel(tmp_path)
    tip = kernel.tip()
    assert tip.height == 0 and tip.hash[::-1].hex() == GENESIS
    assert tip.header.bits == REGTEST_POW_LIMIT_BITS
    kernel.close()


def test_halving_persistence_and_reorg(tmp_path: Path) -> None:
    kernel = Kernel(tmp_path)
    hashes = generate(kernel, 151, PAYOUT)
    assert kernel.height() == 151 and kernel.tip().hash == hashes[-1]
    gbt = template_on(kernel, kernel.tip(), int(time.time())).to_gbt()
    assert gbt["height"] == 152 and gbt["coinbasevalue"] == 25 * 10**8
    assert gbt["mintime"] == kernel.median_time_past(hashes[-1]) + 1
    # paying the pre-halving subsidy is refused by consensus
    assert kernel.process_block(block_from_template(gbt, value=50 * 10**8)) == "bad-cb-amount"
    good = block_from_template(gbt)
    assert kernel.process_block(good) is None
    assert kernel.process_block(good) == "duplicate"
    tip = kernel.tip()
    kernel.close()

    reopened = Kernel(tmp_path)
    assert reopened.tip() == tip
    old = reopened.at_height(150)
    assert old is not None
    done = reorg(reopened, 3, PAYOUT)
    assert done.fork_height == 149 and len(done.connected) == 4 and len(done.disconnected) == 3
    assert reopened.height() == 153
    gone = reopened.entry(old.hash)
    assert gone is not None and not gone.in_best_chain
    with pytest.raises(LeverError):
        reorg(reopened, 1000, PAYOUT)
    reopened.close()


def test_side_branch_block_is_inconclusive(tmp_path: Path) -> None:
    kernel = Kernel(tmp_path)
    generate(kernel, 2, PAYOUT)
    parent = kernel.at_height(1)
    assert parent is not None
    gbt = template_on(kernel, parent, int(time.time()) + 1).to_gbt()
    raw = block_from_template(gbt)
    assert kernel.process_block(raw) == "inconclusive"
    side = kernel.entry(BlockHeader.parse(raw[:80]).hash())
    assert side is not None and not side.in_best_chain and side.height == 2
    kernel.close()


def test_invalid_block_is_remembered_and_its_children_refused(tmp_path: Path) -> None:
    kernel = Kernel(tmp_path)
    generate(kernel, 2, PAYOUT)
    template = template_on(kernel, kernel.tip(), int(time.time()))
    gbt = template.to_gbt()
    bad = block_from_template(gbt, value=template.coinbasevalue + 1)
    assert kernel.process_block(bad) == "bad-cb-amount"
    assert kernel.process_block(bad) == "duplicate-invalid"
    child = {
        **gbt,
        "previousblockhash": BlockHeader.parse(bad[:80]).hash()[::-1].hex(),
        "height": template.height + 1,
        "curtime": template.curtime + 1,
    }
    assert kernel.process_block(block_from_template(child)) == "bad-prevblk"
    assert kernel.height() == 2
    kernel.close()
