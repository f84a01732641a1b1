"""NUT-13 deterministic wallet secrets: every secret and blinding factor follows from the seed.

A wallet keeps one counter per keyset id; output number `counter` of keyset `keyset_id` always
gets the same (secret, r), which is what makes restore (NUT-09) possible from the mnemonic alone.
Keysets with id version 01 use HMAC-SHA256, legacy version 00 ids use BIP32 (via embit).
"""

from __future__ import annotations

import hmac

from embit import bip32
from mnemonic import Mnemonic

from nutx_cli.core.bdhke import CURVE_ORDER, CryptoError

__all__ = [
    "derive_blinding_factor",
    "derive_secret",
    "keyset_id_int",
    "new_mnemonic",
    "seed_from_mnemonic",
]

_HMAC_KDF_TAG = b"Cashu_KDF_HMAC_SHA256"
_HARDENED = 0x80000000
_PURPOSE = 129372  # UTF-8 of the peanut emoji, as NUT-13 fixes it


def new_mnemonic() -> str:
    """A fresh 12-word English BIP39 mnemonic (128 bits of OS randomness)."""
    return str(Mnemonic("english").generate(strength=128))


def seed_from_mnemonic(words: str, passphrase: str = "") -> bytes:
    """The 64-byte BIP39 seed; the words must form a valid English mnemonic (checksum included)."""
    normalized = " ".join(words.split())
    mnemo = Mnemonic("english")
    if not mnemo.check(normalized):
        raise CryptoError("not a valid BIP39 mnemonic (unknown word or bad checksum)")
    return bytes(Mnemonic.to_seed(normalized, passphrase))


def keyset_id_int(keyset_id: str) -> int:
    """Legacy path index: int(keyset id bytes, big-endian) mod (2^31 − 1), 33-byte ids cut to 8 bytes."""
    return int.from_bytes(_id_bytes(keyset_id)[:8], "big") % (2**31 - 1)


def _id_bytes(keyset_id: str) -> bytes:
    try:
        raw = bytes.fromhex(keyset_id)
    except ValueError:
        raise CryptoError(f"keyset id is not hex: {keyset_id!r}") from None
    if len(raw) not in (8, 33):
        raise CryptoError(f"keyset id must be 8 or 33 bytes, got {len(raw)}")
    return raw


def _derive(seed: bytes, keyset_id: str, counter: int, leaf: int) -> bytes:
    """32 bytes for (keyset, counter): the secret (leaf 0) or the blinding factor (leaf 1)."""
    raw = _id_bytes(keyset_id)
    if raw[0] == 0x01:
        if len(raw) != 33:
            raise CryptoError("a version 01 keyset id must be the full 33 bytes (not the short id)")
        if not 0 <= counter < 2**64:
            raise CryptoError(f"counter must be in [0, 2^64), got {counter}")
        msg = _HMAC_KDF_TAG + raw + counter.to_bytes(8, "big") + bytes((leaf,))
        return hmac.digest(seed, msg, "sha256")
    if raw[0] != 0x00:
        raise CryptoError(f"unknown keyset id version {raw[0]:02x}")
    if not 0 <= counter < _HARDENED:
        raise CryptoError(f"counter must be in [0, 2^31), got {counter}")
    path = [_PURPOSE | _HARDENED, _HARDENED, keyset_id_int(keyset_id) | _HARDENED, counter | _HARDENED, leaf]
    return bytes(bip32.HDKey.from_seed(seed).derive(path).key.secret)


def derive_secret(seed: bytes, keyset_id: str, counter: int) -> str:
    """Proof.secret of output `counter` in keyset `keyset_id` (64 lowercase hex chars)."""
    return _derive(seed, keyset_id, counter, 0).hex()


def derive_blinding_factor(seed: bytes, keyset_id: str, counter: int) -> bytes:
    """Blinding factor r (32-byte scalar) of output `counter` in keyset `keyset_id`."""
    r = int.from_bytes(_derive(seed, keyset_id, counter, 1), "big") % CURVE_ORDER
    if r == 0:
        raise CryptoError("derived blinding factor is zero; skip this counter")  # pragma: no cover
    return r.to_bytes(32, "big")
