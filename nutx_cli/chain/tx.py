"""Bitcoin transactions: parse and serialize, with and without witness (BIP144)."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from nutx_cli.chain.hashes import dsha256
from nutx_cli.errors import NutxError


class DecodeError(NutxError, ValueError):
    """Bytes that are not a well-formed transaction or block."""


def varint(n: int) -> bytes:
    """Bitcoin's CompactSize."""
    if n < 0xFD:
        return bytes([n])
    if n <= 0xFFFF:
        return b"\xfd" + struct.pack("<H", n)
    if n <= 0xFFFFFFFF:
        return b"\xfe" + struct.pack("<I", n)
    return b"\xff" + struct.pack("<Q", n)


class Reader:
    """A cursor over bytes that raises DecodeError instead of reading past the end."""

    def __init__(self, data: bytes, pos: int = 0) -> None:
        self.data = data
        self.pos = pos

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise DecodeError(f"truncated data: wanted {n} bytes at offset {self.pos} of {len(self.data)}")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def u32(self) -> int:
        return int(struct.unpack("<I", self.take(4))[0])

    def u64(self) -> int:
        return int(struct.unpack("<Q", self.take(8))[0])

    def varint(self) -> int:
        first = self.take(1)[0]
        if first < 0xFD:
            return first
        size = {0xFD: 2, 0xFE: 4, 0xFF: 8}[first]
        value = int.from_bytes(self.take(size), "little")
        if value < {2: 0xFD, 4: 0x10000, 8: 0x100000000}[size]:
            raise DecodeError("non-canonical CompactSize")
        return value

    def var_bytes(self) -> bytes:
        n = self.varint()
        if n > len(self.data) - self.pos:
            raise DecodeError(f"length {n} runs past the end of the data")
        return self.take(n)

    def at_end(self) -> bool:
        return self.pos == len(self.data)


@dataclass(frozen=True)
class TxIn:
    prev_txid: bytes  # internal byte order
    prev_vout: int
    script_sig: bytes
    sequence: int
    witness: tuple[bytes, ...] = ()


@dataclass(frozen=True)
class TxOut:
    value: int  # sats
    script_pubkey: bytes

    def serialize(self) -> bytes:
        return struct.pack("<q", self.value) + varint(len(self.script_pubkey)) + self.script_pubkey


@dataclass(frozen=True)
class Tx:
    version: int
    inputs: tuple[TxIn, ...]
    outputs: tuple[TxOut, ...]
    locktime: int
    _cache: dict[str, bytes] = field(default_factory=dict, compare=False, repr=False)

    def has_witness(self) -> bool:
        return any(i.witness for i in self.inputs)

    def serialize(self, witness: bool = True) -> bytes:
        """The transaction's bytes; with `witness=False` the stripped form the txid commits to."""
        use_witness = witness and self.has_witness()
        out = [struct.pack("<i", self.version)]
        if use_witness:
            out.append(b"\x00\x01")
        out.append(varint(len(self.inputs)))
        for i in self.inputs:
            out.append(
                i.prev_txid
                + struct.pack("<I", i.prev_vout)
                + varint(len(i.script_sig))
                + i.script_sig
                + struct.pack("<I", i.sequence)
            )
        out.append(varint(len(self.outputs)))
        out.extend(o.serialize() for o in self.outputs)
        if use_witness:
            for i in self.inputs:
                out.append(varint(len(i.witness)) + b"".join(varint(len(w)) + w for w in i.witness))
        out.append(struct.pack("<I", self.locktime))
        return b"".join(out)

    def txid(self) -> bytes:
        if "txid" not in self._cache:
            self._cache["txid"] = dsha256(self.serialize(witness=False))
        return self._cache["txid"]

    def wtxid(self) -> bytes:
        return dsha256(self.serialize(witness=True))

    def is_coinbase(self) -> bool:
        return (
            len(self.inputs) == 1
            and self.inputs[0].prev_txid == bytes(32)
            and self.inputs[0].prev_vout == 0xFFFFFFFF
        )

    def weight(self) -> int:
        return 3 * len(self.serialize(witness=False)) + len(self.serialize(witness=True))

    @classmethod
    def read(cls, r: Reader) -> Tx:
        version = int(struct.unpack("<i", r.take(4))[0])
        n_in = r.varint()
        segwit = False
        if n_in == 0:
            flag = r.take(1)[0]
            if flag != 1:
                raise DecodeError(f"unknown transaction flag {flag}")
            segwit = True
            n_in = r.varint()
        raw_inputs = []
        for _ in range(n_in):
            prev = r.take(32)
            vout = r.u32()
            script = r.var_bytes()
            raw_inputs.append((prev, vout, script, r.u32()))
        outputs = []
        for _ in range(r.varint()):
            value = int(struct.unpack("<q", r.take(8))[0])
            outputs.append(TxOut(value, r.var_bytes()))
        witnesses: list[tuple[bytes, ...]] = [() for _ in raw_inputs]
        if segwit:
            witnesses = [tuple(r.var_bytes() for _ in range(r.varint())) for _ in raw_inputs]
            if not any(witnesses):
                raise DecodeError("superfluous witness flag")
        inputs = tuple(TxIn(p, v, s, q, w) for (p, v, s, q), w in zip(raw_inputs, witnesses, strict=True))
        return cls(version, inputs, tuple(outputs), r.u32())

    @classmethod
    def parse(cls, data: bytes) -> Tx:
        r = Reader(data)
        tx = cls.read(r)
        if not r.at_end():
            raise DecodeError(f"{len(data) - r.pos} trailing bytes after the transaction")
        return tx
