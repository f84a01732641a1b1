"""The life of an epoch (DESIGN §4) as one table: which event moves which status to which.

An epoch opens at a chain tip; the block after that tip decides it (won: the pool's block, lost:
someone else's). A won epoch counts its block's confirmations until it is mature (redeemable); a
reorg that takes its block out, before or after maturity, orphans it. Lost and orphaned epochs are
dead: their ehash is worth nothing, for good. The mint moves an epoch only through `advance`, so no
other transition can happen (in the style of h11's `_state.py`).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from nutx_cli.errors import NutxError


class EpochStatus(StrEnum):
    """The `status` of the EPOCH JSON (DESIGN §5)."""

    OPEN = "open"
    WON = "won"
    MATURE = "mature"
    LOST = "lost"
    ORPHANED = "orphaned"


class EpochEvent(StrEnum):
    """What happens to an epoch, as the pool sees the chain."""

    WON = "won"
    """The pool's block followed the epoch's start tip."""
    LOST = "lost"
    """Another miner's block followed it."""
    CONFIRMED = "confirmed"
    """The epoch's block has a new confirmation count, below maturity."""
    MATURED = "matured"
    """The epoch's block has at least `maturity` confirmations."""
    ORPHANED = "orphaned"
    """A reorg took the epoch's block out of the best chain."""


TRANSITIONS: Mapping[EpochStatus, Mapping[EpochEvent, EpochStatus]] = {
    EpochStatus.OPEN: {EpochEvent.WON: EpochStatus.WON, EpochEvent.LOST: EpochStatus.LOST},
    EpochStatus.WON: {
        EpochEvent.CONFIRMED: EpochStatus.WON,
        EpochEvent.MATURED: EpochStatus.MATURE,
        EpochEvent.ORPHANED: EpochStatus.ORPHANED,
    },
    EpochStatus.MATURE: {
        EpochEvent.CONFIRMED: EpochStatus.MATURE,
        EpochEvent.MATURED: EpochStatus.MATURE,
        EpochEvent.ORPHANED: EpochStatus.ORPHANED,
    },
    EpochStatus.LOST: {},
    EpochStatus.ORPHANED: {EpochEvent.ORPHANED: EpochStatus.ORPHANED},
}
"""Every allowed (status, event) → new status; any pair not listed is refused."""

ACTIVE = frozenset({EpochStatus.OPEN, EpochStatus.WON, EpochStatus.MATURE})
"""An ehash keyset accepts swap outputs while its epoch is in one of these (the NUT-02 `active`)."""
DEAD = frozenset({EpochStatus.LOST, EpochStatus.ORPHANED})
"""Epochs that will never pay: the mint refuses their ehash, wallets drop it."""
DECIDED_WON = frozenset({EpochStatus.WON, EpochStatus.MATURE, EpochStatus.ORPHANED})
"""Epochs the pool's block ended: they have a block reward and a price (an orphaned one pays nothing all the same)."""


class EpochTransitionError(NutxError):
    """An event that the epoch's status does not allow (e.g. closing an epoch twice)."""

    def __init__(self, status: EpochStatus, event: EpochEvent) -> None:
        super().__init__(f"an epoch that is {status} cannot be {event}")
        self.status = status
        self.event = event


def advance(status: EpochStatus, event: EpochEvent) -> EpochStatus:
    """The status after `event`, or EpochTransitionError when the table has no such move."""
    new = TRANSITIONS[EpochStatus(status)].get(event)
    if new is None:
        raise EpochTransitionError(EpochStatus(status), event)
    return new


def worthless_epoch(epoch: int, status: EpochStatus) -> str:
    """Why ehash of a dead epoch is refused; the mint and the wallet say it the same way."""
    how = "was orphaned by a reorg" if status == EpochStatus.ORPHANED else "was lost"
    return f"ehash of epoch {epoch}, which {how}: it is worth nothing"
