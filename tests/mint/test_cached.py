"""NUT-19 cached responses on the mint's real HTTP server: a lost answer to a mint, swap, melt or redeem is got
again by sending the identical request (also after a restart); a request that differs is processed as before."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import httpx

from nutx_cli.core.keysets import amount_split
from nutx_cli.core.models import BlindSignature
from nutx_cli.mint import Mint
from nutx_cli.mint.cached import CACHED_PATHS, TTL_S, CachedResponses, request_key
from nutx_cli.mint.store import SCHEMA_VERSION
from tests.helpers.mint import ServerThread, mine_shares, mint_sats, open_epoch, outputs, wire, won_epoch


def twice(http: httpx.Client, path: str, body: dict[str, Any]) -> httpx.Response:
    """Send `body` twice (the first answer "lost"): the second answer is the first, byte for byte."""
    first = http.post(path, json=body)
    again = http.post(path, json=body)
    assert first.status_code == again.status_code == 200, (first.text, again.text)
    assert again.content == first.content
    return again


def test_info_lists_the_cached_endpoints(served_mint: tuple[Mint, ServerThread]) -> None:
    _, server = served_mint
    setting = httpx.get(f"{server.url}/v1/info").json()["nuts"]["19"]
    assert setting == {
        "ttl": TTL_S,
        "cached_endpoints": [{"method": "POST", "path": p} for p in CACHED_PATHS],
    }


def test_mint_swap_and_melt_retried(served_mint: tuple[Mint, ServerThread]) -> None:
    mint, server = served_mint
    sat = mint.sat_keyset.id
    with httpx.Client(base_url=server.url) as http:
        quote = http.post("/v1/mint/quote/bolt11", json={"amount": 8, "unit": "sat"}).json()["quote"]
        outs = outputs(sat, [8])
        minted = twice(http, "/v1/mint/bolt11", {"quote": quote, "outputs": wire(outs.messages)})
        other = http.post(
            "/v1/mint/bolt11", json={"quote": quote, "outputs": wire(outputs(sat, [8]).messages)}
        )
        assert other.json()["code"] == 20002  # a different body: the quote was issued

        proofs = outs.unblind(
            [BlindSignature.from_json(s) for s in minted.json()["signatures"]], mint.sat_keyset
        )
        new = outputs(sat, [4, 4]).messages
        swap = {"inputs": wire(proofs), "outputs": wire(new)}
        swapped = twice(http, "/v1/swap", swap)
        assert [s["amount"] for s in swapped.json()["signatures"]] == [4, 4]
        reused = http.post("/v1/swap", json={"inputs": wire(mint_sats(mint, 8)), "outputs": wire(new)})
        assert reused.json()["code"] == 11003  # same outputs, other inputs: blinded-message-reused as before
        spent = http.post("/v1/swap", json={**swap, "outputs": wire(outputs(sat, [8]).messages)})
        assert spent.json()["code"] == 11001

        request = mint.lightning.create_invoice(3000, "retry", 600).request
        mq = http.post("/v1/melt/quote/bolt11", json={"request": request, "unit": "sat"}).json()
        funds = mint_sats(mint, mq["amount"] + mq["fee_reserve"])
        blanks = [{**o.to_json(), "amount": 0} for o in outputs(sat, [1, 1]).messages]
        melted = twice(
            http, "/v1/melt/bolt11", {"quote": mq["quote"], "inputs": wire(funds), "outputs": blanks}
        )
        assert melted.json()["state"] == "PAID"
    assert mint.liabilities()["sat"] == 8 + 8 + sum(c["amount"] for c in melted.json().get("change", []))


async def test_redeem_retried_after_a_restart(tmp_path: Path) -> None:
    mint = Mint.open(tmp_path / "mint")
    e = open_epoch(mint)
    ehash = await mine_shares(mint, [1, 2, 4])
    won_epoch(mint, e, theta_b=70)
    body = {"inputs": wire(ehash), "outputs": wire(outputs(mint.sat_keyset.id, amount_split(70)).messages)}
    server = ServerThread(mint)
    try:
        async with httpx.AsyncClient(base_url=server.url) as http:
            first = await http.post("/v1/mining/redeem", json=body)
        assert first.status_code == 200
    finally:
        server.stop()
        mint.close()
    mint = Mint.open(tmp_path / "mint")
    server = ServerThread(mint)
    try:
        async with httpx.AsyncClient(base_url=server.url) as http:
            again = await http.post("/v1/mining/redeem", json=body)
            assert again.status_code == 200 and again.content == first.content
            assert mint.epoch(e).paid == 70, "answered from the store: paid once"
            reordered = {"outputs": body["outputs"], "inputs": body["inputs"]}
            assert (await http.post("/v1/mining/redeem", json=reordered)).content == first.content
    finally:
        server.stop()
        mint.close()


def test_answers_expire_after_the_ttl(tmp_path: Path) -> None:
    mint = Mint.open(tmp_path / "mint")
    try:
        cache = CachedResponses(mint.store, ttl=60)
        old, new = request_key("POST", "/v1/swap", {"a": 1}), request_key("POST", "/v1/swap", {"a": 2})
        assert old != new and request_key("POST", "/v1/swap", {"a": 1}) == old
        cache.put(old, '{"signatures": []}', 1000)
        assert cache.get(old, 1060) == '{"signatures": []}' and cache.get(old, 1061) is None
        cache.put(new, "{}", 1100)
        count = mint.store.database.query("SELECT COUNT(*) AS n FROM cached_responses")[0]["n"]
        assert count == 1, "the expired answer was dropped"
    finally:
        mint.close()


def test_a_schema_4_mint_gets_the_cache(tmp_path: Path) -> None:
    Mint.open(tmp_path / "mint").close()
    conn = sqlite3.connect(tmp_path / "mint" / "mint.sqlite3", isolation_level=None)
    conn.executescript("DROP TABLE cached_responses; UPDATE meta SET value = '4' WHERE key = 'schema';")
    conn.close()
    mint = Mint.open(tmp_path / "mint")
    try:
        assert mint.store.meta("schema") == str(SCHEMA_VERSION)
        mint.responses.put(b"k" * 32, "{}", 5)
        assert mint.responses.get(b"k" * 32, 5) == "{}"
    finally:
        mint.close()
