"""Block templates: what getblocktemplate says, turned into the parts every channel's jobs share.

One `Template` serves every channel: the coinbase leaves room for `EXTRANONCE_PREFIX_SIZE` bytes
the pool assigns per channel plus `EXTRANONCE_SIZE` bytes the miner rolls (stratum.md §5.5, §8.3).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from nutx_cli.chain.coinbase import CoinbaseParts, assemble_block, build_coinbase
from nutx_cli.chain.hashes import from_display_hex
from nutx_cli.chain.header import BlockHeader
from nutx_cli.chain.merkle import coinbase_merkle_path
from nutx_cli.core.targets import nbits_to_target, target_of_difficulty
from nutx_cli.errors import NutxError

EXTRANONCE_PREFIX_SIZE = 4
"""Bytes of the extranonce the pool assigns per channel (unique while the pool runs)."""
EXTRANONCE_SIZE = 8
"""Bytes of the extranonce the miner rolls."""


class TemplateError(NutxError, ValueError):
    """A getblocktemplate answer the pool cannot mine on."""


@dataclass(frozen=True)
class Template:
    """A block template with the pool's coinbase, ready to become jobs."""

    id: int
    height: int
    prev_hash: bytes  # internal byte order
    version: int
    bits: int
    curtime: int
    mintime: int
    coinbase_value: int
    coinbase: CoinbaseParts  # non-witness; the extranonce goes between prefix and suffix
    merkle_path: tuple[bytes, ...]
    transactions: tuple[bytes, ...]  # raw, with witness, as GBT's `data`
    network_target: int  # what a block must meet: nBits, or the simulated regtest difficulty if harder

    @property
    def prev_hash_hex(self) -> str:
        return self.prev_hash[::-1].hex()

    def block(self, header: BlockHeader, coinbase_tx: bytes) -> bytes:
        """The full block for a share that met the network target (witness coinbase, GBT's transactions)."""
        return assemble_block(header, coinbase_tx, list(self.transactions))


def network_target(bits: int, simulated_difficulty: Fraction | None) -> int:
    """The block target: nBits, made harder by the simulated network difficulty when one is set (DESIGN §6)."""
    target = nbits_to_target(bits)
    if simulated_difficulty is not None:
        target = min(target, target_of_difficulty(simulated_difficulty))
    return target


def template_from_gbt(
    gbt: dict[str, Any],
    template_id: int,
    payout_script: bytes,
    *,
    simulated_difficulty: Fraction | None = None,
    tag: bytes = b"/nutx/",
) -> Template:
    """Build the pool's template from a getblocktemplate result (stratum.md §8.2)."""
    try:
        txs = gbt.get("transactions", [])
        commitment = gbt.get("default_witness_commitment")
        height = int(gbt["height"])
        bits = int(gbt["bits"], 16)
        coinbase = build_coinbase(
            height,
            int(gbt["coinbasevalue"]),
            payout_script,
            EXTRANONCE_PREFIX_SIZE + EXTRANONCE_SIZE,
            witness_commitment=bytes.fromhex(commitment) if commitment else None,
            tag=tag,
        )
        return Template(
            id=template_id,
            height=height,
            prev_hash=from_display_hex(gbt["previousblockhash"]),
            version=int(gbt["version"]),
            bits=bits,
            curtime=int(gbt["curtime"]),
            mintime=int(gbt.get("mintime", gbt["curtime"])),
            coinbase_value=int(gbt["coinbasevalue"]),
            coinbase=coinbase,
            merkle_path=tuple(coinbase_merkle_path([from_display_hex(t["txid"]) for t in txs])),
            transactions=tuple(bytes.fromhex(t["data"]) for t in txs),
            network_target=network_target(bits, simulated_difficulty),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise TemplateError(f"getblocktemplate answer is unusable: {exc!r}") from exc
