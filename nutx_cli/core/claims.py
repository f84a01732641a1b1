"""Claimed ehash (DESIGN.md §4): miners without the ecash extension name a Cashu key and claim their work.

A miner that speaks plain Stratum V1 or standard SV2 mines under the user name `<pubkey>.<worker>`,
where `pubkey` is a 33-byte compressed secp256k1 key (hex). The pool adds each accepted share's
amount to the claim of (pubkey, epoch), counted in W_e like a signed share. The owner of the key later
mints that much ehash of the epoch with its own blinded messages, in one request signed with the key:

    m   = "nutx_MiningClaimSig_v1" ‖ lp(pubkey) ‖ lp(int(epoch)) ‖ for each output, in request order:
          lp(int(amount)) ‖ lp(keyset_id) ‖ lp(B_)
    sig = BIP340 Schnorr signature of SHA256(m) by the key (verified against its x-only form)

where lp(x) is x prefixed by its length as 4 big-endian bytes, int(n) the minimal big-endian bytes of n,
and pubkey, keyset_id (the full id) and B_ are raw bytes. The keyset id binds the request to one mint's
epoch and the B_ to these outputs, so a copied request pays nobody else.

The claims of a key as the mint lists them (`GET /v1/mining/claims/{pubkey}` → `{"pubkey": hex, "claims":
[CLAIM, …]}`, newest epoch first) are `{"epoch": int, "keyset_id": "01…", "status": EPOCH status, "amount":
int (ehash), "paid": bool}`; `Claim` is that object for both the mint and the wallet.

Pure: identity parsing, the wallet's claim key, the signed message, the claim JSON and the rules a claim is
paid by.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from coincurve import PrivateKey, PublicKeyXOnly

from nutx_cli.core.bdhke import CURVE_ORDER, CryptoError, parse_point
from nutx_cli.core.epoch_status import DEAD, EpochStatus
from nutx_cli.core.models import BlindedMessage
from nutx_cli.errors import NutxError

CLAIM_SIG_TAG = b"nutx_MiningClaimSig_v1"
CLAIM_KEY_TAG = b"nutx_MiningClaimKey_v1"
PUBKEY_HEX_LEN = 66

HOW_TO_GET_A_KEY = (
    "mine as <pubkey>.<worker> with the Cashu public key `nutx wallet pubkey` prints (33 bytes, hex)"
)


class IdentityError(NutxError, ValueError):
    """A user name that is not `<pubkey>.<worker>`; the message says how to get a key."""


class ClaimJsonError(NutxError, ValueError):
    """A claim object that is not the JSON the module docstring describes; the message names the field."""


class ClaimError(NutxError):
    """A claim that cannot be paid; `name` is the error name of DESIGN.md §5."""

    def __init__(self, name: str, detail: str) -> None:
        super().__init__(detail)
        self.name = name


@dataclass(frozen=True, slots=True)
class MinerIdentity:
    """Who a claim channel's work belongs to: a compressed pubkey (lowercase hex) and a worker name."""

    pubkey: str
    worker: str

    @property
    def user(self) -> str:
        return f"{self.pubkey}.{self.worker}" if self.worker else self.pubkey


def parse_pubkey(text: str) -> str:
    """A 33-byte compressed secp256k1 point as lowercase hex, or IdentityError."""
    if len(text) != PUBKEY_HEX_LEN:
        raise IdentityError(f"{text[:80]!r} is not a Cashu public key: {HOW_TO_GET_A_KEY}")
    try:
        parse_point(text)
    except CryptoError:
        raise IdentityError(f"{text!r} is not a Cashu public key: {HOW_TO_GET_A_KEY}") from None
    return text.lower()


def parse_identity(user: str) -> MinerIdentity:
    """`<pubkey>` or `<pubkey>.<worker>` (the worker is free text after the first dot)."""
    pubkey, _, worker = user.strip().partition(".")
    try:
        return MinerIdentity(parse_pubkey(pubkey), worker)
    except IdentityError:
        raise IdentityError(f"user {user[:80]!r} is not a Cashu public key: {HOW_TO_GET_A_KEY}") from None


def claim_secret(seed: bytes) -> bytes:
    """A wallet's claim key (32-byte scalar) from its BIP39 seed: HMAC-SHA256(seed, CLAIM_KEY_TAG) mod n."""
    k = int.from_bytes(hmac.digest(seed, CLAIM_KEY_TAG, "sha256"), "big") % CURVE_ORDER
    if k == 0:
        raise CryptoError("the claim key of this seed is zero")  # pragma: no cover
    return k.to_bytes(32, "big")


def claim_pubkey(secret: bytes) -> str:
    """The compressed public key (hex) of a claim key."""
    return PrivateKey(secret).public_key.format().hex()


MAX_OUTPUT_AMOUNT = 1 << 63
"""The largest amount of an ehash keyset."""


def claim_amounts(amount: int) -> list[int]:
    """The output amounts that mint `amount` ehash: its powers of two, the part above 2^64 in 2^63 pieces."""
    whole, rest = divmod(amount, MAX_OUTPUT_AMOUNT * 2)
    return [1 << i for i in range(64) if rest >> i & 1] + [MAX_OUTPUT_AMOUNT] * (2 * whole)


def _lp(data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + data


def _int(n: int) -> bytes:
    return n.to_bytes(max(1, (n.bit_length() + 7) // 8), "big")


def claim_message(pubkey: str, epoch: int, outputs: Sequence[BlindedMessage]) -> bytes:
    """SHA256 of the message a claim request signs (module docstring)."""
    m = CLAIM_SIG_TAG + _lp(bytes.fromhex(pubkey)) + _lp(_int(epoch))
    for o in outputs:
        m += _lp(_int(o.amount)) + _lp(bytes.fromhex(o.id)) + _lp(bytes.fromhex(o.B_))
    return hashlib.sha256(m).digest()


def sign_claim(secret: bytes, epoch: int, outputs: Sequence[BlindedMessage]) -> str:
    """The hex BIP340 signature of a claim request by the claim key `secret`."""
    message = claim_message(claim_pubkey(secret), epoch, outputs)
    return PrivateKey(secret).sign_schnorr(message, os.urandom(32)).hex()


def claim_signature_valid(pubkey: str, epoch: int, outputs: Sequence[BlindedMessage], signature: str) -> bool:
    try:
        key = PublicKeyXOnly(bytes.fromhex(pubkey)[1:])
        return bool(key.verify(bytes.fromhex(signature), claim_message(pubkey, epoch, outputs)))
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class Claim:
    """One key's claim in one epoch (the CLAIM JSON of the module docstring)."""

    epoch: int
    keyset_id: str
    status: EpochStatus
    amount: int
    paid: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "epoch": self.epoch,
            "keyset_id": self.keyset_id,
            "status": str(self.status),
            "amount": self.amount,
            "paid": self.paid,
        }

    @classmethod
    def from_json(cls, d: Any) -> Claim:
        if not isinstance(d, dict):
            raise ClaimJsonError(f"a claim must be a JSON object, got {d!r}")
        for key, kind in (
            ("epoch", int),
            ("keyset_id", str),
            ("status", str),
            ("amount", int),
            ("paid", bool),
        ):
            value = d.get(key)
            if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
                raise ClaimJsonError(f"claim {key} must be {kind.__name__}, got {value!r}")
        if d["amount"] < 0:
            raise ClaimJsonError(f"claim amount must not be negative, got {d['amount']}")
        try:
            status = EpochStatus(d["status"])
        except ValueError:
            raise ClaimJsonError(f"claim status must be an epoch status, got {d['status']!r}") from None
        return cls(d["epoch"], d["keyset_id"], status, d["amount"], d["paid"])


def claimable(status: EpochStatus) -> bool:
    """A claim is paid once its epoch's work is final and it may still pay: won or mature."""
    return status in (EpochStatus.WON, EpochStatus.MATURE)


def check_claim(status: EpochStatus, claimed: int, paid: bool, outputs: Iterable[int]) -> int:
    """The ehash a claim request mints (= Σ outputs), or ClaimError naming why it is refused."""
    if status in DEAD:
        name = "epoch-lost" if status == EpochStatus.LOST else "epoch-orphaned"
        raise ClaimError(name, f"the epoch is {status}: its claims are worth nothing")
    if not claimable(status):
        raise ClaimError("claim-not-final", "the epoch is still open: claim once its block decides it")
    if claimed == 0:
        raise ClaimError("unknown-claim", "this key has no claim in the epoch")
    if paid:
        raise ClaimError("claim-already-paid", "this claim was paid already")
    total = sum(outputs)
    if total != claimed:
        raise ClaimError("transaction-unbalanced", f"outputs add up to {total}, the claim is {claimed} ehash")
    return total
