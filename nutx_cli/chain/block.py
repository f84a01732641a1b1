"""Blocks: parse, serialize, and the BIP141 witness commitment."""

from __future__ import annotations

from dataclasses import dataclass

from nutx_cli.chain.hashes import dsha256
from nutx_cli.chain.header import HEADER_SIZE, BlockHeader
from nutx_cli.chain.merkle import merkle_root
from nutx_cli.chain.script import OP_RETURN
from nutx_cli.chain.tx import DecodeError, Reader, Tx, varint

WITNESS_COMMITMENT_HEADER = bytes([OP_RETURN, 0x24, 0xAA, 0x21, 0xA9, 0xED])
"""`OP_RETURN PUSH36 aa21a9ed`: the start of a witness commitment output script."""
WITNESS_RESERVED_VALUE = bytes(32)


def witness_merkle_root(wtxids_without_coinbase: list[bytes]) -> bytes:
    """Merkle root over wtxids with the coinbase's counted as 32 zero bytes."""
    return merkle_root([bytes(32), *wtxids_without_coinbase])


def witness_commitment_script(
    wtxids_without_coinbase: list[bytes], reserved_value: bytes = WITNESS_RESERVED_VALUE
) -> bytes:
    """The whole commitment scriptPubKey (GBT's `default_witness_commitment`)."""
    commitment = dsha256(witness_merkle_root(wtxids_without_coinbase) + reserved_value)
    return WITNESS_COMMITMENT_HEADER + commitment


def find_witness_commitment(coinbase: Tx) -> int | None:
    """Index of the commitment output that counts (the last one), or None."""
    found = None
    for i, out in enumerate(coinbase.outputs):
        if len(out.script_pubkey) >= 38 and out.script_pubkey[:6] == WITNESS_COMMITMENT_HEADER:
            found = i
    return found


@dataclass(frozen=True)
class Block:
    header: BlockHeader
    txs: tuple[Tx, ...]

    def serialize(self, witness: bool = True) -> bytes:
        return (
            self.header.serialize()
            + varint(len(self.txs))
            + b"".join(tx.serialize(witness) for tx in self.txs)
        )

    def hash(self) -> bytes:
        return self.header.hash()

    def computed_merkle_root(self) -> bytes:
        return merkle_root([tx.txid() for tx in self.txs])

    def weight(self) -> int:
        return 3 * len(self.serialize(witness=False)) + len(self.serialize(witness=True))

    @classmethod
    def parse(cls, data: bytes) -> Block:
        if len(data) < HEADER_SIZE + 1:
            raise DecodeError(f"a block has more than {HEADER_SIZE} bytes, got {len(data)}")
        header = BlockHeader.parse(data[:HEADER_SIZE])
        r = Reader(data, HEADER_SIZE)
        count = r.varint()
        if count > len(data):
            raise DecodeError(f"block claims {count} transactions in {len(data)} bytes")
        txs = tuple(Tx.read(r) for _ in range(count))
        if not r.at_end():
            raise DecodeError(f"{len(data) - r.pos} trailing bytes after the block")
        return cls(header, txs)
