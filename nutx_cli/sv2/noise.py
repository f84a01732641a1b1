"""Noise_NX_Secp256k1+EllSwift_ChaChaPoly_SHA256 (spec §3), sans-IO, and the transport CipherState.

Initiator (miner):  `act1 = i.act1()` → send 64 bytes → read 234 bytes → `keys = i.act2(msg2, now)`.
Responder (pool):   read 64 bytes → `msg2, keys = r.act2(act1)` → send 234 bytes.
Then each side encrypts with `keys.send` and decrypts with `keys.recv` (see `session.Sv2Session`).
EllSwift, ECDH (BIP324 xdh) and BIP340 come from libsecp256k1 through coincurve; AEAD, HKDF from
`cryptography`.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass

from coincurve import PrivateKey
from coincurve._libsecp256k1 import ffi, lib
from coincurve.context import GLOBAL_CONTEXT
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from nutx_cli.sv2.certificate import CERTIFICATE_SIZE, Certificate, verify_certificate
from nutx_cli.sv2.errors import AuthenticationError, HandshakeError, Sv2Error

PROTOCOL_NAME = b"Noise_NX_Secp256k1+EllSwift_ChaChaPoly_SHA256"
ELLSWIFT_SIZE = 64
MAC_SIZE = 16
ACT1_SIZE = ELLSWIFT_SIZE
ACT2_SIZE = ELLSWIFT_SIZE + (ELLSWIFT_SIZE + MAC_SIZE) + (CERTIFICATE_SIZE + MAC_SIZE)  # 234
_CK0 = hashlib.sha256(PROTOCOL_NAME).digest()  # the name is longer than 32 bytes, so it is hashed
_H0 = hashlib.sha256(_CK0).digest()
_MAX_NONCE = (1 << 64) - 1  # reserved; close the connection before reaching it
_nonce = struct.Struct("<4xQ").pack  # 00000000 ‖ LE64(n), the Noise convention


class CipherState:
    """One direction of ChaCha20-Poly1305 with a 64-bit counter nonce; the AEAD object is reused."""

    __slots__ = ("_aead", "nonce")

    def __init__(self, key: bytes) -> None:
        self._aead = ChaCha20Poly1305(key)
        self.nonce = 0

    def encrypt(self, plaintext: bytes, ad: bytes | None = None) -> bytes:
        n = self.nonce
        if n >= _MAX_NONCE:
            raise Sv2Error("the Noise nonce is exhausted; reconnect")
        ct = self._aead.encrypt(_nonce(n), plaintext, ad)
        self.nonce = n + 1
        return ct

    def decrypt(self, ciphertext: bytes, ad: bytes | None = None) -> bytes:
        n = self.nonce
        if n >= _MAX_NONCE:
            raise Sv2Error("the Noise nonce is exhausted; reconnect")
        try:
            pt = self._aead.decrypt(_nonce(n), ciphertext, ad)
        except InvalidTag:
            raise AuthenticationError(f"ciphertext failed authentication at nonce {n}") from None
        self.nonce = n + 1  # not advanced on failure (§2.3)
        return pt


@dataclass(frozen=True, slots=True)
class TransportKeys:
    """The outcome of a handshake: one CipherState per direction, plus what was authenticated."""

    send: CipherState
    recv: CipherState
    handshake_hash: bytes
    server_static_xonly: bytes
    certificate: Certificate


def _hkdf2(ck: bytes, ikm: bytes) -> tuple[bytes, bytes]:
    out = HKDF(algorithm=hashes.SHA256(), length=64, salt=ck, info=b"").derive(ikm)
    return out[:32], out[32:]


class _SymmetricState:
    __slots__ = ("_cipher", "ck", "h")

    def __init__(self) -> None:
        self.ck = _CK0
        self.h = _H0
        self._cipher: CipherState | None = None

    def mix_hash(self, data: bytes) -> None:
        self.h = hashlib.sha256(self.h + data).digest()

    def mix_key(self, ikm: bytes) -> None:
        self.ck, k = _hkdf2(self.ck, ikm)
        self._cipher = CipherState(k)

    def encrypt_and_hash(self, plaintext: bytes) -> bytes:
        assert self._cipher is not None  # NX only encrypts after a MixKey
        ct = self._cipher.encrypt(plaintext, self.h)
        self.mix_hash(ct)
        return ct

    def decrypt_and_hash(self, ciphertext: bytes) -> bytes:
        assert self._cipher is not None
        try:
            pt = self._cipher.decrypt(ciphertext, self.h)
        except AuthenticationError:
            raise HandshakeError("the handshake message failed authentication") from None
        self.mix_hash(ciphertext)
        return pt

    def split(self) -> tuple[CipherState, CipherState]:
        k1, k2 = _hkdf2(self.ck, b"")
        return CipherState(k1), CipherState(k2)


# --- libsecp256k1 ellswift ---------------------------------------------------------------------------


def new_secret() -> bytes:
    """A fresh random secp256k1 secret key."""
    return PrivateKey().secret


def ellswift_encode(secret: bytes) -> bytes:
    """A fresh (randomised) 64-byte ElligatorSwift encoding of secret·G."""
    out = ffi.new("unsigned char[64]")
    if not lib.secp256k1_ellswift_create(GLOBAL_CONTEXT.ctx, out, secret, new_secret()):
        raise HandshakeError("invalid secret key for ElligatorSwift")
    return bytes(ffi.buffer(out, 64))


def ellswift_xonly(ell: bytes) -> bytes:
    """The x-only public key (32 bytes) an ElligatorSwift encoding stands for (every encoding decodes)."""
    if len(ell) != ELLSWIFT_SIZE:
        raise HandshakeError(f"an ElligatorSwift encoding has 64 bytes, got {len(ell)}")
    pubkey = ffi.new("secp256k1_pubkey *")
    if not lib.secp256k1_ellswift_decode(GLOBAL_CONTEXT.ctx, pubkey, ell):
        raise HandshakeError("bad ElligatorSwift encoding")
    out = ffi.new("unsigned char[33]")
    size = ffi.new("size_t *", 33)
    lib.secp256k1_ec_pubkey_serialize(GLOBAL_CONTEXT.ctx, out, size, pubkey, lib.SECP256K1_EC_COMPRESSED)
    return bytes(ffi.buffer(out, 33))[1:]


def ellswift_ecdh(secret: bytes, ell_initiator: bytes, ell_responder: bytes, initiator: bool) -> bytes:
    """BIP324 v2_ecdh: SHA256(tag ‖ tag ‖ ell_initiator ‖ ell_responder ‖ x), initiator's encoding first."""
    out = ffi.new("unsigned char[32]")
    ok = lib.secp256k1_ellswift_xdh(
        GLOBAL_CONTEXT.ctx,
        out,
        ell_initiator,
        ell_responder,
        secret,
        0 if initiator else 1,
        lib.secp256k1_ellswift_xdh_hash_function_bip324,
        ffi.NULL,
    )
    if not ok:
        raise HandshakeError("ElligatorSwift ECDH failed")
    return bytes(ffi.buffer(out, 32))


# --- the two roles -----------------------------------------------------------------------------------


class NoiseInitiator:
    """The miner's side. `authority_pubkey` (x-only, 32 bytes) is pinned: its certificate must verify.

    `ephemeral_secret`/`ephemeral_ellswift` exist only to reproduce the spec's transcript vector.
    """

    def __init__(
        self,
        authority_pubkey: bytes,
        *,
        ephemeral_secret: bytes | None = None,
        ephemeral_ellswift: bytes | None = None,
    ) -> None:
        self._authority = authority_pubkey
        self._e = ephemeral_secret or new_secret()
        self._ell_e = ephemeral_ellswift or ellswift_encode(self._e)
        self._sym = _SymmetricState()
        self._state = "start"

    @property
    def handshake_hash(self) -> bytes:
        return self._sym.h

    def act1(self) -> bytes:
        """`-> e`: the 64 bytes to send first."""
        if self._state != "start":
            raise HandshakeError("act1 was already written")
        self._sym.mix_hash(self._ell_e)
        self._sym.mix_hash(b"")  # EncryptAndHash of the empty payload with no key
        self._state = "sent_e"
        return self._ell_e

    def act2(self, message: bytes, now: int) -> TransportKeys:
        """`<- e, ee, s, es, SIGNATURE_NOISE_MESSAGE`: verify the server and derive transport keys."""
        if self._state != "sent_e":
            raise HandshakeError("act2 before act1")
        self._state = "done"
        if len(message) != ACT2_SIZE:
            raise HandshakeError(f"handshake message 2 has {ACT2_SIZE} bytes, got {len(message)}")
        sym = self._sym
        re2 = message[:64]
        sym.mix_hash(re2)
        sym.mix_key(ellswift_ecdh(self._e, self._ell_e, re2, initiator=True))
        rs = sym.decrypt_and_hash(message[64:144])
        sym.mix_key(ellswift_ecdh(self._e, self._ell_e, rs, initiator=True))
        cert = Certificate.decode(sym.decrypt_and_hash(message[144:234]))
        server_xonly = ellswift_xonly(rs)
        verify_certificate(cert, server_xonly, self._authority, now)
        send, recv = sym.split()
        return TransportKeys(send, recv, sym.h, server_xonly, cert)


class NoiseResponder:
    """The pool's side: a static key and a certificate for it signed by the authority key."""

    def __init__(
        self,
        static_secret: bytes,
        certificate: Certificate,
        *,
        static_ellswift: bytes | None = None,
        ephemeral_secret: bytes | None = None,
        ephemeral_ellswift: bytes | None = None,
    ) -> None:
        self._s = static_secret
        self._ell_s = static_ellswift or ellswift_encode(static_secret)
        self._cert = certificate
        self._e = ephemeral_secret or new_secret()
        self._ell_e = ephemeral_ellswift or ellswift_encode(self._e)
        self._sym = _SymmetricState()
        self._done = False

    @property
    def handshake_hash(self) -> bytes:
        return self._sym.h

    def act2(self, act1: bytes) -> tuple[bytes, TransportKeys]:
        """Read the initiator's 64 bytes; return the 234 bytes to send and the transport keys."""
        if self._done:
            raise HandshakeError("this responder already completed a handshake")
        self._done = True
        if len(act1) != ACT1_SIZE:
            raise HandshakeError(f"handshake message 1 has {ACT1_SIZE} bytes, got {len(act1)}")
        sym = self._sym
        sym.mix_hash(act1)
        sym.mix_hash(b"")
        out = [self._ell_e]
        sym.mix_hash(self._ell_e)
        sym.mix_key(ellswift_ecdh(self._e, act1, self._ell_e, initiator=False))
        out.append(sym.encrypt_and_hash(self._ell_s))
        sym.mix_key(ellswift_ecdh(self._s, act1, self._ell_s, initiator=False))
        out.append(sym.encrypt_and_hash(self._cert.encode()))
        k1, k2 = sym.split()
        server_xonly = ellswift_xonly(self._ell_s)
        return b"".join(out), TransportKeys(k2, k1, sym.h, server_xonly, self._cert)
