"""Proof-of-work search over the nonce of an 80-byte header, with a SHA-256 midstate.

The first 64 bytes of a header (version, prev hash, 28 bytes of merkle root) do not change while the
nonce rolls, so their SHA-256 state is computed once and copied for every nonce: about half the
work of hashing the header from scratch.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterator

NONCE_SPACE = 1 << 32


class HeaderSearch:
    """Scan nonces of one header template (the 76 bytes before the nonce) against a target."""

    __slots__ = ("_mid", "_tail", "target")

    def __init__(self, header76: bytes, target: int) -> None:
        if len(header76) != 76:
            raise ValueError(f"a header without its nonce has 76 bytes, got {len(header76)}")
        self._mid = hashlib.sha256(header76[:64])
        self._tail = header76[64:]
        self.target = target

    def scan(self, start: int, count: int) -> Iterator[tuple[int, bytes]]:
        """Yield (nonce, header hash) for every nonce in [start, start+count) whose hash meets the target."""
        mid, tail, target = self._mid, self._tail, self.target
        sha256 = hashlib.sha256
        pack = struct.Struct("<I").pack
        from_bytes = int.from_bytes
        for nonce in range(start, min(start + count, NONCE_SPACE)):
            h = mid.copy()
            h.update(tail + pack(nonce))
            digest = sha256(h.digest()).digest()
            if from_bytes(digest, "little") <= target:
                yield nonce, digest
