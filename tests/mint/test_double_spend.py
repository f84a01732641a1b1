"""50 concurrent double spends of the same proofs through swap, melt and redeem: real HTTP server, one thread and
one connection per request, all released at once by a barrier, on SQLite and on PostgreSQL. In every round exactly one request wins, every
other gets proof-spent (11001) or proof-pending (11002), and the mint never issues more than it burned."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from nutx_cli.core.keysets import amount_split
from nutx_cli.core.models import Proof
from nutx_cli.core.vocabulary import MeltQuoteState
from nutx_cli.mint import Mint
from tests.helpers.mint import (
    ServerThread,
    mine_shares,
    mint_sats,
    open_epoch,
    outputs,
    served,
    wire,
    won_epoch,
)

RACERS = 50
ROUNDS = 3


@pytest.fixture
def served_mint(tmp_path: Path, database: str | None) -> Iterator[tuple[Mint, ServerThread]]:
    """The shared fixture's mint and server, on both engines."""
    with served(tmp_path / "mint", database) as pair:
        yield pair


def race(url: str, requests: list[tuple[str, dict[str, Any]]]) -> list[httpx.Response]:
    """POST every (path, body) from its own thread and connection, all starting together."""
    start = threading.Barrier(len(requests))

    def one(request: tuple[str, dict[str, Any]]) -> httpx.Response:
        with httpx.Client(base_url=url, timeout=120) as http:
            start.wait()
            return http.post(request[0], json=request[1])

    with ThreadPoolExecutor(len(requests)) as pool:
        return list(pool.map(one, requests))


def one_winner(results: list[httpx.Response]) -> Counter[int]:
    """Exactly one 200; the refusals by code, which are all spent or pending."""
    wins = [r for r in results if r.status_code == 200]
    assert len(wins) == 1, f"{len(wins)} of {len(results)} won: {[r.text[:80] for r in wins]}"
    codes = Counter(r.json()["code"] for r in results if r.status_code != 200)
    assert set(codes) <= {11001, 11002}, codes
    return codes


def ledger(mint: Mint) -> tuple[int, int]:
    """(Σ issued, Σ burned) over every sat keyset."""
    sat = {k["id"] for k in mint.keysets_json()["keysets"] if k["unit"] == "sat"}
    issued, spent = mint.store.issued_by_keyset(), mint.store.spent_by_keyset()
    return sum(issued.get(k, 0) for k in sat), sum(spent.get(k, 0) for k in sat)


def rounds(
    mint: Mint, server: ServerThread, make: Callable[[], list[tuple[str, dict[str, Any]]]]
) -> Counter[int]:
    refusals: Counter[int] = Counter()
    for _ in range(ROUNDS):
        refusals += one_winner(race(server.url, make()))
    return refusals


def test_swap(served_mint: tuple[Mint, ServerThread]) -> None:
    mint, server = served_mint
    sat = mint.sat_keyset.id

    def swaps() -> list[tuple[str, dict[str, Any]]]:
        proofs = mint_sats(mint, 100)
        return [
            ("/v1/swap", {"inputs": wire(proofs), "outputs": wire(outputs(sat, amount_split(100)).messages)})
            for _ in range(RACERS)
        ]

    refusals = rounds(mint, server, swaps)
    issued, burned = ledger(mint)
    assert issued - burned == ROUNDS * 100  # each round minted 100 and swapped 100 for 100, once
    print(f"swap: {ROUNDS}×{RACERS} → {ROUNDS} won, refused {dict(refusals)}")


def test_melt(served_mint: tuple[Mint, ServerThread]) -> None:
    mint, server = served_mint
    sat = mint.sat_keyset.id
    before = ledger(mint)
    minted: list[int] = []

    def melts() -> list[tuple[str, dict[str, Any]]]:
        quotes = [
            mint.create_melt_quote(mint.lightning.create_invoice(20_000, f"race {i}", 600).request, "sat")
            for i in range(RACERS)
        ]
        minted.append(quotes[0]["amount"] + quotes[0]["fee_reserve"])
        proofs = mint_sats(mint, minted[-1])
        return [
            (
                "/v1/melt/bolt11",
                {
                    "quote": q["quote"],
                    "inputs": wire(proofs),
                    "outputs": [{**o.to_json(), "amount": 0} for o in outputs(sat, [1, 1]).messages],
                },
            )
            for q in quotes
        ]

    refusals = rounds(mint, server, melts)
    issued, burned = ledger(mint)
    paid = [mint.store.melt_quote(q) for q in mint.store.melt_quotes_in_state(MeltQuoteState.PAID)]
    assert len(paid) == ROUNDS
    spent = sum(q.amount + (q.fee_paid or 0) for q in paid if q is not None)
    change = issued - before[0] - sum(minted)
    assert burned - before[1] == sum(minted), "each round's proofs burned once"
    assert change == sum(minted) - spent, "change is exactly what was burned beyond the payment"
    print(f"melt: {ROUNDS}×{RACERS} → {ROUNDS} paid, refused {dict(refusals)}")


@pytest.mark.parametrize("mixed", [False, True], ids=["redeem", "redeem-or-swap"])
async def test_redeem(served_mint: tuple[Mint, ServerThread], mixed: bool) -> None:
    """Ehash of a mature epoch redeemed 50 times at once (or half redeems, half ehash swaps): paid once."""
    mint, server = served_mint
    sat = mint.sat_keyset.id
    batches: list[tuple[int, list[Proof]]] = []
    for _ in range(ROUNDS):
        e = open_epoch(mint)
        batches.append((e, await mine_shares(mint, [1, 2, 4, 8])))
        won_epoch(mint, e, theta_b=150)  # price 10 sat/ehash
    left = list(batches)
    keysets = {e: mint.ehash_keyset(e).id for e, _ in batches}

    def redeems() -> list[tuple[str, dict[str, Any]]]:
        e, ehash = left.pop(0)
        redeem = [
            (
                "/v1/mining/redeem",
                {"inputs": wire(ehash), "outputs": wire(outputs(sat, amount_split(150)).messages)},
            )
            for _ in range(RACERS)
        ]
        swap = [
            ("/v1/swap", {"inputs": wire(ehash), "outputs": wire(outputs(keysets[e], [8, 4, 2, 1]).messages)})
            for _ in range(RACERS)
        ]
        return [swap[i] if mixed and i % 2 else redeem[i] for i in range(RACERS)]

    refusals = rounds(mint, server, redeems)
    paid = [mint.epoch(e).paid for e, _ in batches]
    assert all(p in (0, 150) for p in paid) and (mixed or paid == [150] * ROUNDS)
    issued, burned = ledger(mint)
    assert issued - burned == sum(paid) == mint.liabilities()["sat"]
    print(f"redeem{' or swap' if mixed else ''}: {ROUNDS}×{RACERS} → {ROUNDS} won, refused {dict(refusals)}")
