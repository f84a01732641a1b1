"""The pool's certificate (SIGNATURE_NOISE_MESSAGE, spec §3.5) and the authority key's text forms (§3.6).

The pool's long-lived *authority* key signs (BIP340) a short-lived certificate over the Noise static
key of the server; a miner pins the authority key and checks the certificate during the handshake.
"""

from __future__ import annotations

import hashlib
import re
import struct
from dataclasses import dataclass

from coincurve import PrivateKey, PublicKeyXOnly
from embit import base58

from nutx_cli.sv2.errors import CertificateError, Sv2Error

CERTIFICATE_SIZE = 74
CERTIFICATE_VERSION = 0
TIME_LEEWAY = 10
"""Seconds of clock skew allowed on both ends of the validity window (SRI's TIME_LEEWAY, §6.5.7)."""

_CERT = struct.Struct("<HII64s")
_SIGNED = struct.Struct("<HII32s")
_PUBKEY_TEXT_PREFIX = b"\x01\x00"  # version 1 as a little-endian U16


class KeyFormatError(Sv2Error, ValueError):
    """A key (text or bytes) that is not in any accepted form."""


@dataclass(frozen=True, slots=True)
class Certificate:
    version: int
    valid_from: int
    not_valid_after: int
    signature: bytes

    def encode(self) -> bytes:
        return _CERT.pack(self.version, self.valid_from, self.not_valid_after, self.signature)

    @classmethod
    def decode(cls, data: bytes) -> Certificate:
        if len(data) != CERTIFICATE_SIZE:
            raise CertificateError(f"a certificate has {CERTIFICATE_SIZE} bytes, got {len(data)}")
        return cls(*_CERT.unpack(data))


def xonly_of(pubkey: bytes) -> bytes:
    """The 32-byte x-only form of a 32-byte x-only or 33-byte compressed public key."""
    if len(pubkey) == 32:
        return pubkey
    if len(pubkey) == 33 and pubkey[0] in (2, 3):
        return pubkey[1:]
    raise KeyFormatError(
        f"expected a 32-byte x-only or 33-byte compressed public key, got {len(pubkey)} bytes"
    )


def pubkey_of_secret(secret: bytes) -> bytes:
    """The x-only public key (32 bytes) of a secp256k1 secret key."""
    try:
        return PublicKeyXOnly.from_secret(secret).format()
    except ValueError as exc:
        raise KeyFormatError(f"not a valid secp256k1 secret key: {exc}") from None


def signed_message(version: int, valid_from: int, not_valid_after: int, server_xonly: bytes) -> bytes:
    """m = SHA256(version_LE2 ‖ valid_from_LE4 ‖ not_valid_after_LE4 ‖ server_static_xonly32)."""
    return hashlib.sha256(_SIGNED.pack(version, valid_from, not_valid_after, server_xonly)).digest()


def make_certificate(
    authority_secret: bytes,
    server_static_pubkey: bytes,
    valid_from: int,
    not_valid_after: int,
    aux_rand: bytes | None = None,
) -> Certificate:
    """Sign a certificate for the server's static key (x-only or compressed) with the authority key.

    `aux_rand` is BIP340's auxiliary randomness (32 bytes); None draws fresh randomness.
    """
    if not 0 <= valid_from <= not_valid_after <= 0xFFFFFFFF:
        raise CertificateError("a certificate needs 0 <= valid_from <= not_valid_after < 2^32")
    m = signed_message(CERTIFICATE_VERSION, valid_from, not_valid_after, xonly_of(server_static_pubkey))
    signature = PrivateKey(authority_secret).sign_schnorr(m, aux_rand if aux_rand is not None else b"")
    return Certificate(CERTIFICATE_VERSION, valid_from, not_valid_after, signature)


def verify_certificate(
    cert: Certificate,
    server_static_xonly: bytes,
    authority_pubkey: bytes,
    now: int,
    leeway: int = TIME_LEEWAY,
) -> None:
    """Raise CertificateError unless `cert` is a valid, current certificate for this server key."""
    if cert.version != CERTIFICATE_VERSION:
        raise CertificateError(f"certificate version {cert.version} is not supported (only 0)")
    m = signed_message(cert.version, cert.valid_from, cert.not_valid_after, server_static_xonly)
    try:
        ok = PublicKeyXOnly(xonly_of(authority_pubkey)).verify(cert.signature, m)
    except ValueError:
        ok = False
    if not ok:
        raise CertificateError(
            "the pool's certificate is not signed by the configured authority key: check --authority-key"
        )
    if now + leeway < cert.valid_from:
        raise CertificateError(f"the pool's certificate is valid only from {cert.valid_from} (now {now})")
    if now - leeway > cert.not_valid_after:
        raise CertificateError(f"the pool's certificate expired at {cert.not_valid_after} (now {now})")


def authority_key_to_text(pubkey: bytes) -> str:
    """The canonical text form: base58check(01 00 ‖ xonly32), about 51 characters."""
    return base58.encode_check(_PUBKEY_TEXT_PREFIX + xonly_of(pubkey))


_URL_KEY = re.compile(r"^stratum2\+tcp://[^/]+/(?P<key>[1-9A-HJ-NP-Za-km-z]+)/?$")


def authority_key_from_text(text: str) -> bytes:
    """The x-only authority key (32 bytes) from its text form.

    Accepted: base58check with the 01 00 prefix (canonical), the same inside a
    `stratum2+tcp://host:port/<key>` URL, and 64 (x-only) or 66 (compressed) hex digits.
    """
    text = text.strip()
    match = _URL_KEY.match(text)
    if match:
        text = match.group("key")
    if re.fullmatch(r"[0-9a-fA-F]{64}|0[23][0-9a-fA-F]{64}", text):
        key = xonly_of(bytes.fromhex(text))
    else:
        try:
            payload = base58.decode_check(text) if len(text) <= 120 else b""
        except ValueError:
            raise KeyFormatError(
                f"{text!r} is not a base58check authority key (bad characters or checksum)"
            ) from None
        if len(payload) != 34 or payload[:2] != _PUBKEY_TEXT_PREFIX:
            raise KeyFormatError(
                f"{text!r} is not an authority public key (expected version 1 and 32 key bytes)"
            )
        key = payload[2:]
    try:
        PublicKeyXOnly(key)
    except ValueError:
        raise KeyFormatError(f"{text!r} is not a point on secp256k1") from None
    return key


def secret_key_to_text(secret: bytes) -> str:
    """SRI's config form of the authority secret key: base58check of the raw 32 bytes, no prefix."""
    if len(secret) != 32:
        raise KeyFormatError("a secret key has 32 bytes")
    return base58.encode_check(secret)


def secret_key_from_text(text: str) -> bytes:
    """The 32-byte secret from SRI's base58check form, or from 64 hex digits."""
    text = text.strip()
    if re.fullmatch(r"[0-9a-fA-F]{64}", text):
        secret = bytes.fromhex(text)
    else:
        try:
            secret = base58.decode_check(text) if len(text) <= 120 else b""
        except ValueError:
            raise KeyFormatError(
                "the authority secret key is neither 64 hex digits nor base58check"
            ) from None
    if len(secret) != 32:
        raise KeyFormatError("the authority secret key must decode to 32 bytes")
    pubkey_of_secret(secret)  # refuse zero / out-of-range secrets
    return secret
