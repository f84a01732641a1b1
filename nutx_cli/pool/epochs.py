"""When an epoch ends and how (DESIGN.md §4): tip changes, the won/lost rule, maturity and orphans.

Pure decisions; the service asks the node for the facts (the new tip, the block at height h + 1
on the new best chain, confirmations) and tells the mint the outcome.

- An epoch starts at a tip (hash, height h) and ends at the first tip change the pool sees, however
  many blocks the chain moved: one close, and the next epoch starts at the new tip.
- Won iff the block at h + 1 on the new best chain is one of ours; lost otherwise (also when the
  new chain is not even that long). A `submitblock` verdict decides nothing.
- A won epoch whose block is no longer on the best chain (confirmations −1) is orphaned, before
  or after maturity; otherwise its confirmation count is recorded and the mint marks it mature
  at `maturity`.
"""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass
from typing import Literal

from nutx_cli.core.epoch_status import EpochStatus


@dataclass(frozen=True, slots=True)
class Tip:
    """A chain tip: display-hex hash and height."""

    hash: str
    height: int


@dataclass(frozen=True, slots=True)
class EpochOutcome:
    """How the open epoch ends: `won` with our block at `height`, or `lost`."""

    status: Literal[EpochStatus.WON, EpochStatus.LOST]
    height: int
    block_hash: str | None


def tip_changed(open_tip: Tip, seen: Tip) -> bool:
    """Any tip other than the one the open epoch started at ends it (a reorg to the same height too)."""
    return seen.hash != open_tip.hash


def decide_outcome(open_tip: Tip, block_at_next: str | None, ours: Container[str]) -> EpochOutcome:
    """The fate of the epoch that started at `open_tip`, given the hash at height h + 1 on the new best chain."""
    height = open_tip.height + 1
    if block_at_next is not None and block_at_next in ours:
        return EpochOutcome(EpochStatus.WON, height, block_at_next)
    return EpochOutcome(EpochStatus.LOST, height, None)


@dataclass(frozen=True, slots=True)
class MaturityUpdate:
    """What to record for a won epoch after looking up its block's confirmations."""

    epoch: int
    action: Literal["confirmations", "orphaned"]
    confirmations: int


def maturity_update(
    epoch: int, status: EpochStatus, confirmations: int, previous: int | None
) -> MaturityUpdate | None:
    """The change to record for a won/mature epoch whose block has `confirmations` (−1: off the best chain)."""
    if status not in (EpochStatus.WON, EpochStatus.MATURE):
        return None
    if confirmations < 1:
        return MaturityUpdate(epoch, "orphaned", 0)
    if confirmations != previous:
        return MaturityUpdate(epoch, "confirmations", confirmations)
    return None
