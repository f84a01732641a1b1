"""The few Bitcoin scripts nutx builds: data pushes, BIP34 heights, and standard output templates."""

from __future__ import annotations

import hashlib

OP_0 = 0x00
OP_PUSHDATA1 = 0x4C
OP_PUSHDATA2 = 0x4D
OP_1 = 0x51
OP_RETURN = 0x6A
OP_DUP = 0x76
OP_EQUAL = 0x87
OP_EQUALVERIFY = 0x88
OP_HASH160 = 0xA9
OP_CHECKSIG = 0xAC


def hash160(data: bytes) -> bytes:
    return hashlib.new("ripemd160", hashlib.sha256(data).digest()).digest()


def push_data(data: bytes) -> bytes:
    """A minimal push of raw bytes (as CScript() << data does)."""
    n = len(data)
    if n < OP_PUSHDATA1:
        return bytes([n]) + data
    if n <= 0xFF:
        return bytes([OP_PUSHDATA1, n]) + data
    if n <= 0xFFFF:
        return bytes([OP_PUSHDATA2]) + n.to_bytes(2, "little") + data
    raise ValueError("pushes over 65535 bytes are not used by nutx")


def script_num(n: int) -> bytes:
    """CScriptNum serialization: minimal little-endian magnitude with a sign bit."""
    if n == 0:
        return b""
    magnitude = abs(n)
    out = bytearray()
    while magnitude:
        out.append(magnitude & 0xFF)
        magnitude >>= 8
    if out[-1] & 0x80:
        out.append(0x80 if n < 0 else 0x00)
    elif n < 0:
        out[-1] |= 0x80
    return bytes(out)


def push_int(n: int) -> bytes:
    """`CScript() << n`: OP_0, OP_1..OP_16 (and OP_1NEGATE) as opcodes, else a minimal number push."""
    if n == 0:
        return bytes([OP_0])
    if n == -1 or 1 <= n <= 16:
        return bytes([OP_1 + n - 1])
    return push_data(script_num(n))


def bip34_height(height: int) -> bytes:
    """The coinbase scriptSig prefix BIP34 requires: exactly `CScript() << height`."""
    if height < 0:
        raise ValueError("a block height is never negative")
    return push_int(height)


def p2pkh(pubkey_hash: bytes) -> bytes:
    return bytes([OP_DUP, OP_HASH160, 20]) + pubkey_hash + bytes([OP_EQUALVERIFY, OP_CHECKSIG])


def p2sh(script_hash: bytes) -> bytes:
    return bytes([OP_HASH160, 20]) + script_hash + bytes([OP_EQUAL])


def witness_program(version: int, program: bytes) -> bytes:
    """`OP_n <program>`: P2WPKH (v0, 20 bytes), P2WSH (v0, 32), P2TR (v1, 32)."""
    if not 0 <= version <= 16 or not 2 <= len(program) <= 40:
        raise ValueError(f"bad witness program: version {version}, {len(program)} bytes")
    return bytes([OP_0 if version == 0 else OP_1 + version - 1, len(program)]) + program


def p2wpkh(pubkey_hash: bytes) -> bytes:
    return witness_program(0, pubkey_hash)


def op_return(data: bytes) -> bytes:
    return bytes([OP_RETURN]) + push_data(data)
