"""The Cashu JSON objects (NUT-00 §2.3, NUT-12): BlindedMessage, BlindSignature, Proof, DLEQ.

Plain frozen dataclasses holding the wire values (hex strings, int amounts). `from_json`
validates everything a peer could get wrong and raises `ModelError` (or `CryptoError` for a bad
point) with a message naming the field; `to_json` gives the exact wire dict, optional fields
omitted when absent. Constructors trust their arguments (the mint builds these from values it
just computed).

A blind signature is a `bdhke.BlindSig` (bytes) everywhere inside nutx; `BlindSignature.of` and
`BlindSignature.blind_sig` are its one adapter to and from this JSON form.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Self

from nutx_cli.core.bdhke import BlindSig, parse_point, secret_to_y
from nutx_cli.errors import NutxError

__all__ = ["DLEQ", "MAX_AMOUNT", "BlindSignature", "BlindedMessage", "ModelError", "Proof"]

MAX_AMOUNT = 2**64 - 1
"""Largest amount accepted anywhere (keysets go up to 2^63)."""


class ModelError(NutxError, ValueError):
    """A Cashu JSON object is malformed: missing field, wrong type, bad hex or amount."""


def _object(d: Any) -> dict[str, Any]:
    if not isinstance(d, dict):
        raise ModelError(f"expected a JSON object, got {type(d).__name__}")
    return d


def _field(d: Any, name: str, kind: type) -> Any:
    if name not in _object(d):
        raise ModelError(f"missing field {name!r}")
    value = d[name]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ModelError(f"field {name!r} must be {kind.__name__}, got {type(value).__name__}")
    return value


def _optional(d: Any, name: str, kind: type) -> Any:
    return _field(d, name, kind) if _object(d).get(name) is not None else None


def check_amount(amount: Any, *, allow_zero: bool = False) -> int:
    """An amount is an int in [1, 2^64-1] ([0, …] when `allow_zero`, for NUT-08 blank outputs)."""
    if not isinstance(amount, int) or isinstance(amount, bool):
        raise ModelError(f"amount must be an integer, got {type(amount).__name__}")
    low = 0 if allow_zero else 1
    if not low <= amount <= MAX_AMOUNT:
        raise ModelError(f"amount {amount} out of range [{low}, 2^64-1]")
    return amount


def _hex(value: str, name: str, nbytes: int | tuple[int, ...]) -> str:
    sizes = (nbytes,) if isinstance(nbytes, int) else nbytes
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        raise ModelError(f"{name} is not hex: {value[:80]!r}") from None
    if len(raw) not in sizes or len(value) != 2 * len(raw):
        raise ModelError(f"{name} must be {' or '.join(map(str, sizes))} bytes of hex, got {value[:80]!r}")
    return value.lower()


def check_keyset_id(value: Any) -> str:
    """A keyset id: 8 bytes (version 00, or the short form of a 01 id) or 33 bytes (version 01)."""
    if not isinstance(value, str):
        raise ModelError(f"keyset id must be a string, got {type(value).__name__}")
    return _hex(value, "keyset id", (8, 33))


def _point_hex(value: str, name: str) -> str:
    parse_point(_hex(value, name, 33))
    return value.lower()


@dataclass(frozen=True, slots=True)
class DLEQ:
    """NUT-12 proof: e, s (and the blinding factor r when carried in a Proof), 32-byte hex each."""

    e: str
    s: str
    r: str | None = None

    def to_json(self) -> dict[str, str]:
        out = {"e": self.e, "s": self.s}
        if self.r is not None:
            out["r"] = self.r
        return out

    @classmethod
    def from_json(cls, d: Any) -> Self:
        r = _optional(d, "r", str)
        return cls(
            e=_hex(_field(d, "e", str), "dleq.e", 32),
            s=_hex(_field(d, "s", str), "dleq.s", 32),
            r=None if r is None else _hex(r, "dleq.r", 32),
        )


@dataclass(frozen=True, slots=True)
class BlindedMessage:
    """An output the wallet asks the mint to sign."""

    amount: int
    id: str
    B_: str

    def to_json(self) -> dict[str, Any]:
        return {"amount": self.amount, "id": self.id, "B_": self.B_}

    @classmethod
    def from_json(cls, d: Any, *, allow_zero: bool = False) -> Self:
        """`allow_zero=True` only for NUT-08 blank outputs, whose amount the mint overwrites."""
        return cls(
            amount=check_amount(_field(d, "amount", int), allow_zero=allow_zero),
            id=check_keyset_id(_field(d, "id", str)),
            B_=_point_hex(_field(d, "B_", str), "B_"),
        )


@dataclass(frozen=True, slots=True)
class BlindSignature:
    """The mint's answer to one BlindedMessage (`id` = the keyset that signed)."""

    amount: int
    id: str
    C_: str
    dleq: DLEQ | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"amount": self.amount, "id": self.id, "C_": self.C_}
        if self.dleq is not None:
            out["dleq"] = self.dleq.to_json()
        return out

    @classmethod
    def from_json(cls, d: Any) -> Self:
        dleq = _optional(d, "dleq", dict)
        return cls(
            amount=check_amount(_field(d, "amount", int)),
            id=check_keyset_id(_field(d, "id", str)),
            C_=_point_hex(_field(d, "C_", str), "C_"),
            dleq=None if dleq is None else DLEQ.from_json(dleq),
        )

    @classmethod
    def of(cls, sig: BlindSig, amount: int, keyset_id: str) -> Self:
        """The JSON form of `sig`, made with the key for `amount` of keyset `keyset_id`."""
        return cls(amount, keyset_id, sig.C_.hex(), DLEQ(sig.e.hex(), sig.s.hex()))

    def blind_sig(self) -> BlindSig:
        """The signature as bytes; ModelError when it carries no DLEQ proof (nutx signs none without)."""
        if self.dleq is None:
            raise ModelError("the signature carries no DLEQ proof")
        return BlindSig(bytes.fromhex(self.C_), bytes.fromhex(self.dleq.e), bytes.fromhex(self.dleq.s))


@dataclass(frozen=True, slots=True)
class Proof:
    """An unblinded token (input): bearer value `amount` of keyset `id`."""

    amount: int
    id: str
    secret: str
    C: str
    dleq: DLEQ | None = None
    witness: str | None = None

    @property
    def Y(self) -> str:
        """hex of hash_to_curve(utf8(secret)): the proof's identity in the spent set."""
        return secret_to_y(self.secret).hex()

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"amount": self.amount, "id": self.id, "secret": self.secret, "C": self.C}
        if self.dleq is not None:
            out["dleq"] = self.dleq.to_json()
        if self.witness is not None:
            out["witness"] = self.witness
        return out

    @classmethod
    def from_json(cls, d: Any) -> Self:
        secret = _field(d, "secret", str)
        if not secret:
            raise ModelError("proof secret is empty")
        dleq = _optional(d, "dleq", dict)
        return cls(
            amount=check_amount(_field(d, "amount", int)),
            id=check_keyset_id(_field(d, "id", str)),
            secret=secret,
            C=_point_hex(_field(d, "C", str), "C"),
            dleq=None if dleq is None else DLEQ.from_json(dleq),
            witness=_optional(d, "witness", str),
        )
