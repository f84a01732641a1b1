"""A whole SV2 connection after the handshake, sans-IO: messages in → bytes out, bytes in → messages out.

Encrypted transport (spec §2.3): the 6-byte header is one AEAD block (22 bytes on the wire), the
payload follows in chunks of at most 65519 plaintext bytes, each its own AEAD block. With no cipher
states the session speaks plain frames (§2.1, trusted LAN only).

`feed()` buffers partial input, so a truncated frame simply waits for more bytes. Frames of an
unknown extension are skipped (§6.2) and counted in `skipped_frames`. The first malformed or
tampered frame breaks the session for good: `feed()` returns the messages decoded before it, and
raises the error on that call if there were none, or on the next call.
"""

from __future__ import annotations

from collections.abc import Sequence

from nutx_cli.sv2.errors import FrameError, Sv2Error
from nutx_cli.sv2.framing import (
    DEFAULT_MAX_MESSAGE_SIZE,
    HEADER_SIZE,
    decode_payload,
    pack_header,
    unpack_header,
)
from nutx_cli.sv2.messages import Message
from nutx_cli.sv2.noise import MAC_SIZE, CipherState, TransportKeys
from nutx_cli.sv2.types import encode_record

MAX_CHUNK_CT = 65535
MAX_CHUNK_PT = MAX_CHUNK_CT - MAC_SIZE  # 65519
ENCRYPTED_HEADER_SIZE = HEADER_SIZE + MAC_SIZE  # 22


def ciphertext_length(plaintext_length: int) -> int:
    """Bytes on the wire for an encrypted payload: ct_len(0) == 0, ct_len(100000) == 100032."""
    full, rem = divmod(plaintext_length, MAX_CHUNK_PT)
    return full * MAX_CHUNK_CT + (rem + MAC_SIZE if rem else 0)


class Sv2Session:
    """Both directions of one connection. Use `Sv2Session.encrypted(keys)` or `Sv2Session.plain()`."""

    __slots__ = ("_buf", "_error", "_pending", "_recv", "_send", "max_message_size", "skipped_frames")

    def __init__(
        self,
        send: CipherState | None,
        recv: CipherState | None,
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
    ) -> None:
        self._send = send
        self._recv = recv
        self.max_message_size = max_message_size
        self._buf = bytearray()
        self._pending: tuple[int, int, int, int] | None = None  # ext, msg_type, pt_len, wire_len
        self._error: Sv2Error | None = None
        self.skipped_frames = 0

    @classmethod
    def encrypted(cls, keys: TransportKeys, max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE) -> Sv2Session:
        return cls(keys.send, keys.recv, max_message_size)

    @classmethod
    def plain(cls, max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE) -> Sv2Session:
        return cls(None, None, max_message_size)

    # --- sending ------------------------------------------------------------------------------------

    def encode(self, message: Message) -> bytes:
        """The wire bytes of one message (encrypted if the session is)."""
        payload = encode_record(message)
        n = len(payload)
        header = pack_header(message, n)
        send = self._send
        if send is None:
            return header + payload
        enc = send.encrypt
        if n == 0:
            return enc(header)
        if n <= MAX_CHUNK_PT:
            return enc(header) + enc(payload)
        parts = [enc(header)]
        parts.extend(enc(payload[i : i + MAX_CHUNK_PT]) for i in range(0, n, MAX_CHUNK_PT))
        return b"".join(parts)

    def encode_many(self, messages: Sequence[Message]) -> bytes:
        """The wire bytes of several messages, in order (one write for a batch of answers)."""
        return b"".join([self.encode(m) for m in messages])

    # --- receiving ----------------------------------------------------------------------------------

    def feed(self, data: bytes) -> list[Message]:
        """Add received bytes; return every message completed by them (possibly none)."""
        if self._error is not None:
            raise self._error
        buf = self._buf
        buf += data
        out: list[Message] = []
        pos = 0
        try:
            while True:
                pending = self._pending
                if pending is None:
                    pending = self._read_header(buf, pos)
                    if pending is None:
                        break
                    pos += ENCRYPTED_HEADER_SIZE if self._recv is not None else HEADER_SIZE
                    self._pending = pending
                ext, msg_type, n, wire_len = pending
                if len(buf) - pos < wire_len:
                    break
                payload = self._read_payload(buf, pos, n, wire_len)
                pos += wire_len
                self._pending = None
                message = decode_payload(ext, msg_type, payload)
                if message is None:
                    self.skipped_frames += 1
                else:
                    out.append(message)
        except Sv2Error as exc:
            self._error = exc
            self._buf = bytearray()
            if not out:
                raise
            return out
        del buf[:pos]
        return out

    def _read_header(self, buf: bytearray, pos: int) -> tuple[int, int, int, int] | None:
        recv = self._recv
        if recv is None:
            if len(buf) - pos < HEADER_SIZE:
                return None
            ext, msg_type, n = unpack_header(bytes(buf[pos : pos + HEADER_SIZE]))
            wire_len = n
        else:
            if len(buf) - pos < ENCRYPTED_HEADER_SIZE:
                return None
            ext, msg_type, n = unpack_header(recv.decrypt(bytes(buf[pos : pos + ENCRYPTED_HEADER_SIZE])))
            wire_len = ciphertext_length(n)
        if n > self.max_message_size:
            raise FrameError(f"a {n}-byte message exceeds the limit of {self.max_message_size} bytes")
        return ext, msg_type, n, wire_len

    def _read_payload(self, buf: bytearray, pos: int, n: int, wire_len: int) -> bytes:
        recv = self._recv
        if recv is None:
            return bytes(buf[pos : pos + n])
        if wire_len == 0:
            return b""
        if wire_len <= MAX_CHUNK_CT:
            return recv.decrypt(bytes(buf[pos : pos + wire_len]))
        dec = recv.decrypt
        end = pos + wire_len
        return b"".join(
            [dec(bytes(buf[i : min(i + MAX_CHUNK_CT, end)])) for i in range(pos, end, MAX_CHUNK_CT)]
        )
