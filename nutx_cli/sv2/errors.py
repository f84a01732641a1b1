"""The SV2 codec's one error hierarchy: anything a peer can send us ends in one of these."""

from __future__ import annotations

from nutx_cli.errors import NutxError


class Sv2Error(NutxError):
    """Base of every Stratum V2 failure (codec, framing, handshake, connection)."""


class FrameError(Sv2Error):
    """Malformed bytes: a bad header, a length that runs past the payload, trailing bytes, an unknown
    core message, an oversized frame, or a value that does not fit its wire type when encoding."""


class AuthenticationError(Sv2Error):
    """A ChaCha20-Poly1305 tag did not verify: the bytes were tampered with or the keys differ."""


class HandshakeError(Sv2Error):
    """The Noise NX handshake failed (bad EllSwift encoding, wrong size, timeout, AEAD failure)."""


class CertificateError(HandshakeError):
    """The pool's certificate is not signed by the pinned authority key or is outside its validity window."""


class ConnectionClosed(Sv2Error):
    """The peer closed the connection (or we did) before the next message arrived."""


class LimitExceeded(ConnectionClosed):
    """We closed the connection: the peer went past a listener limit (a timeout or the message rate)."""


class ConnectError(Sv2Error):
    """The TCP connection to the peer could not be opened."""
