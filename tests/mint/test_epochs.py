"""The mint's epochs on a real store: transitions by the one table, refusals change nothing, and the
EPOCH JSON the mint writes is what the shared schema reads back."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from nutx_cli.core.epoch_json import Epoch
from nutx_cli.mint import Mint, MintError
from tests.helpers.mint import mine_shares, open_epoch, won_epoch


@pytest.fixture
def mint(tmp_path: Path) -> Iterator[Mint]:
    m = Mint.open(tmp_path / "mint")
    yield m
    m.close()


def refused(mint: Mint, epoch: int, move: Callable[[], object]) -> None:
    before = mint.epoch(epoch)
    with pytest.raises(MintError) as info:
        move()
    assert info.value.name == "epoch-state"
    assert mint.epoch(epoch) == before


def test_refused_transitions_leave_the_epoch_as_it_was(mint: Mint) -> None:
    e = open_epoch(mint)
    refused(mint, e, lambda: mint.set_confirmations(e, 5, maturity=2))
    refused(mint, e, lambda: mint.mark_orphaned(e))
    mint.close_epoch_lost(e, height=200, now=1_700_000_300)
    refused(mint, e, lambda: mint.close_epoch_lost(e, height=201, now=1_700_000_400))
    refused(mint, e, lambda: mint.close_epoch_won(e, theta_b=1, block_hash="ab" * 32, height=201, now=0))
    refused(mint, e, lambda: mint.set_confirmations(e, 5, maturity=2))
    refused(mint, e, lambda: mint.mark_orphaned(e))
    e2 = open_epoch(mint)
    won_epoch(mint, e2, theta_b=1000, mature=False)
    refused(mint, e2, lambda: mint.close_epoch_lost(e2, height=300, now=1_700_000_500))
    assert mint.mark_orphaned(e2).status == "orphaned"
    refused(mint, e2, lambda: mint.set_confirmations(e2, 3, maturity=2))
    assert mint.mark_orphaned(e2).status == "orphaned"  # a second reorg report changes nothing


def test_confirmations_move_won_to_mature_and_mature_stays(mint: Mint) -> None:
    e = open_epoch(mint)
    won_epoch(mint, e, theta_b=1000, mature=False)
    assert (mint.epoch(e).status, mint.epoch(e).confirmations) == ("won", 1)
    assert mint.set_confirmations(e, 2, maturity=3).status == "won"
    assert mint.set_confirmations(e, 3, maturity=3).status == "mature"
    assert mint.set_confirmations(e, 2, maturity=3).status == "mature"  # a shorter count never un-matures
    assert mint.epoch(e).confirmations == 2
    assert mint.mark_orphaned(e).status == "orphaned"


async def test_the_mint_writes_epochs_the_schema_reads(mint: Mint) -> None:
    e = open_epoch(mint)
    await mine_shares(mint, [1, 2, 2, 8])
    won_epoch(mint, e, theta_b=5_000_000_000)
    e2 = open_epoch(mint)
    for epoch in (mint.epoch(e), mint.epoch(e2)):
        assert Epoch.from_json(json.loads(json.dumps(epoch.to_json()))) == epoch
    assert mint.epoch_start(e) == (f"{e:064x}", e + 99)
