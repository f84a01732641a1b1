"""The plain SV2 frame (spec §2.1) and the message lookup shared by plain and encrypted transport.

A frame is `extension_type U16 | msg_type U8 | msg_length U24 | payload`. Bit 0x8000 of
extension_type is the channel_msg flag (SRI's mask; the spec's prose is confusing, §9.3).
"""

from __future__ import annotations

import logging
import struct

# importing these modules registers their messages in MESSAGE_TYPES
from nutx_cli.sv2 import ecash as _ecash  # noqa: F401
from nutx_cli.sv2 import extensions as _extensions  # noqa: F401
from nutx_cli.sv2.errors import FrameError
from nutx_cli.sv2.messages import CORE_EXTENSION, MESSAGE_TYPES, Message
from nutx_cli.sv2.types import decode_record, encode_record

log = logging.getLogger(__name__)

HEADER_SIZE = 6
CHANNEL_MSG_BIT = 0x8000
EXTENSION_MASK = 0x7FFF
MAX_PAYLOAD = 0xFFFFFF
DEFAULT_MAX_MESSAGE_SIZE = 1 << 20
"""DESIGN §5: SV2 messages are capped at 1 MiB."""

_HEADER = struct.Struct("<HBHB")  # extension_type, msg_type, msg_length (low 16 bits, high 8 bits)
KNOWN_EXTENSIONS = frozenset(ext for ext, _ in MESSAGE_TYPES)


def pack_header(message: Message, length: int) -> bytes:
    """The 6-byte header of `message` with a payload of `length` bytes."""
    if length > MAX_PAYLOAD:
        raise FrameError(f"a {length}-byte payload does not fit the U24 msg_length")
    ext = message.extension_type | CHANNEL_MSG_BIT if message.channel_msg else message.extension_type
    return _HEADER.pack(ext, message.msg_type, length & 0xFFFF, length >> 16)


def unpack_header(header: bytes) -> tuple[int, int, int]:
    """(extension_type with the channel bit, msg_type, msg_length) of a 6-byte header."""
    if len(header) != HEADER_SIZE:
        raise FrameError(f"a frame header has {HEADER_SIZE} bytes, got {len(header)}")
    ext, msg_type, lo, hi = _HEADER.unpack(header)
    return ext, msg_type, lo | hi << 16


def encode_frame(message: Message) -> bytes:
    """The plain (unencrypted) frame of a message."""
    payload = encode_record(message)
    return pack_header(message, len(payload)) + payload


def decode_payload(extension_type: int, msg_type: int, payload: bytes) -> Message | None:
    """Decode a frame's payload; None for a frame of an extension we do not know (§6.2: ignore it).

    A known extension with an unknown msg_type is malformed (FrameError): we would otherwise
    silently drop a message the peer expects us to act on.
    """
    ext = extension_type & EXTENSION_MASK
    cls = MESSAGE_TYPES.get((ext, msg_type))
    if cls is None:
        if ext != CORE_EXTENSION and ext not in KNOWN_EXTENSIONS:
            log.debug("ignoring frame of unknown extension %#06x type %#04x", ext, msg_type)
            return None
        raise FrameError(f"unknown message type {msg_type:#04x} of extension {ext:#06x}")
    return decode_record(cls, payload)


def decode_frame(frame: bytes) -> Message | None:
    """Decode one whole plain frame (header and payload, nothing more)."""
    ext, msg_type, length = unpack_header(frame[:HEADER_SIZE])
    if len(frame) != HEADER_SIZE + length:
        raise FrameError(f"frame announces {length} payload bytes but carries {len(frame) - HEADER_SIZE}")
    return decode_payload(ext, msg_type, frame[HEADER_SIZE:])
