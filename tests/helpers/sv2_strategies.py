"""Hypothesis strategies for every SV2 message, derived from the messages' own wire-type annotations."""

from __future__ import annotations

from dataclasses import fields
from typing import Any, get_type_hints

from hypothesis import strategies as st

from nutx_cli.sv2 import framing  # noqa: F401 - registers every message
from nutx_cli.sv2.ecash import KEYSET_AMOUNTS, EcashKeyset
from nutx_cli.sv2.messages import MESSAGE_TYPES, Message
from nutx_cli.sv2.types import (
    _U24,
    Option,
    Seq,
    Tuple,
    WireType,
    _Bool,
    _PrefixedBytes,
    _RecordType,
    _Str0_255,
    _StructType,
    _U256Int,
    wire_of,
)

_INTS = {"B": 8, "H": 16, "I": 32, "Q": 64}
ALL_MESSAGES: list[type[Message]] = sorted(
    MESSAGE_TYPES.values(), key=lambda c: (c.extension_type, c.msg_type)
)


def for_wire(wt: WireType) -> st.SearchStrategy[Any]:
    if isinstance(wt, _StructType):
        fmt = wt.fmt or ""
        if fmt in _INTS:
            return st.integers(0, (1 << _INTS[fmt]) - 1)
        if fmt == "f":
            return st.floats(width=32, allow_nan=False)
        return st.binary(min_size=wt.size or 0, max_size=wt.size or 0)
    if isinstance(wt, _U24):
        return st.integers(0, (1 << 24) - 1)
    if isinstance(wt, _U256Int):
        return st.integers(0, (1 << 256) - 1)
    if isinstance(wt, _Bool):
        return st.booleans()
    if isinstance(wt, _PrefixedBytes):
        return st.binary(max_size=min(wt.max_len, 300))
    if isinstance(wt, _Str0_255):
        return st.text(max_size=60).filter(lambda s: len(s.encode("utf-8", "surrogateescape")) <= 255)
    if isinstance(wt, Seq):
        return st.lists(for_wire(wt.item), max_size=6)
    if isinstance(wt, Option):
        return st.none() | for_wire(wt.item)
    if isinstance(wt, Tuple):
        return st.tuples(*(for_wire(i) for i in wt.items))
    if isinstance(wt, _RecordType):
        return for_record(wt.cls)
    raise TypeError(f"no strategy for {wt!r}")


def _keyset() -> st.SearchStrategy[EcashKeyset]:
    keys = st.lists(st.binary(min_size=33, max_size=33), min_size=64, max_size=64).map(
        lambda pubs: list(zip(KEYSET_AMOUNTS, pubs, strict=True))
    )
    return st.builds(
        EcashKeyset,
        keyset_id=st.binary(max_size=40),
        unit=st.sampled_from(["ehash", "sat", ""]),
        epoch=st.integers(0, 2**32 - 1),
        k_max=st.sampled_from([224, 256]),
        keys=keys,
    )


def for_record(cls: type) -> st.SearchStrategy[Any]:
    if cls is EcashKeyset:
        return _keyset()
    hints = get_type_hints(cls, include_extras=True)
    return st.builds(cls, **{f.name: for_wire(wire_of(hints[f.name])) for f in fields(cls)})


any_message: st.SearchStrategy[Message] = st.one_of([for_record(cls) for cls in ALL_MESSAGES])
