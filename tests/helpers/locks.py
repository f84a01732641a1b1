"""Locked secrets and their witnesses for the spending-condition tests (NUT-10/11/14), keys by coincurve."""

from __future__ import annotations

import hashlib
import json
import secrets
from typing import Any

from coincurve import PrivateKey


def pub(key: PrivateKey) -> str:
    """The compressed public key in hex, as secrets and tags name keys."""
    return key.public_key.format().hex()


def locked_secret(kind: str, data: str, *tags: list[str], nonce: str | None = None) -> str:
    """A NUT-10 well-known secret `[kind, {nonce, data, tags}]` (a fresh nonce unless one is given)."""
    body = {"nonce": nonce or secrets.token_hex(16), "data": data, "tags": list(tags)}
    return json.dumps([kind, body])


def signatures(message: str, *keys: PrivateKey) -> list[str]:
    """BIP340 signatures over SHA256(message), one per key."""
    return [k.sign_schnorr(hashlib.sha256(message.encode()).digest()).hex() for k in keys]


def witness(message: str, *keys: PrivateKey, **extra: Any) -> str:
    """A P2PK/HTLC witness: `keys`' signatures over `message` (and e.g. `preimage=`)."""
    return json.dumps({"signatures": signatures(message, *keys), **extra})
