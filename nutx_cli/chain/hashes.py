"""Bitcoin's double SHA-256 and the display-hex convention for hashes."""

from __future__ import annotations

import hashlib


def dsha256(data: bytes) -> bytes:
    return hashlib.sha256(hashlib.sha256(data).digest()).digest()


def to_display_hex(internal: bytes) -> str:
    """Internal byte order → the reversed hex bitcoind prints for block and tx hashes."""
    return internal[::-1].hex()


def from_display_hex(display: str) -> bytes:
    """bitcoind's reversed hex → internal byte order."""
    return bytes.fromhex(display)[::-1]
