"""Block templates and coinbase-only blocks for regtest (pure: the caller supplies tip facts and the clock)."""

from __future__ import annotations

from dataclasses import dataclass, replace

from nutx_cli.chain.block import witness_commitment_script
from nutx_cli.chain.coinbase import assemble_block, block_subsidy, build_coinbase
from nutx_cli.chain.hashes import to_display_hex
from nutx_cli.chain.header import BlockHeader
from nutx_cli.chain.tx import Tx
from nutx_cli.core.header_search import NONCE_SPACE, HeaderSearch
from nutx_cli.core.targets import nbits_to_target
from nutx_cli.errors import NutxError

REGTEST_POW_LIMIT_BITS = 0x207FFFFF
REGTEST_HALVING_INTERVAL = 150
BLOCK_VERSION = 0x20000000
"""BIP9 top bits with no deployment signalling: every soft fork is active from height 1 on regtest."""


class MiningError(NutxError):
    """A header search that ran out of nonces (never on regtest's easy target)."""


@dataclass(frozen=True)
class Template:
    """What a coinbase-only block at `height` on top of `prev_hash` must satisfy."""

    height: int
    prev_hash: bytes  # internal byte order
    bits: int
    mintime: int
    curtime: int
    coinbasevalue: int
    version: int = BLOCK_VERSION

    @property
    def target(self) -> int:
        return nbits_to_target(self.bits)

    @property
    def witness_commitment(self) -> bytes:
        """The commitment output script for a block with no transactions besides the coinbase."""
        return witness_commitment_script([])

    def longpollid(self) -> str:
        return to_display_hex(self.prev_hash) + "0"

    def to_gbt(self) -> dict[str, object]:
        """bitcoind's getblocktemplate result for this template (BIP22/23, segwit rule)."""
        return {
            "capabilities": ["proposal"],
            "version": self.version,
            "rules": ["csv", "!segwit", "taproot"],
            "vbavailable": {},
            "vbrequired": 0,
            "previousblockhash": to_display_hex(self.prev_hash),
            "transactions": [],
            "coinbaseaux": {},
            "coinbasevalue": self.coinbasevalue,
            "longpollid": self.longpollid(),
            "target": f"{self.target:064x}",
            "mintime": self.mintime,
            "mutable": ["time", "transactions", "prevblock"],
            "noncerange": "00000000ffffffff",
            "sigoplimit": 80000,
            "sizelimit": 4000000,
            "weightlimit": 4000000,
            "curtime": self.curtime,
            "bits": f"{self.bits:08x}",
            "height": self.height,
            "default_witness_commitment": self.witness_commitment.hex(),
        }


def next_template(tip_hash: bytes, tip_height: int, median_time_past: int, now: int) -> Template:
    """The template on top of a regtest tip: fixed pow-limit bits, time above the median time past."""
    height = tip_height + 1
    mintime = median_time_past + 1
    return Template(
        height=height,
        prev_hash=tip_hash,
        bits=REGTEST_POW_LIMIT_BITS,
        mintime=mintime,
        curtime=max(now, mintime),
        coinbasevalue=block_subsidy(height, REGTEST_HALVING_INTERVAL),
    )


def search_header(header: BlockHeader, target: int) -> BlockHeader:
    """The first nonce from `header.nonce` whose hash meets `target`."""
    search = HeaderSearch(header.serialize()[:76], target)
    for nonce, _ in search.scan(header.nonce, NONCE_SPACE - header.nonce):
        return replace(header, nonce=nonce)
    raise MiningError("no nonce meets the target; change the time or the extranonce and search again")


def mine_coinbase_only(
    template: Template,
    script_pubkey: bytes,
    extranonce: bytes,
    tag: bytes = b"/nutx/",
    time: int | None = None,
) -> bytes:
    """A full, valid block paying the template's value to `script_pubkey` (the "another miner" lever)."""
    parts = build_coinbase(
        template.height,
        template.coinbasevalue,
        script_pubkey,
        len(extranonce),
        witness_commitment=template.witness_commitment,
        tag=tag,
    )
    coinbase = parts.with_extranonce(extranonce)
    header = BlockHeader(
        template.version,
        template.prev_hash,
        Tx.parse(coinbase).txid(),
        template.curtime if time is None else time,
        template.bits,
        0,
    )
    return assemble_block(search_header(header, template.target), coinbase)
