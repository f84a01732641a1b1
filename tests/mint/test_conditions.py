"""Spending conditions at the mint over its real HTTP API: locked sats through swap and melt, locked ehash through
redeem, SIG_ALL over each request's own outputs (and the melt's quote), unknown kinds and malformed witnesses
refused with 10001 (never a 500)."""

from __future__ import annotations

import hashlib
from dataclasses import replace

import httpx
from coincurve import PrivateKey

from nutx_cli.core.conditions import sig_all_message
from nutx_cli.core.keysets import amount_split
from nutx_cli.core.models import Proof
from nutx_cli.mint import Mint
from tests.helpers.locks import locked_secret, pub, witness
from tests.helpers.mint import ServerThread, mine_shares, mint_sats, open_epoch, outputs, wire, won_epoch


def refused(r: httpx.Response, why: str) -> None:
    assert (r.status_code, r.json()["code"]) == (400, 10001), r.text
    assert why in r.json()["detail"], r.text


def test_info_advertises_spending_conditions(served_mint: tuple[Mint, ServerThread]) -> None:
    _, server = served_mint
    nuts = httpx.get(f"{server.url}/v1/info").json()["nuts"]
    assert all(nuts[n] == {"supported": True} for n in ("10", "11", "14"))


def test_locked_sats_through_swap(served_mint: tuple[Mint, ServerThread]) -> None:
    mint, server = served_mint
    alice, bob = PrivateKey(), PrivateKey()
    locked = [locked_secret("P2PK", pub(alice)) for _ in amount_split(3)]
    proofs = mint_sats(mint, 3, locked)
    new = outputs(mint.sat_keyset.id, [1, 2]).messages
    with httpx.Client(base_url=server.url) as http:

        def swap(inputs: list[Proof]) -> httpx.Response:
            return http.post("/v1/swap", json={"inputs": wire(inputs), "outputs": wire(new)})

        refused(swap(proofs), "not met")
        refused(swap([replace(p, witness=witness(p.secret, bob)) for p in proofs]), "not met")
        refused(swap([replace(proofs[0], witness=witness(proofs[0].secret, alice)), proofs[1]]), "input 1")
        refused(swap([replace(p, witness="{") for p in proofs]), "witness is not JSON")
        opened = [replace(p, witness=witness(p.secret, alice)) for p in proofs]
        assert swap(opened).status_code == 200
        states = http.post("/v1/checkstate", json={"Ys": [p.Y for p in opened]}).json()["states"]
        assert [(s["state"], s["witness"]) for s in states] == [("SPENT", p.witness) for p in opened]


def test_sig_all_swap_and_melt(served_mint: tuple[Mint, ServerThread]) -> None:
    mint, server = served_mint
    owner = PrivateKey()
    tags = ["sigflag", "SIG_ALL"]
    proofs = mint_sats(mint, 7, [locked_secret("P2PK", pub(owner), tags) for _ in range(3)])
    sat = mint.sat_keyset.id
    with httpx.Client(base_url=server.url) as http:
        new = outputs(sat, [1, 2, 4]).messages
        other = outputs(sat, [1, 2, 4]).messages
        message = sig_all_message(proofs, new)
        signed = [replace(proofs[0], witness=witness(message, owner)), *proofs[1:]]
        r = http.post("/v1/swap", json={"inputs": wire(signed), "outputs": wire(other)})
        refused(r, "SIG_ALL")  # signed over other outputs
        assert http.post("/v1/swap", json={"inputs": wire(signed), "outputs": wire(new)}).status_code == 200

        melt_proofs = mint_sats(mint, 8, [locked_secret("P2PK", pub(owner), tags)])
        request = mint.lightning.create_invoice(5000, "sig all", 600).request
        quote = http.post("/v1/melt/quote/bolt11", json={"request": request, "unit": "sat"}).json()["quote"]
        blanks = [replace(o, amount=0) for o in outputs(sat, [1, 1]).messages]  # NUT-08 blank outputs
        without_quote = sig_all_message(melt_proofs, blanks)
        body = {"quote": quote, "outputs": wire(blanks)}
        wrong = [replace(melt_proofs[0], witness=witness(without_quote, owner))]
        refused(http.post("/v1/melt/bolt11", json={**body, "inputs": wire(wrong)}), "SIG_ALL")
        right = [replace(melt_proofs[0], witness=witness(without_quote + quote, owner))]
        melted = http.post("/v1/melt/bolt11", json={**body, "inputs": wire(right)})
        assert melted.status_code == 200 and melted.json()["state"] == "PAID", melted.text


async def test_locked_ehash_through_redeem(served_mint: tuple[Mint, ServerThread]) -> None:
    mint, server = served_mint
    miner = PrivateKey()
    preimage = bytes(range(32))
    secrets_ = [
        locked_secret("P2PK", pub(miner)),
        locked_secret("HTLC", hashlib.sha256(preimage).hexdigest(), ["pubkeys", pub(miner)]),
    ]
    e = open_epoch(mint)
    ehash = await mine_shares(mint, [1, 2], secrets_)
    won_epoch(mint, e, theta_b=300)
    with httpx.Client(base_url=server.url) as http:

        def redeem(inputs: list[Proof]) -> httpx.Response:
            sats = outputs(mint.sat_keyset.id, amount_split(300)).messages
            return http.post("/v1/mining/redeem", json={"inputs": wire(inputs), "outputs": wire(sats)})

        refused(redeem(ehash), "input 0")
        p2pk = replace(ehash[0], witness=witness(ehash[0].secret, miner))
        refused(redeem([p2pk, replace(ehash[1], witness=witness(ehash[1].secret, miner))]), "HTLC")
        htlc = replace(ehash[1], witness=witness(ehash[1].secret, miner, preimage=preimage.hex()))
        assert redeem([p2pk, htlc]).status_code == 200
    assert mint.epoch(e).paid == 300


def test_unknown_kinds_and_malformed_secrets_are_refused(served_mint: tuple[Mint, ServerThread]) -> None:
    mint, server = served_mint
    secrets_ = [
        locked_secret("P2SH", "ab" * 32),
        locked_secret("P2PK", "not a key"),
        '["P2PK", {"nonce": "n", "data": 1}]',
    ]
    proofs = mint_sats(mint, 7, secrets_)
    with httpx.Client(base_url=server.url) as http:
        for p, why in zip(
            proofs, ("unknown spending condition kind 'P2SH'", "P2PK data", "'data'"), strict=True
        ):
            new = outputs(mint.sat_keyset.id, amount_split(p.amount)).messages
            refused(http.post("/v1/swap", json={"inputs": [p.to_json()], "outputs": wire(new)}), why)
    assert mint.liabilities()["sat"] == 7
