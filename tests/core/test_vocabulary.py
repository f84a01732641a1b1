"""The shared small truths: units and states are their wire strings, msat round up, input fees round up."""

from __future__ import annotations

from nutx_cli.core.vocabulary import (
    MAX_PER_REQUEST,
    MeltQuoteState,
    MintQuoteState,
    ProofState,
    Unit,
    input_fee,
    sats_for_msat,
)


def test_words_are_the_wire_strings() -> None:
    assert [str(u) for u in Unit] == ["sat", "ehash"]
    assert [str(s) for s in ProofState] == ["UNSPENT", "PENDING", "SPENT"]
    assert [str(s) for s in MintQuoteState] == ["UNPAID", "PAID", "ISSUED"]
    assert [str(s) for s in MeltQuoteState] == ["UNPAID", "PENDING", "PAID"]
    assert ProofState("SPENT") is ProofState.SPENT and Unit.SAT == "sat"
    assert MAX_PER_REQUEST == 1000


def test_msat_round_up_to_whole_sats() -> None:
    assert [sats_for_msat(m) for m in (0, 1, 999, 1000, 1001, 40_000_000)] == [0, 1, 1, 1, 2, 40_000]


def test_input_fee_is_the_sum_of_ppk_rounded_up() -> None:
    assert input_fee([]) == 0
    assert input_fee([0, 0, 0]) == 0
    assert input_fee([100] * 10) == 1
    assert input_fee([100] * 11) == 2
    assert input_fee(iter([1])) == 1
