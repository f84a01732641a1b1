"""Mint keysets (NUT-01/02): deterministic key derivation, keyset ids, the public JSON shape.

A keyset is one private scalar per amount. nutx derives every keyset from the mint's master
seed so that a restart (or a restore from the seed) recovers exactly the same keys.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from coincurve import PublicKey

from nutx_cli.core.bdhke import CURVE_ORDER, CryptoError, parse_point
from nutx_cli.core.models import MAX_AMOUNT, ModelError

__all__ = [
    "EHASH_AMOUNTS",
    "SAT_AMOUNTS",
    "Keyset",
    "derive_keyset",
    "keyset_from_public_json",
    "keyset_id_v00",
    "keyset_id_v01",
    "short_keyset_id",
]

SAT_AMOUNTS: tuple[int, ...] = tuple(2**i for i in range(64))
EHASH_AMOUNTS: tuple[int, ...] = SAT_AMOUNTS

KEYSET_DERIVATION_TAG = b"nutx/keyset/v1"


@dataclass(frozen=True)
class Keyset:
    """A mint keyset: private and public key (compressed, 33 bytes) per amount."""

    id: str
    unit: str
    private_keys: Mapping[int, bytes]
    public_keys: Mapping[int, bytes]
    input_fee_ppk: int = 0
    final_expiry: int | None = None

    def public_json(self) -> dict[str, Any]:
        """The NUT-01 shape `{"id", "unit", "keys": {"<amount>": "<hex>"}}`, amounts ascending."""
        return {
            "id": self.id,
            "unit": self.unit,
            "keys": {str(a): self.public_keys[a].hex() for a in sorted(self.public_keys)},
        }


def _derive_private_key(master_seed: bytes, unit: str, index: int, amount: int) -> bytes:
    unit_bytes = unit.encode("utf-8")
    label = (
        KEYSET_DERIVATION_TAG
        + len(unit_bytes).to_bytes(1, "big")
        + unit_bytes
        + index.to_bytes(8, "big")
        + amount.to_bytes(8, "big")
    )
    for ctr in range(256):
        k = int.from_bytes(hmac.digest(master_seed, label + bytes((ctr,)), "sha256"), "big") % CURVE_ORDER
        if k:
            return k.to_bytes(32, "big")
    raise CryptoError("no keyset key found")  # pragma: no cover - probability 2^-8192


def derive_keyset(
    master_seed: bytes,
    unit: str,
    index: int,
    amounts: Iterable[int] = SAT_AMOUNTS,
    input_fee_ppk: int = 0,
) -> Keyset:
    """Derive keyset (unit, index) from the master seed; the id is version 01 (`keyset_id_v01`).

    nutx uses (unit "sat", index 0) for the sat keyset and (unit "ehash", index e) for epoch e.
    The derivation below is frozen forever (changing it would lose every issued token):

        label(unit, index, amount) = b"nutx/keyset/v1" || len(utf8(unit)) as 1 byte || utf8(unit)
                                     || index as 8-byte big-endian || amount as 8-byte big-endian
        k = int(HMAC-SHA256(key=master_seed, msg=label || ctr as 1 byte), big) mod n
        with ctr = 0, 1, ... until k != 0.
    """
    if not 0 < len(unit.encode("utf-8")) < 256:
        raise ModelError(f"unit must be 1..255 bytes, got {unit!r}")
    if not 0 <= index < 2**64:
        raise ModelError(f"keyset index must be in [0, 2^64), got {index}")
    if not master_seed:
        raise CryptoError("master seed is empty")
    private_keys: dict[int, bytes] = {}
    public_keys: dict[int, bytes] = {}
    for amount in sorted(amounts):
        if not 0 < amount <= MAX_AMOUNT:
            raise ModelError(f"keyset amount {amount} out of range [1, 2^64-1]")
        k = _derive_private_key(master_seed, unit, index, amount)
        private_keys[amount] = k
        public_keys[amount] = PublicKey.from_valid_secret(k).format()
    return Keyset(
        id=keyset_id_v01(public_keys, unit, input_fee_ppk),
        unit=unit,
        private_keys=private_keys,
        public_keys=public_keys,
        input_fee_ppk=input_fee_ppk,
    )


def keyset_id_v00(public_keys: Mapping[int, bytes]) -> str:
    """Version 00 id: "00" + first 14 hex of SHA256(concat of keys sorted by amount)."""
    digest = hashlib.sha256(b"".join(public_keys[a] for a in sorted(public_keys))).hexdigest()
    return "00" + digest[:14]


def keyset_id_v01(
    public_keys: Mapping[int, bytes],
    unit: str,
    input_fee_ppk: int = 0,
    final_expiry: int | None = None,
) -> str:
    """Version 01 id (66 hex): "01" + SHA256("amt:hex,…|unit:u[|input_fee_ppk:f][|final_expiry:t]")."""
    pre = ",".join(f"{a}:{public_keys[a].hex()}" for a in sorted(public_keys))
    pre += f"|unit:{unit.lower()}"
    if input_fee_ppk:
        pre += f"|input_fee_ppk:{input_fee_ppk}"
    if final_expiry:
        pre += f"|final_expiry:{final_expiry}"
    return "01" + hashlib.sha256(pre.encode("utf-8")).hexdigest()


def short_keyset_id(keyset_id: str) -> str:
    """The 8-byte (16 hex) form V4 tokens may carry: a version 00 id is already short."""
    return keyset_id[:16]


def keyset_from_public_json(d: Mapping[str, Any]) -> dict[int, bytes]:
    """Parse the `keys` of a NUT-01 keyset into {amount: 33-byte key}, as a wallet must.

    Rejects (ModelError/CryptoError) non-decimal or out-of-range amounts and keys that are not
    33-byte compressed points (32-byte and uncompressed keys included).
    """
    keys = d.get("keys") if isinstance(d, Mapping) else None
    if not isinstance(keys, Mapping) or not keys:
        raise ModelError("keyset has no 'keys' object")
    out: dict[int, bytes] = {}
    for amount_text, key_hex in keys.items():
        if not (isinstance(amount_text, str) and amount_text.isascii() and amount_text.isdigit()):
            raise ModelError(f"keyset amount must be a decimal string, got {amount_text!r}")
        amount = int(amount_text)
        if str(amount) != amount_text:
            raise ModelError(f"keyset amount has leading zeros: {amount_text!r}")
        if not 0 < amount <= MAX_AMOUNT:
            raise ModelError(f"keyset amount {amount} out of range [1, 2^64-1]")
        if not isinstance(key_hex, str):
            raise ModelError(f"key for amount {amount} must be a hex string")
        try:
            out[amount] = parse_point(key_hex).format()
        except CryptoError as exc:
            raise CryptoError(f"key for amount {amount}: {exc}") from None
    return dict(sorted(out.items()))


def amount_split(amount: int) -> list[int]:
    """The power-of-two amounts worth `amount`, ascending (NUT-03 outputs, NUT-08 change)."""
    return [1 << i for i in range(amount.bit_length()) if amount >> i & 1]
