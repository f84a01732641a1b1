"""Coinbase transactions for stratum jobs: the bytes before and after the extranonce (stratum.md §8.3).

The pool hands miners `prefix` and `suffix`; a miner's coinbase is `prefix + extranonce + suffix`
(the non-witness serialization, whose hash is the txid in the merkle root). The block carries the
witness form, which `assemble_block` produces.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from nutx_cli.chain.address import address_to_script, p2wpkh_address, script_for_pubkey
from nutx_cli.chain.block import WITNESS_RESERVED_VALUE, find_witness_commitment
from nutx_cli.chain.header import BlockHeader
from nutx_cli.chain.script import bip34_height
from nutx_cli.chain.tx import Tx, TxIn, TxOut, varint
from nutx_cli.errors import NutxError

__all__ = [
    "CoinbaseError",
    "CoinbaseParts",
    "address_to_script",
    "assemble_block",
    "block_subsidy",
    "build_coinbase",
    "p2wpkh_address",
    "script_for_pubkey",
]

MIN_SCRIPT_SIG = 2
MAX_SCRIPT_SIG = 100
COIN = 100_000_000
SEQUENCE = 0xFFFFFFFE
"""Bitcoin Core's miner uses nSequence 0xfffffffe and nLockTime height-1 (stratum.md §8.3)."""


class CoinbaseError(NutxError, ValueError):
    """A coinbase that would break a consensus rule (scriptSig length, amounts)."""


@dataclass(frozen=True)
class CoinbaseParts:
    """The non-witness coinbase is `prefix + extranonce + suffix`."""

    prefix: bytes
    suffix: bytes

    def with_extranonce(self, extranonce: bytes) -> bytes:
        return self.prefix + extranonce + self.suffix


def block_subsidy(height: int, halving_interval: int) -> int:
    """New coins in a block at `height`: 50 BTC halved every `halving_interval` blocks (150 on regtest)."""
    halvings = height // halving_interval
    return 0 if halvings >= 64 else (50 * COIN) >> halvings


def build_coinbase(
    height: int,
    value: int,
    script_pubkey: bytes,
    extranonce_size: int,
    *,
    witness_commitment: bytes | None = None,
    tag: bytes = b"/nutx/",
    sequence: int = SEQUENCE,
    locktime: int | None = None,
) -> CoinbaseParts:
    """Split a coinbase paying `value` sats to `script_pubkey` around `extranonce_size` bytes.

    scriptSig = BIP34 height push ‖ tag ‖ extranonce (the extranonce ends the scriptSig).
    `witness_commitment` is the whole commitment scriptPubKey (GBT `default_witness_commitment`).
    `locktime` defaults to height - 1 as Bitcoin Core's miner sets it.
    """
    if value < 0:
        raise CoinbaseError(f"coinbase value must not be negative, got {value}")
    if extranonce_size < 0:
        raise CoinbaseError(f"extranonce size must not be negative, got {extranonce_size}")
    head = bip34_height(height) + tag
    script_len = len(head) + extranonce_size
    if not MIN_SCRIPT_SIG <= script_len <= MAX_SCRIPT_SIG:
        raise CoinbaseError(
            f"coinbase scriptSig would have {script_len} bytes (height push {len(bip34_height(height))}, "
            f"tag {len(tag)}, extranonce {extranonce_size}); it must have {MIN_SCRIPT_SIG}..{MAX_SCRIPT_SIG}"
        )
    outputs = [TxOut(value, script_pubkey)]
    if witness_commitment is not None:
        outputs.append(TxOut(0, witness_commitment))
    prefix = (
        struct.pack("<i", 2)
        + varint(1)
        + bytes(32)
        + struct.pack("<I", 0xFFFFFFFF)
        + varint(script_len)
        + head
    )
    suffix = (
        struct.pack("<I", sequence)
        + varint(len(outputs))
        + b"".join(o.serialize() for o in outputs)
        + struct.pack("<I", max(height - 1, 0) if locktime is None else locktime)
    )
    return CoinbaseParts(prefix, suffix)


def assemble_block(header: BlockHeader, coinbase_tx: bytes, other_txs: list[bytes] | None = None) -> bytes:
    """Serialize a block; the coinbase gets the 32-byte witness reserved value when it commits to witnesses.

    `coinbase_tx` is the non-witness coinbase (`prefix + extranonce + suffix`); `other_txs` are raw
    transactions as GBT's `data` gives them (with witness).
    """
    coinbase = Tx.parse(coinbase_tx)
    if not coinbase.is_coinbase():
        raise CoinbaseError("the first transaction of a block must be a coinbase")
    if find_witness_commitment(coinbase) is not None and not coinbase.has_witness():
        first = coinbase.inputs[0]
        coinbase = Tx(
            coinbase.version,
            (
                TxIn(
                    first.prev_txid,
                    first.prev_vout,
                    first.script_sig,
                    first.sequence,
                    (WITNESS_RESERVED_VALUE,),
                ),
            ),
            coinbase.outputs,
            coinbase.locktime,
        )
    others = other_txs or []
    return header.serialize() + varint(1 + len(others)) + coinbase.serialize(witness=True) + b"".join(others)
