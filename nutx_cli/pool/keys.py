"""The pool's own keys, kept in its data dir so a restart keeps them (and `nutx pool backup` saves them).

`authority.key` signs the pool's Noise certificate (miners pin its public key), `sv2_static.key` is the
Noise static key (both in the SV2 text form), `payout.key` (hex) owns the default payout address.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from nutx_cli.errors import NutxError
from nutx_cli.private_files import read_private, write_private
from nutx_cli.sv2.certificate import pubkey_of_secret, secret_key_from_text, secret_key_to_text

AUTHORITY_KEY = "authority.key"
STATIC_KEY = "sv2_static.key"
PAYOUT_KEY = "payout.key"
KEY_FILES = (AUTHORITY_KEY, STATIC_KEY, PAYOUT_KEY)


def _secret_file(path: Path, make: Callable[[bytes], str], read: Callable[[str], bytes]) -> bytes:
    """A 32-byte secret kept in `path` (created with mode 0600 on first start)."""
    if path.exists():
        try:
            return read(read_private(path).strip())
        except (ValueError, NutxError) as exc:
            raise NutxError(f"{path} is damaged ({exc}); restore it from a backup or remove it") from None
    while True:
        secret = os.urandom(32)
        try:
            pubkey_of_secret(secret)
            break
        except (ValueError, NutxError):
            continue
    write_private(path, make(secret) + "\n")
    return secret


@dataclass(frozen=True)
class PoolKeys:
    authority: bytes
    static: bytes
    payout: bytes

    @classmethod
    def load(cls, data_dir: Path) -> PoolKeys:
        """The keys of `data_dir`, each created on first start."""
        return cls(
            authority=_secret_file(data_dir / AUTHORITY_KEY, secret_key_to_text, secret_key_from_text),
            static=_secret_file(data_dir / STATIC_KEY, secret_key_to_text, secret_key_from_text),
            payout=_secret_file(data_dir / PAYOUT_KEY, bytes.hex, bytes.fromhex),
        )
