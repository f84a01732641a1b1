"""SV2 data types (spec §1) and the record compiler every message and auxiliary structure uses.

A record is a slotted dataclass whose fields are annotated with a wire type, e.g.
`channel_id: U32` or `merkle_path: Annotated[list[bytes], Seq255(Hash256)]`. `@record` compiles the
field list once into a plan: runs of fixed-size fields become one precompiled `struct.Struct`, the rest
are per-field steps. Encoding and decoding then walk the plan with no per-field type dispatch, which
keeps the hot path (thousands of share answers per second) cheap.

Python-native values: integers as `int` (U256 targets too, little-endian), F32 as `float`, STR0_255 as
`str` (UTF-8 with surrogateescape, so any byte string round-trips unchanged), byte fields as `bytes`,
hashes (`Hash256`) as the raw 32 bytes, OPTION as `None | value`, sequences as `list`.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, fields
from operator import attrgetter
from typing import Annotated, Any, TypeVar, dataclass_transform, get_args, get_origin, get_type_hints

from nutx_cli.sv2.errors import FrameError

T = TypeVar("T")

EncodeFn = Callable[[Any, bytearray], None]
DecodeFn = Callable[[bytes, int], tuple[Any, int]]


class WireType:
    """How one value travels: `fmt` is its struct code if it is fixed-size and needs no conversion."""

    fmt: str | None = None
    size: int | None = None  # for fixed-size bytes fields: the exact length the encoder must check

    def encode(self, value: Any, out: bytearray) -> None:
        raise NotImplementedError

    def decode(self, buf: bytes, off: int) -> tuple[Any, int]:
        raise NotImplementedError


class _StructType(WireType):
    def __init__(self, fmt: str, size: int | None = None) -> None:
        self.fmt = fmt
        self.size = size
        self._st = struct.Struct("<" + fmt)

    def encode(self, value: Any, out: bytearray) -> None:
        if self.size is not None and len(value) != self.size:
            raise FrameError(f"expected exactly {self.size} bytes, got {len(value)}")
        out += self._st.pack(value)

    def decode(self, buf: bytes, off: int) -> tuple[Any, int]:
        (value,) = self._st.unpack_from(buf, off)
        return value, off + self._st.size


class _U24(WireType):
    def encode(self, value: int, out: bytearray) -> None:
        out += value.to_bytes(3, "little")

    def decode(self, buf: bytes, off: int) -> tuple[int, int]:
        _need(buf, off, 3)
        return int.from_bytes(buf[off : off + 3], "little"), off + 3


class _U256Int(WireType):
    def encode(self, value: int, out: bytearray) -> None:
        out += value.to_bytes(32, "little")

    def decode(self, buf: bytes, off: int) -> tuple[int, int]:
        _need(buf, off, 32)
        return int.from_bytes(buf[off : off + 32], "little"), off + 32


class _Bool(WireType):
    def encode(self, value: bool, out: bytearray) -> None:
        out.append(1 if value else 0)

    def decode(self, buf: bytes, off: int) -> tuple[bool, int]:
        _need(buf, off, 1)
        return bool(buf[off] & 1), off + 1  # readers look at bit 0 only (spec §1)


class _PrefixedBytes(WireType):
    """B0_32, B0_255, B0_64K, B0_16M: a little-endian length prefix of `width` bytes, then the bytes."""

    def __init__(self, width: int, max_len: int) -> None:
        self.width = width
        self.max_len = max_len

    def encode(self, value: bytes, out: bytearray) -> None:
        n = len(value)
        if n > self.max_len:
            raise FrameError(f"{n} bytes exceed this field's maximum of {self.max_len}")
        out += n.to_bytes(self.width, "little")
        out += value

    def decode(self, buf: bytes, off: int) -> tuple[bytes, int]:
        w = self.width
        _need(buf, off, w)
        n = buf[off] if w == 1 else int.from_bytes(buf[off : off + w], "little")
        if n > self.max_len:
            raise FrameError(f"length prefix {n} exceeds this field's maximum of {self.max_len}")
        start = off + w
        end = start + n
        if end > len(buf):
            raise FrameError(f"length prefix {n} runs past the end of the payload")
        return bytes(buf[start:end]), end


class _Str0_255(WireType):
    _inner = _PrefixedBytes(1, 255)

    def encode(self, value: str, out: bytearray) -> None:
        self._inner.encode(value.encode("utf-8", "surrogateescape"), out)

    def decode(self, buf: bytes, off: int) -> tuple[str, int]:
        raw, off = self._inner.decode(buf, off)
        return raw.decode("utf-8", "surrogateescape"), off


class Seq(WireType):
    """SEQ0_255[T] (width 1) or SEQ0_64K[T] (width 2): an element count, then the elements."""

    def __init__(self, width: int, item: Any) -> None:
        self.width = width
        self.max_count = (1 << (8 * width)) - 1
        self.item = wire_of(item)
        self._item_st = struct.Struct("<" + self.item.fmt) if self.item.fmt and not self.item.size else None

    def encode(self, value: list[Any], out: bytearray) -> None:
        n = len(value)
        if n > self.max_count:
            raise FrameError(f"{n} elements exceed this sequence's maximum of {self.max_count}")
        out += n.to_bytes(self.width, "little")
        if self._item_st is not None:
            out += struct.pack(f"<{n}{self.item.fmt}", *value)
            return
        enc = self.item.encode
        for item in value:
            enc(item, out)

    def decode(self, buf: bytes, off: int) -> tuple[list[Any], int]:
        w = self.width
        _need(buf, off, w)
        n = buf[off] if w == 1 else int.from_bytes(buf[off : off + w], "little")
        off += w
        if self._item_st is not None:
            st = struct.Struct(f"<{n}{self.item.fmt}")
            _need(buf, off, st.size)
            return list(st.unpack_from(buf, off)), off + st.size
        dec = self.item.decode
        items = []
        for _ in range(n):
            item, off = dec(buf, off)
            items.append(item)
        return items, off


def Seq255(item: Any) -> Seq:
    return Seq(1, item)


def Seq64K(item: Any) -> Seq:
    return Seq(2, item)


class Option(WireType):
    """OPTION[T] = SEQ0_1[T]: `00` is None, `01 ‖ T` is a value; any other count is malformed."""

    def __init__(self, item: Any) -> None:
        self.item = wire_of(item)

    def encode(self, value: Any, out: bytearray) -> None:
        if value is None:
            out.append(0)
        else:
            out.append(1)
            self.item.encode(value, out)

    def decode(self, buf: bytes, off: int) -> tuple[Any, int]:
        _need(buf, off, 1)
        count = buf[off]
        if count == 0:
            return None, off + 1
        if count != 1:
            raise FrameError(f"OPTION count {count} is neither 0 nor 1")
        return self.item.decode(buf, off + 1)


class Tuple(WireType):
    """A fixed sequence of values without a prefix, decoded to a plain tuple (e.g. an ecash key)."""

    def __init__(self, *items: Any) -> None:
        self.items = [wire_of(i) for i in items]
        if all(i.fmt for i in self.items):
            self._st: struct.Struct | None = struct.Struct("<" + "".join(i.fmt or "" for i in self.items))
        else:
            self._st = None

    def encode(self, value: tuple[Any, ...], out: bytearray) -> None:
        if len(value) != len(self.items):
            raise FrameError(f"expected a {len(self.items)}-tuple, got {len(value)} values")
        for item, v in zip(self.items, value, strict=True):
            if item.size is not None and len(v) != item.size:
                raise FrameError(f"expected exactly {item.size} bytes, got {len(v)}")
        if self._st is not None:
            out += self._st.pack(*value)
            return
        for item, v in zip(self.items, value, strict=True):
            item.encode(v, out)

    def decode(self, buf: bytes, off: int) -> tuple[tuple[Any, ...], int]:
        if self._st is not None:
            return self._st.unpack_from(buf, off), off + self._st.size
        values = []
        for item in self.items:
            v, off = item.decode(buf, off)
            values.append(v)
        return tuple(values), off


class _RecordType(WireType):
    def __init__(self, cls: Any) -> None:
        self.cls = cls
        self._encode: EncodeFn = cls.__sv2_encode__
        self.decode = cls.__sv2_decode__  # type: ignore[method-assign]

    def encode(self, value: Any, out: bytearray) -> None:
        if type(value) is not self.cls:
            raise FrameError(f"expected a {self.cls.__name__}, got {type(value).__name__}")
        self._encode(value, out)


def _need(buf: bytes, off: int, n: int) -> None:
    if off + n > len(buf):
        raise FrameError(f"payload ends {off + n - len(buf)} byte(s) early")


# The spec's types as annotations. Each alias carries its wire codec in its Annotated metadata.
U8 = Annotated[int, _StructType("B")]
U16 = Annotated[int, _StructType("H")]
U24 = Annotated[int, _U24()]
U32 = Annotated[int, _StructType("I")]
U64 = Annotated[int, _StructType("Q")]
F32 = Annotated[float, _StructType("f")]
BOOL = Annotated[bool, _Bool()]
U256 = Annotated[int, _U256Int()]
"""A 256-bit number (targets), little-endian on the wire."""
Hash256 = Annotated[bytes, _StructType("32s", 32)]
"""A U256 that is a hash (prev_hash, merkle root, merkle path item): the raw 32 bytes."""
STR0_255 = Annotated[str, _Str0_255()]
B0_32 = Annotated[bytes, _PrefixedBytes(1, 32)]
B0_255 = Annotated[bytes, _PrefixedBytes(1, 255)]
B0_64K = Annotated[bytes, _PrefixedBytes(2, 0xFFFF)]
B0_16M = Annotated[bytes, _PrefixedBytes(3, 0xFFFFFF)]
PUBKEY = Annotated[bytes, _StructType("32s", 32)]
SIGNATURE = Annotated[bytes, _StructType("64s", 64)]
POINT33 = Annotated[bytes, _StructType("33s", 33)]
"""SEC1 compressed secp256k1 point (ecash extension, §6.4)."""
SCALAR32 = Annotated[bytes, _StructType("32s", 32)]
"""A scalar as big-endian raw bytes (Cashu's hex decoded), not a U256."""


def wire_of(annotation: Any) -> WireType:
    """The codec of an alias above, of `Annotated[..., codec]`, or of a `@record` class."""
    if isinstance(annotation, WireType):
        return annotation
    if get_origin(annotation) is Annotated:
        for meta in get_args(annotation)[1:]:
            if isinstance(meta, WireType):
                return meta
    if isinstance(annotation, type) and hasattr(annotation, "__sv2_decode__"):
        return _RecordType(annotation)
    raise TypeError(f"{annotation!r} has no SV2 wire type")


def _compile(cls: type) -> tuple[EncodeFn, DecodeFn]:
    hints = get_type_hints(cls, include_extras=True)
    plan = [(f.name, wire_of(hints[f.name])) for f in fields(cls)]
    enc_steps: list[EncodeFn] = []
    dec_steps: list[Callable[[bytes, int, list[Any]], int]] = []
    run: list[tuple[str, WireType]] = []

    def flush() -> None:
        if not run:
            return
        st = struct.Struct("<" + "".join(wt.fmt or "" for _, wt in run))
        names = [n for n, _ in run]
        checked = [(n, wt.size) for n, wt in run if wt.size is not None]
        get = attrgetter(*names)
        single = len(names) == 1

        def enc(obj: Any, out: bytearray) -> None:
            for name, size in checked:
                if len(getattr(obj, name)) != size:
                    raise FrameError(f"{cls.__name__}.{name} must be exactly {size} bytes")
            out += st.pack(get(obj)) if single else st.pack(*get(obj))

        def dec(buf: bytes, off: int, vals: list[Any]) -> int:
            vals.extend(st.unpack_from(buf, off))
            return off + st.size

        enc_steps.append(enc)
        dec_steps.append(dec)
        run.clear()

    for name, wt in plan:
        if wt.fmt is not None:
            run.append((name, wt))
            continue
        flush()
        enc_steps.append(_field_encoder(name, wt))
        dec_steps.append(_field_decoder(wt))
    flush()

    def encode(obj: Any, out: bytearray) -> None:
        for step in enc_steps:
            step(obj, out)

    def decode(buf: bytes, off: int) -> tuple[Any, int]:
        vals: list[Any] = []
        for step in dec_steps:
            off = step(buf, off, vals)
        return cls(*vals), off  # a record's __post_init__ may refuse the values (FrameError)

    return encode, decode


def _field_encoder(name: str, wt: WireType) -> EncodeFn:
    enc = wt.encode

    def step(obj: Any, out: bytearray) -> None:
        enc(getattr(obj, name), out)

    return step


def _field_decoder(wt: WireType) -> Callable[[bytes, int, list[Any]], int]:
    dec = wt.decode

    def step(buf: bytes, off: int, vals: list[Any]) -> int:
        value, off = dec(buf, off)
        vals.append(value)
        return off

    return step


@dataclass_transform()
def record(cls: type[T]) -> type[T]:
    """Make `cls` a slotted dataclass with a compiled SV2 encoder/decoder."""
    dc: Any = dataclass(slots=True)(cls)
    encode, decode = _compile(dc)
    dc.__sv2_encode__ = staticmethod(encode)
    dc.__sv2_decode__ = staticmethod(decode)
    return dc  # type: ignore[no-any-return]


_CODEC_ERRORS = (struct.error, ValueError, TypeError, OverflowError, AttributeError, IndexError)


def encode_record(obj: Any) -> bytes:
    """The payload bytes of a record; values that do not fit their wire type raise FrameError."""
    out = bytearray()
    try:
        obj.__sv2_encode__(obj, out)
    except FrameError:
        raise
    except _CODEC_ERRORS as exc:
        raise FrameError(f"cannot encode {type(obj).__name__}: {exc}") from None
    return bytes(out)


def decode_record(cls: type[T], payload: bytes) -> T:
    """Decode a whole payload as `cls`; short payloads and trailing bytes raise FrameError."""
    try:
        obj, end = cls.__sv2_decode__(payload, 0)  # type: ignore[attr-defined]
    except FrameError as exc:
        raise FrameError(f"malformed {cls.__name__}: {exc}") from None
    except _CODEC_ERRORS as exc:
        raise FrameError(f"malformed {cls.__name__}: {exc}") from None
    if end != len(payload):
        raise FrameError(f"{len(payload) - end} trailing byte(s) after {cls.__name__}")
    return obj  # type: ignore[no-any-return]
