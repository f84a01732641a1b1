"""What the wallet's modules share about the mint: units, epoch statuses, the per-request limit."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

SAT = "sat"
EHASH = "ehash"
DEAD_STATUSES = ("lost", "orphaned")
"""Epochs that will never pay: the wallet drops their secrets, pending entries and proofs."""
REDEEMABLE = "mature"
MAX_PER_REQUEST = 1000
"""The mint's limit on inputs and on outputs of one request (DESIGN §5)."""
BLANK_AMOUNT = 1
"""Amount written into NUT-08 blank outputs and NUT-09 restore outputs (the mint overwrites it)."""

T = TypeVar("T")


def per_request(items: Sequence[T], size: int = MAX_PER_REQUEST) -> list[Sequence[T]]:
    """`items` in consecutive batches of at most `size` (one mint request each)."""
    return [items[i : i + size] for i in range(0, len(items), size)]
