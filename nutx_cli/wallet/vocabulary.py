"""What the wallet's modules share about talking to the mint: blank outputs and per-request batches.

Units, epoch statuses and the per-request limit are the mint's words too: `core.vocabulary` and
`core.epoch_status`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from nutx_cli.core.vocabulary import MAX_PER_REQUEST

BLANK_AMOUNT = 1
"""Amount written into NUT-08 blank outputs and NUT-09 restore outputs (the mint overwrites it)."""

T = TypeVar("T")


def per_request(items: Sequence[T], size: int = MAX_PER_REQUEST) -> list[Sequence[T]]:
    """`items` in consecutive batches of at most `size` (one mint request each)."""
    return [items[i : i + size] for i in range(0, len(items), size)]
