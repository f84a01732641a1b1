"""The 80-byte block header."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from nutx_cli.chain.hashes import dsha256, to_display_hex

HEADER_SIZE = 80


@dataclass(frozen=True, slots=True)
class BlockHeader:
    version: int
    prev_hash: bytes  # internal byte order
    merkle_root: bytes  # internal byte order
    time: int
    bits: int
    nonce: int

    def serialize(self) -> bytes:
        return (
            struct.pack("<I", self.version & 0xFFFFFFFF)
            + self.prev_hash
            + self.merkle_root
            + struct.pack("<III", self.time, self.bits, self.nonce)
        )

    @classmethod
    def parse(cls, data: bytes) -> BlockHeader:
        if len(data) != HEADER_SIZE:
            raise ValueError(f"a block header has 80 bytes, got {len(data)}")
        (version,) = struct.unpack_from("<I", data, 0)
        time, bits, nonce = struct.unpack_from("<III", data, 68)
        return cls(version, data[4:36], data[36:68], time, bits, nonce)

    def hash(self) -> bytes:
        """Double SHA-256 of the header, internal byte order (compare as little-endian U256)."""
        return dsha256(self.serialize())

    def hash_hex(self) -> str:
        return to_display_hex(self.hash())
