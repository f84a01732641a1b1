"""Cashu token strings (NUT-00): `cashuA` (V3, JSON) and `cashuB` (V4, CBOR), plus the raw binary form.

A token is how ecash moves between people: a mint URL, a unit and a list of proofs. Decoding
accepts an optional `cashu:` URI prefix and base64url with or without `=` padding; encoding
writes unpadded base64url. V4 tokens carry the 8-byte short keyset id: a decoded V4 token keeps
that short id in `Proof.id` until `resolve_short_ids` maps it to a full id the wallet knows.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

import cbor2

from nutx_cli.core.keysets import short_keyset_id
from nutx_cli.core.models import ModelError, Proof
from nutx_cli.errors import NutxError

__all__ = [
    "RAW_V4_PREFIX",
    "Token",
    "TokenError",
    "decode_token",
    "decode_token_raw",
    "encode_token_v3",
    "encode_token_v4",
    "encode_token_v4_raw",
    "resolve_short_ids",
]

RAW_V4_PREFIX = b"crawB"
_URI_PREFIX = "cashu:"


class TokenError(NutxError, ValueError):
    """A token string is malformed (prefix, encoding, structure, or one of its proofs)."""


@dataclass(frozen=True)
class Token:
    """Proofs of one mint and unit, as sent from one wallet to another."""

    mint: str
    unit: str
    proofs: list[Proof] = field(default_factory=list)
    memo: str | None = None

    @property
    def amount(self) -> int:
        return sum(p.amount for p in self.proofs)


def _check_encodable(token: Token) -> str:
    if not token.proofs:
        raise TokenError("a token needs at least one proof")
    if not token.mint:
        raise TokenError("a token needs a mint URL")
    return token.mint.rstrip("/")


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _b64decode(text: str) -> bytes:
    text = text.rstrip("=")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise TokenError("token payload is not base64url") from None


def encode_token_v3(token: Token) -> str:
    """`cashuA` + base64url(compact JSON {token: [{mint, proofs}], unit, memo})."""
    obj: dict[str, Any] = {
        "token": [{"mint": _check_encodable(token), "proofs": [p.to_json() for p in token.proofs]}],
        "unit": token.unit,
    }
    if token.memo is not None:
        obj["memo"] = token.memo
    return "cashuA" + _b64encode(json.dumps(obj, separators=(",", ":")).encode("utf-8"))


def _v4_proof(proof: Proof) -> dict[str, Any]:
    out: dict[str, Any] = {"a": proof.amount, "s": proof.secret, "c": bytes.fromhex(proof.C)}
    if proof.dleq is not None:
        dleq = {"e": bytes.fromhex(proof.dleq.e), "s": bytes.fromhex(proof.dleq.s)}
        if proof.dleq.r is not None:
            dleq["r"] = bytes.fromhex(proof.dleq.r)
        out["d"] = dleq
    if proof.witness is not None:
        out["w"] = proof.witness
    return out


def _v4_cbor(token: Token) -> bytes:
    mint = _check_encodable(token)
    groups: dict[str, list[dict[str, Any]]] = {}
    for proof in token.proofs:
        groups.setdefault(short_keyset_id(proof.id), []).append(_v4_proof(proof))
    obj: dict[str, Any] = {"t": [{"i": bytes.fromhex(i), "p": ps} for i, ps in groups.items()]}
    if token.memo is not None:
        obj["d"] = token.memo
    obj["m"] = mint
    obj["u"] = token.unit
    return bytes(cbor2.dumps(obj))


def encode_token_v4(token: Token) -> str:
    """`cashuB` + base64url(CBOR), proofs grouped by short keyset id, key order as the vectors."""
    return "cashuB" + _b64encode(_v4_cbor(token))


def encode_token_v4_raw(token: Token) -> bytes:
    """Binary (NFC) form: b"craw" b"B" + the V4 CBOR."""
    return RAW_V4_PREFIX + _v4_cbor(token)


def _proof(d: Any) -> Proof:
    try:
        return Proof.from_json(d)
    except (ModelError, ValueError) as exc:  # CryptoError is a ValueError
        raise TokenError(f"bad proof in token: {exc}") from None


def _text(obj: dict[str, Any], key: str, what: str, *, required: bool) -> str | None:
    value = obj.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise TokenError(f"token {what} must be a string")
    return value


def _decode_v3(payload: bytes) -> Token:
    try:
        obj = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise TokenError("cashuA payload is not JSON") from None
    if not isinstance(obj, dict) or not isinstance(obj.get("token"), list) or not obj["token"]:
        raise TokenError("cashuA token has no 'token' list")
    mints = set()
    proofs: list[Proof] = []
    for entry in obj["token"]:
        if not isinstance(entry, dict) or not isinstance(entry.get("proofs"), list):
            raise TokenError("cashuA token entry needs 'mint' and 'proofs'")
        mints.add(_text(entry, "mint", "mint", required=True))
        proofs.extend(_proof(p) for p in entry["proofs"])
    if len(mints) != 1:
        raise TokenError(f"cashuA token spans {len(mints)} mints; only single-mint tokens are supported")
    return _token(
        mints.pop() or "",
        _text(obj, "unit", "unit", required=False) or "sat",
        proofs,
        _text(obj, "memo", "memo", required=False),
    )


def _hex_bytes(value: Any, what: str) -> str:
    if not isinstance(value, bytes):
        raise TokenError(f"cashuB {what} must be a CBOR byte string")
    return value.hex()


def _decode_v4_cbor(payload: bytes) -> Token:
    try:
        obj = cbor2.loads(payload)
    except (cbor2.CBORDecodeError, ValueError, TypeError, RecursionError) as exc:
        raise TokenError(f"cashuB payload is not CBOR: {exc}") from None
    if not isinstance(obj, dict) or not isinstance(obj.get("t"), list):
        raise TokenError("cashuB token has no 't' list")
    proofs: list[Proof] = []
    for group in obj["t"]:
        if not isinstance(group, dict) or not isinstance(group.get("p"), list):
            raise TokenError("cashuB token group needs 'i' and 'p'")
        keyset_id = _hex_bytes(group.get("i"), "keyset id")
        for p in group["p"]:
            if not isinstance(p, dict):
                raise TokenError("cashuB proof must be a map")
            d = p.get("d")
            if d is not None and not isinstance(d, dict):
                raise TokenError("cashuB proof DLEQ must be a map")
            proofs.append(
                _proof(
                    {
                        "amount": p.get("a"),
                        "id": keyset_id,
                        "secret": p.get("s"),
                        "C": _hex_bytes(p.get("c"), "C"),
                        "witness": p.get("w"),
                        "dleq": None
                        if d is None
                        else {k: _hex_bytes(d.get(k), f"dleq.{k}") for k in ("e", "s", "r") if k in d},
                    }
                )
            )
    return _token(
        _text(obj, "m", "mint", required=True) or "",
        _text(obj, "u", "unit", required=True) or "",
        proofs,
        _text(obj, "d", "memo", required=False),
    )


def _token(mint: str, unit: str, proofs: list[Proof], memo: str | None) -> Token:
    if not proofs:
        raise TokenError("token has no proofs")
    if not mint or not unit:
        raise TokenError("token needs a mint URL and a unit")
    return Token(mint=mint.rstrip("/"), unit=unit, proofs=proofs, memo=memo)


def decode_token(text: str) -> Token:
    """Decode a `cashuA…` or `cashuB…` string (optionally `cashu:`-prefixed, padded or not)."""
    text = text.strip()
    text = text.removeprefix(_URI_PREFIX)
    if text.startswith("cashuA"):
        return _decode_v3(_b64decode(text[6:]))
    if text.startswith("cashuB"):
        return _decode_v4_cbor(_b64decode(text[6:]))
    raise TokenError("not a Cashu token: it must start with cashuA or cashuB")


def decode_token_raw(data: bytes) -> Token:
    """Decode the binary (NFC) form b"crawB" + CBOR."""
    if not data.startswith(RAW_V4_PREFIX):
        raise TokenError("not a raw Cashu token: it must start with b'crawB'")
    return _decode_v4_cbor(data[len(RAW_V4_PREFIX) :])


def resolve_short_ids(token: Token, known_ids: Iterable[str]) -> Token:
    """Replace short (8-byte) keyset ids by the one full id among `known_ids` they abbreviate.

    Full ids (version 00 ids are their own short form) stay as they are. A short id that matches
    no known id, or more than one, is a TokenError (NUT-00: receivers MUST fail on ambiguity).
    """
    by_short: dict[str, set[str]] = {}
    for full in known_ids:
        by_short.setdefault(short_keyset_id(full.lower()), set()).add(full.lower())
    resolved: list[Proof] = []
    for proof in token.proofs:
        if len(proof.id) != 16 or proof.id.startswith("00"):  # already a full id
            resolved.append(proof)
            continue
        candidates = by_short.get(proof.id, set())
        if len(candidates) != 1:
            what = "unknown" if not candidates else "ambiguous"
            raise TokenError(f"keyset id {proof.id} in token is {what}; fetch the mint's keysets first")
        resolved.append(replace(proof, id=next(iter(candidates))))
    return replace(token, proofs=resolved)
