"""Cashu blind Diffie-Hellman key exchange (NUT-00) with DLEQ proofs (NUT-12) on secp256k1.

All group arithmetic is delegated to coincurve (libsecp256k1); this module only wires the
formulas together. At the API points are 33-byte compressed SEC1 bytes and scalars are 32-byte
big-endian bytes. Malformed encodings raise `CryptoError`; well-formed but wrong proofs make the
`verify_*` functions return False.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from coincurve import PublicKey

from nutx_cli.errors import NutxError

__all__ = [
    "CURVE_ORDER",
    "BlindSig",
    "CryptoError",
    "SigningKey",
    "blind",
    "dleq_nonce",
    "hash_e",
    "hash_to_curve",
    "parse_point",
    "parse_scalar",
    "public_key",
    "secret_to_y",
    "sign",
    "sign_with_nonce",
    "unblind",
    "verify",
    "verify_blind_dleq",
    "verify_proof_dleq",
]

CURVE_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
DOMAIN_SEPARATOR = b"Secp256k1_HashToCurve_Cashu_"
DLEQ_NONCE_TAG = b"Cashu_DLEQ_R_v1"
_HASH_TO_CURVE_MAX_TRIES = 2**16


class CryptoError(NutxError, ValueError):
    """A point or scalar is malformed: wrong length, not on the curve, or out of range."""


@dataclass(frozen=True, slots=True)
class BlindSig:
    """A mint's blind signature C_ = k·B_ with its NUT-12 DLEQ proof (e, s), all as bytes."""

    C_: bytes
    e: bytes
    s: bytes


def parse_point(data: bytes | str) -> PublicKey:
    """A 33-byte compressed point (bytes or hex); anything else (incl. uncompressed) is a CryptoError."""
    if isinstance(data, str):
        try:
            data = bytes.fromhex(data)
        except ValueError:
            raise CryptoError(f"point is not hex: {data[:80]!r}") from None
    if len(data) != 33 or data[0] not in (2, 3):
        raise CryptoError(f"point must be 33 bytes compressed (02/03 prefix), got {len(data)} bytes")
    try:
        return PublicKey(data)
    except ValueError:
        raise CryptoError(f"point is not on secp256k1: {data.hex()}") from None


def parse_scalar(data: bytes | str) -> int:
    """A 32-byte big-endian scalar (bytes or hex) in [1, n-1] as an int."""
    if isinstance(data, str):
        try:
            data = bytes.fromhex(data)
        except ValueError:
            raise CryptoError(f"scalar is not hex: {data[:80]!r}") from None
    if len(data) != 32:
        raise CryptoError(f"scalar must be 32 bytes, got {len(data)}")
    value = int.from_bytes(data, "big")
    if not 0 < value < CURVE_ORDER:
        raise CryptoError("scalar must be in [1, n-1]")
    return value


def _scalar_bytes(value: int) -> bytes:
    return value.to_bytes(32, "big")


def hash_to_curve(message: bytes) -> bytes:
    """NUT-00 hash_to_curve: the first `02 || SHA256(SHA256(DST || m) || ctr_le32)` on the curve."""
    msg_hash = hashlib.sha256(DOMAIN_SEPARATOR + message).digest()
    for counter in range(_HASH_TO_CURVE_MAX_TRIES):
        candidate = b"\x02" + hashlib.sha256(msg_hash + counter.to_bytes(4, "little")).digest()
        try:
            PublicKey(candidate)
        except ValueError:
            continue
        return candidate
    raise CryptoError("hash_to_curve found no point")  # pragma: no cover - probability 2^-65536


def secret_to_y(secret: str) -> bytes:
    """A proof's identity Y = hash_to_curve(utf8(secret)) (what the spent set stores)."""
    return hash_to_curve(secret.encode("utf-8"))


def public_key(k: bytes) -> bytes:
    """K = k·G, compressed."""
    return PublicKey.from_secret(_scalar_bytes(parse_scalar(k))).format()


def blind(secret: str, r: bytes) -> bytes:
    """Wallet: B_ = Y + r·G for Y = secret_to_y(secret)."""
    r_point = PublicKey.from_secret(_scalar_bytes(parse_scalar(r)))
    try:
        return PublicKey.combine_keys([PublicKey(secret_to_y(secret)), r_point]).format()
    except ValueError:
        raise CryptoError("blinding factor cancels Y (B_ would be infinity)") from None


def unblind(C_: bytes, r: bytes, K: bytes) -> bytes:
    """Wallet: C = C_ − r·K (= k·Y)."""
    neg_r = CURVE_ORDER - parse_scalar(r)
    minus_rk = parse_point(K).multiply(_scalar_bytes(neg_r))
    try:
        return PublicKey.combine_keys([parse_point(C_), minus_rk]).format()
    except ValueError:
        raise CryptoError("unblinded signature is the point at infinity") from None


def _hash_e_uncompressed(*points: bytes) -> bytes:
    return hashlib.sha256(b"".join(points).hex().encode("ascii")).digest()


def hash_e(*points: PublicKey) -> bytes:
    """NUT-12 hash_e: SHA256 of the concatenated lowercase hex of the uncompressed points."""
    return _hash_e_uncompressed(*(p.format(compressed=False) for p in points))


def _nonce_uncompressed(k: bytes, A: bytes, B_: bytes, C_: bytes) -> int:
    data = DLEQ_NONCE_TAG + A + B_ + C_
    for ctr in range(256):
        p = int.from_bytes(hmac.digest(k, data + bytes((ctr,)), "sha256"), "big")
        if 0 < p < CURVE_ORDER:
            return p
    raise CryptoError("no DLEQ nonce found")  # pragma: no cover - probability 2^-32768


def dleq_nonce(k: bytes, A: PublicKey, B_: PublicKey, C_: PublicKey) -> int:
    """NUT-12 deterministic DLEQ nonce: HMAC-SHA256(k, tag‖A‖B_‖C_‖ctr), rejection-sampled into [1, n-1]."""
    return _nonce_uncompressed(
        k, A.format(compressed=False), B_.format(compressed=False), C_.format(compressed=False)
    )


@dataclass(frozen=True, slots=True)
class SigningKey:
    """A mint key parsed once (k checked, A = k·G serialised) for signing many blinded messages."""

    a: int
    k: bytes
    A_u: bytes

    @classmethod
    def of(cls, k: bytes, K: bytes | None = None) -> SigningKey:
        """The key `k`; pass its public key `K` (= k·G) to skip one base-point multiplication (trusted)."""
        a = parse_scalar(k)
        k_bytes = _scalar_bytes(a)
        A = PublicKey(K) if K is not None else PublicKey.from_valid_secret(k_bytes)
        return cls(a, k_bytes, A.format(compressed=False))

    def sign(self, B_: bytes, nonce: int | None = None) -> BlindSig:
        """C_ = k·B_ with its DLEQ proof; the nonce is the deterministic one (see `sign`) unless given."""
        B = parse_point(B_)
        C = B.multiply(self.k)
        C_u = C.format(compressed=False)
        p = _nonce_uncompressed(self.k, self.A_u, B.format(compressed=False), C_u) if nonce is None else nonce
        p_bytes = _scalar_bytes(p)
        R1_u = PublicKey.from_valid_secret(p_bytes).format(compressed=False)
        R2_u = B.multiply(p_bytes).format(compressed=False)
        e_bytes = _hash_e_uncompressed(R1_u, R2_u, self.A_u, C_u)
        s = (p + int.from_bytes(e_bytes, "big") * self.a) % CURVE_ORDER
        return BlindSig(C_=C.format(), e=e_bytes, s=_scalar_bytes(s))


def sign(k: bytes, B_: bytes, K: bytes | None = None) -> BlindSig:
    """Mint: C_ = k·B_ with a DLEQ proof whose nonce is deterministic in (k, B_).

    A retried request therefore gets the identical answer. Pass the public key `K` (= k·G) when
    the caller has it to skip one base-point multiplication; it is trusted, not checked. To sign
    many messages with one key, make its `SigningKey` once.
    """
    return SigningKey.of(k, K).sign(B_)


def sign_with_nonce(k: bytes, B_: bytes, nonce: bytes) -> BlindSig:
    """Like `sign` but with a caller-chosen DLEQ nonce (reference vectors only; never reuse a nonce)."""
    return SigningKey.of(k).sign(B_, parse_scalar(nonce))


def verify(k: bytes, secret: str, C: bytes) -> bool:
    """Mint: a proof (secret, C) is valid iff C == k·hash_to_curve(utf8(secret))."""
    expected = PublicKey(secret_to_y(secret)).multiply(_scalar_bytes(parse_scalar(k))).format()
    return hmac.compare_digest(expected, parse_point(C).format())


def _dleq_holds(A: PublicKey, B: PublicKey, C: PublicKey, e: bytes, s: bytes) -> bool:
    if len(e) != 32 or len(s) != 32:
        raise CryptoError(f"DLEQ e and s must be 32 bytes, got {len(e)} and {len(s)}")
    e_int = int.from_bytes(e, "big")
    s_int = int.from_bytes(s, "big")
    if not (0 < e_int < CURVE_ORDER and 0 < s_int < CURVE_ORDER):
        return False
    neg_e = _scalar_bytes(CURVE_ORDER - e_int)
    s_bytes = _scalar_bytes(s_int)
    try:
        R1 = PublicKey.combine_keys([PublicKey.from_valid_secret(s_bytes), A.multiply(neg_e)])
        R2 = PublicKey.combine_keys([B.multiply(s_bytes), C.multiply(neg_e)])
    except ValueError:  # a point at infinity: cannot be an honest proof
        return False
    return hmac.compare_digest(hash_e(R1, R2, A, C), e)


def verify_blind_dleq(K: bytes, B_: bytes, C_: bytes, e: bytes, s: bytes) -> bool:
    """Wallet: check a BlindSignature's DLEQ, i.e. C_ was made with the key published as K."""
    return _dleq_holds(parse_point(K), parse_point(B_), parse_point(C_), e, s)


def verify_proof_dleq(K: bytes, secret: str, C: bytes, r: bytes, e: bytes, s: bytes) -> bool:
    """Receiver: check a Proof's DLEQ by re-blinding: B_ = Y + r·G, C_ = C + r·K."""
    A = parse_point(K)
    r_bytes = _scalar_bytes(parse_scalar(r))
    try:
        B = PublicKey.combine_keys([PublicKey(secret_to_y(secret)), PublicKey.from_valid_secret(r_bytes)])
        C_ = PublicKey.combine_keys([parse_point(C), A.multiply(r_bytes)])
    except ValueError:
        return False
    return _dleq_holds(A, B, C_, e, s)
