"""Spending conditions (NUT-10 well-known secrets, NUT-11 P2PK, NUT-14 HTLC): may these inputs be spent?

A secret that is a JSON `[kind, {"nonce", "data", "tags"}]` is a well-known secret and its conditions
bind; any other string is a plain (anyone-can-spend) secret. Known kinds are P2PK and HTLC; any other
kind is refused, since a mint that let it through would hand locked ecash to whoever asks. A
malformed well-known secret or witness is refused too (NUT-11: "MUST be rejected as unspendable").

Rules (NUT-11, NUT-14):
- a pathway needs `n` distinct keys with a valid BIP340 signature over SHA256 of the message; keys
  are compared by x-coordinate and appear at most once per pathway;
- P2PK: the main pathway is `data` + `pubkeys` with `n_sigs` (default 1); HTLC: the preimage of
  `data` and, if the `pubkeys` tag is there, `n_sigs` of those keys;
- once `locktime` has passed, `refund` keys with `n_sigs_refund` (default 1) may spend too, or anyone
  if there is no `refund` tag;
- SIG_INPUTS (default): each input carries its own witness over its own secret; SIG_ALL: every input
  has the same kind, data and tags, and the first input's witness signs all inputs (secret, C) and
  outputs (amount, B_), then the quote id for a melt.

Pure: the caller passes the clock (`now`); signatures are checked with coincurve.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from coincurve import PublicKeyXOnly

from nutx_cli.core.bdhke import CryptoError, parse_point
from nutx_cli.core.models import BlindedMessage, Proof
from nutx_cli.errors import NutxError


class ConditionError(NutxError):
    """A well-known secret that is malformed or of an unknown kind, a malformed witness, or an unmet condition."""


class Kind(StrEnum):
    P2PK = "P2PK"
    HTLC = "HTLC"


class SigFlag(StrEnum):
    SIG_INPUTS = "SIG_INPUTS"
    SIG_ALL = "SIG_ALL"


SINGLE_VALUE_TAGS = ("sigflag", "n_sigs", "locktime", "n_sigs_refund")
KEY_TAGS = ("pubkeys", "refund")


@dataclass(frozen=True, slots=True)
class WellKnownSecret:
    """A NUT-10 secret as sent: kind, nonce, data and tags (each tag a key and its values)."""

    kind: str
    nonce: str
    data: str
    tags: tuple[tuple[str, ...], ...]


def _strings(value: Any, what: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        raise ConditionError(f"{what} must be a list of one or more non-empty strings")
    return tuple(value)


def parse_secret(secret: str) -> WellKnownSecret | None:
    """The well-known secret in `secret`, or None for a plain secret."""
    if not secret.startswith("["):
        return None
    try:
        value = json.loads(secret)
    except ValueError:
        return None
    if not (isinstance(value, list) and len(value) == 2 and isinstance(value[0], str)):
        return None
    kind, body = value
    if not isinstance(body, dict):
        raise ConditionError(f"the {kind!r} secret's second element must be an object")
    for field in ("nonce", "data"):
        if not isinstance(body.get(field), str):
            raise ConditionError(f"the {kind!r} secret needs a string {field!r}")
    tags = body.get("tags")
    if tags is not None and not isinstance(tags, list):
        raise ConditionError("'tags' must be a list of tags")
    return WellKnownSecret(
        kind, body["nonce"], body["data"], tuple(_strings(t, "each tag") for t in tags or ())
    )


def _xonly(key: str, what: str) -> bytes:
    try:
        return parse_point(key).format()[1:]
    except CryptoError as exc:
        raise ConditionError(f"{what}: {exc}") from None


def _keys(keys: Sequence[bytes], what: str) -> tuple[bytes, ...]:
    if len(set(keys)) != len(keys):
        raise ConditionError(f"a key appears twice among the {what} keys (compared by x-coordinate)")
    return tuple(keys)


def _threshold(value: str | None, keys: int, what: str) -> int:
    """The `n_sigs`/`n_sigs_refund` of a pathway of `keys` keys: default 1, 0 for a pathway with no keys."""
    if value is None:
        return min(keys, 1)
    if not (value.isascii() and value.isdecimal()):
        raise ConditionError(f"{what} must be a positive integer, got {value!r}")
    n = int(value)
    if not 1 <= n <= keys:
        raise ConditionError(f"{what} = {n} needs between 1 and the {keys} keys of its pathway")
    return n


def _unix_time(value: str | None) -> int | None:
    """A `locktime` value; None (a permanent lock) when absent or not a unix time."""
    return int(value) if value is not None and value.isascii() and value.isdecimal() else None


@dataclass(frozen=True, slots=True)
class Conditions:
    """What a P2PK or HTLC secret asks of a spender, checked for well-formedness."""

    kind: Kind
    data: str
    sigflag: SigFlag
    keys: tuple[bytes, ...]
    """The main pathway's x-only keys: data + pubkeys (P2PK) or pubkeys (HTLC)."""
    n_sigs: int
    locktime: int | None
    """None: a permanent lock (no tag, or not a unix time)."""
    refund: tuple[bytes, ...]
    n_sigs_refund: int

    @classmethod
    def of(cls, secret: WellKnownSecret) -> Conditions:
        try:
            kind = Kind(secret.kind)
        except ValueError:
            raise ConditionError(
                f"unknown spending condition kind {secret.kind!r} (this mint knows P2PK and HTLC)"
            ) from None
        tags: dict[str, tuple[str, ...]] = {}
        for key, *values in secret.tags:
            if key in tags and key in SINGLE_VALUE_TAGS + KEY_TAGS:
                raise ConditionError(f"tag {key!r} appears more than once")
            tags[key] = tuple(values)
        single: dict[str, str | None] = {}
        for key in SINGLE_VALUE_TAGS:
            given = tags.get(key)
            if given is not None and len(given) != 1:
                raise ConditionError(f"tag {key!r} takes exactly one value")
            single[key] = None if given is None else given[0]
        try:
            sigflag = SigFlag(single["sigflag"] or SigFlag.SIG_INPUTS)
        except ValueError:
            raise ConditionError(f"unknown sigflag {single['sigflag']!r}") from None
        pubkeys = [_xonly(k, "a 'pubkeys' key") for k in tags.get("pubkeys", ())]
        if kind == Kind.P2PK:
            keys = _keys([_xonly(secret.data, "P2PK data"), *pubkeys], "data + pubkeys")
        else:
            try:
                hash_lock = bytes.fromhex(secret.data)
            except ValueError:
                hash_lock = b""
            if len(hash_lock) != 32:
                raise ConditionError("HTLC data must be a SHA-256 hash (64 hex characters)")
            keys = _keys(pubkeys, "pubkeys")
        refund = _keys([_xonly(k, "a 'refund' key") for k in tags.get("refund", ())], "refund")
        return cls(
            kind=kind,
            data=secret.data.lower() if kind == Kind.HTLC else secret.data,
            sigflag=sigflag,
            keys=keys,
            n_sigs=_threshold(single["n_sigs"], len(keys), "n_sigs"),
            locktime=_unix_time(single["locktime"]),
            refund=refund,
            n_sigs_refund=_threshold(single["n_sigs_refund"], len(refund), "n_sigs_refund"),
        )


@dataclass(frozen=True, slots=True)
class Witness:
    """A P2PK/HTLC witness: BIP340 signatures (64 bytes each) and, for HTLC, the 32-byte preimage."""

    signatures: tuple[bytes, ...] = ()
    preimage: bytes | None = None

    @classmethod
    def parse(cls, text: str | None) -> Witness:
        if text is None:
            return cls()
        try:
            value = json.loads(text)
        except ValueError:
            raise ConditionError("the witness is not JSON") from None
        if not isinstance(value, dict):
            raise ConditionError("the witness must be a JSON object")
        sigs = value.get("signatures", [])
        if not isinstance(sigs, list) or not all(isinstance(s, str) for s in sigs):
            raise ConditionError("witness 'signatures' must be a list of hex strings")
        preimage = value.get("preimage")
        if preimage is not None and not isinstance(preimage, str):
            raise ConditionError("witness 'preimage' must be a hex string")
        try:
            signatures = tuple(bytes.fromhex(s) for s in sigs)
            raw_preimage = None if preimage is None else bytes.fromhex(preimage)
        except ValueError:
            raise ConditionError("the witness holds something that is not hex") from None
        if any(len(s) != 64 for s in signatures):
            raise ConditionError("a witness signature is not 64 bytes")
        if raw_preimage is not None and len(raw_preimage) != 32:
            raise ConditionError("the HTLC preimage must be 32 bytes (64 hex characters)")
        return cls(signatures, raw_preimage)


def signers(keys: Sequence[bytes], signatures: Sequence[bytes], digest: bytes) -> int:
    """How many distinct keys among `keys` made one of `signatures` over `digest`."""
    left = list(signatures)
    count = 0
    for key in keys:
        verifier = PublicKeyXOnly(key)
        for sig in left:
            if verifier.verify(sig, digest):
                left.remove(sig)
                count += 1
                break
    return count


def check_spendable(conditions: Conditions, witness: Witness, message: str, now: int) -> None:
    """Raise ConditionError unless `witness` opens a pathway of `conditions` for `message` at time `now`."""
    digest = hashlib.sha256(message.encode()).digest()
    if conditions.kind == Kind.HTLC:
        preimage_ok = (
            witness.preimage is not None and hashlib.sha256(witness.preimage).hexdigest() == conditions.data
        )
        main_ok = preimage_ok and (
            not conditions.keys or signers(conditions.keys, witness.signatures, digest) >= conditions.n_sigs
        )
    else:
        main_ok = signers(conditions.keys, witness.signatures, digest) >= conditions.n_sigs
    if main_ok:
        return
    if conditions.locktime is not None and now > conditions.locktime:
        if not conditions.refund:
            return  # an expired lock without refund keys is anyone-can-spend
        if signers(conditions.refund, witness.signatures, digest) >= conditions.n_sigs_refund:
            return
    raise ConditionError(f"the {conditions.kind} spending conditions are not met")


def sig_all_message(
    inputs: Sequence[Proof], outputs: Sequence[BlindedMessage], quote: str | None = None
) -> str:
    """NUT-11 SIG_ALL: secret_0 ‖ C_0 ‖ … ‖ amount_0 ‖ B__0 ‖ … (‖ quote id for a melt)."""
    parts = [p.secret + p.C for p in inputs] + [str(o.amount) + o.B_ for o in outputs]
    return "".join(parts) + (quote or "")


def check_inputs(
    inputs: Sequence[Proof], outputs: Sequence[BlindedMessage], now: int, quote: str | None = None
) -> None:
    """Raise ConditionError (naming the input) unless every input's spending conditions are met."""
    secrets: list[WellKnownSecret | None] = []
    conditions: list[Conditions | None] = []
    for i, p in enumerate(inputs):
        try:
            secret = parse_secret(p.secret)
            secrets.append(secret)
            conditions.append(None if secret is None else Conditions.of(secret))
        except ConditionError as exc:
            raise ConditionError(f"input {i}: {exc}") from None
    if any(c is not None and c.sigflag == SigFlag.SIG_ALL for c in conditions):
        first = secrets[0]
        for i, s in enumerate(secrets):
            if s is None or first is None or (s.kind, s.data, s.tags) != (first.kind, first.data, first.tags):
                raise ConditionError(
                    f"input {i}: SIG_ALL needs every input with the same kind, data and tags"
                )
        head = conditions[0]
        assert head is not None
        try:
            check_spendable(
                head, Witness.parse(inputs[0].witness), sig_all_message(inputs, outputs, quote), now
            )
        except ConditionError as exc:
            raise ConditionError(f"input 0 (SIG_ALL): {exc}") from None
        return
    for i, (p, c) in enumerate(zip(inputs, conditions, strict=True)):
        if c is None:
            continue
        try:
            check_spendable(c, Witness.parse(p.witness), p.secret, now)
        except ConditionError as exc:
            raise ConditionError(f"input {i}: {exc}") from None
