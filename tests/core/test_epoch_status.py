"""The epoch transition table: every (status, event) pair, allowed or refused, checked against DESIGN §4."""

from __future__ import annotations

import itertools

import pytest

from nutx_cli.core.epoch_status import (
    ACTIVE,
    DEAD,
    DECIDED_WON,
    EpochEvent,
    EpochStatus,
    EpochTransitionError,
    advance,
    worthless_epoch,
)

# Written out from DESIGN §4, not derived from the table under test.
ALLOWED = {
    ("open", "won"): "won",
    ("open", "lost"): "lost",
    ("won", "confirmed"): "won",
    ("won", "matured"): "mature",
    ("won", "orphaned"): "orphaned",
    ("mature", "confirmed"): "mature",
    ("mature", "matured"): "mature",
    ("mature", "orphaned"): "orphaned",
    ("orphaned", "orphaned"): "orphaned",
}
PAIRS = list(itertools.product(EpochStatus, EpochEvent))


def test_the_vocabulary_is_the_wire_vocabulary() -> None:
    assert [str(s) for s in EpochStatus] == ["open", "won", "mature", "lost", "orphaned"]
    assert EpochStatus("won") == "won" and "mature" == EpochStatus.MATURE
    assert {*ACTIVE} == {"open", "won", "mature"} and {*DEAD} == {"lost", "orphaned"}
    assert {*DECIDED_WON} == {"won", "mature", "orphaned"}


@pytest.mark.parametrize(("status", "event"), [p for p in PAIRS if (p[0], p[1]) in ALLOWED])
def test_allowed_transitions(status: EpochStatus, event: EpochEvent) -> None:
    assert advance(status, event) == ALLOWED[(status, event)]


@pytest.mark.parametrize(("status", "event"), [p for p in PAIRS if (p[0], p[1]) not in ALLOWED])
def test_refused_transitions(status: EpochStatus, event: EpochEvent) -> None:
    with pytest.raises(EpochTransitionError) as info:
        advance(status, event)
    assert (info.value.status, info.value.event) == (status, event)
    assert str(info.value) == f"an epoch that is {status} cannot be {event}"


def test_every_pair_is_decided_and_dead_epochs_stay_dead() -> None:
    assert len(PAIRS) == 25 and len(ALLOWED) == 9
    for status, event in PAIRS:
        if status in DEAD and (status, event) in ALLOWED:
            assert advance(status, event) in DEAD


def test_a_status_read_as_a_plain_string_is_accepted() -> None:
    assert advance("won", EpochEvent.MATURED) is EpochStatus.MATURE  # type: ignore[arg-type]


def test_the_dead_epoch_message() -> None:
    assert worthless_epoch(7, EpochStatus.LOST) == "ehash of epoch 7, which was lost: it is worth nothing"
    assert (
        worthless_epoch(8, EpochStatus.ORPHANED)
        == "ehash of epoch 8, which was orphaned by a reorg: it is worth nothing"
    )
