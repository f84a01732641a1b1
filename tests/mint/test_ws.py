"""NUT-17 `/v1/ws` on the mint's real HTTP server, driven by a real websocket client (`websockets`): the current
state first, then every change of proofs, mint and melt quotes and ehash epochs, as the mint makes them; bad
requests answered with JSON-RPC errors; the bound on subscriptions per socket."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect

from nutx_cli.core.keysets import amount_split
from nutx_cli.core.nut17 import MAX_SUBSCRIPTIONS
from nutx_cli.mint import Mint
from nutx_cli.mint.lightning import FakeBackend
from tests.helpers.mint import (
    HeldPayments,
    ServerThread,
    mine_shares,
    mint_sats,
    open_epoch,
    outputs,
    wire,
    won_epoch,
)


class Client:
    """A wallet's side of the socket: requests by id, and every message kept in arrival order."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.received: list[dict[str, Any]] = []
        self._next_id = 0

    async def _read(self) -> dict[str, Any]:
        message = json.loads(await asyncio.wait_for(self.ws.recv(), 20))
        self.received.append(message)
        return message

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        """Send a request and return its answer (result or error); notifications meanwhile are kept."""
        self._next_id += 1
        await self.ws.send(
            json.dumps({"jsonrpc": "2.0", "id": self._next_id, "method": method, "params": params})
        )
        while (message := await self._read()).get("id") != self._next_id:
            pass
        return message

    async def subscribe(self, kind: str, filters: list[str], sub_id: str) -> dict[str, Any]:
        answer = await self.call("subscribe", kind=kind, filters=filters, subId=sub_id)
        assert answer.get("result") == {"status": "OK", "subId": sub_id}, answer
        return answer

    async def raw(self, text: str) -> dict[str, Any]:
        await self.ws.send(text)
        return await self._read()

    def payloads(self, sub_id: str) -> list[dict[str, Any]]:
        return [
            m["params"]["payload"]
            for m in self.received
            if m.get("method") == "subscribe" and m["params"]["subId"] == sub_id
        ]

    async def until(self, sub_id: str, count: int) -> list[dict[str, Any]]:
        """The first `count` payloads of `sub_id`, waiting for them."""
        while len(self.payloads(sub_id)) < count:
            await self._read()
        return self.payloads(sub_id)[:count]


@asynccontextmanager
async def client(server: ServerThread) -> AsyncIterator[Client]:
    async with connect(server.url.replace("http://", "ws://") + "/v1/ws") as ws:
        yield Client(ws)


def states(payloads: list[dict[str, Any]]) -> list[str]:
    """Proof and quote states, or epoch statuses."""
    return [p.get("state") or p["status"] for p in payloads]


async def test_proof_states_current_then_every_change(served_mint: tuple[Mint, ServerThread]) -> None:
    mint, server = served_mint
    proofs = mint_sats(mint, 6)  # 2 + 4
    async with client(server) as ws, httpx.AsyncClient(base_url=server.url) as http:
        await ws.subscribe("proof_state", [p.Y.upper() for p in proofs], "s1")  # any case of hex
        current = await ws.until("s1", 2)
        assert {(p["Y"], p["state"], p["witness"]) for p in current} == {
            (p.Y, "UNSPENT", None) for p in proofs
        }
        new = outputs(mint.sat_keyset.id, [2, 4]).messages
        assert (
            await http.post("/v1/swap", json={"inputs": wire(proofs), "outputs": wire(new)})
        ).status_code == 200
        changed = (await ws.until("s1", 4))[2:]
        assert {(p["Y"], p["state"]) for p in changed} == {(p.Y, "SPENT") for p in proofs}
    assert json.dumps(mint.info_json()["nuts"]["17"]["supported"][0]) == json.dumps(
        {
            "method": "bolt11",
            "unit": "sat",
            "commands": ["bolt11_mint_quote", "bolt11_melt_quote", "proof_state"],
        }
    )


async def test_mint_quote_paid_then_issued(tmp_path: Path) -> None:
    """An invoice paid while the wallet listens is told without anyone asking for the quote; then ISSUED."""

    class PaidLater(FakeBackend):
        def __init__(self) -> None:
            super().__init__()
            self.paid = threading.Event()

        def invoice_paid(self, payment_hash: str) -> bool:
            return self.paid.is_set()

    backend = PaidLater()
    mint = Mint.open(tmp_path / "mint", lightning=backend)
    server = ServerThread(mint)
    try:
        async with client(server) as ws, httpx.AsyncClient(base_url=server.url) as http:
            quote = (await http.post("/v1/mint/quote/bolt11", json={"amount": 5, "unit": "sat"})).json()
            await ws.subscribe("bolt11_mint_quote", [quote["quote"]], "q")
            assert states(await ws.until("q", 1)) == ["UNPAID"]
            backend.paid.set()
            paid = (await ws.until("q", 2))[1]
            assert paid == {**quote, "state": "PAID"}
            outs = outputs(mint.sat_keyset.id, amount_split(5))
            minted = await http.post(
                "/v1/mint/bolt11", json={"quote": quote["quote"], "outputs": wire(outs.messages)}
            )
            assert minted.status_code == 200
            assert states(await ws.until("q", 3)) == ["UNPAID", "PAID", "ISSUED"]
    finally:
        server.stop()
        mint.close()


async def test_melt_quote_and_its_proofs_pending_then_paid(tmp_path: Path) -> None:
    backend = HeldPayments()
    mint = Mint.open(tmp_path / "mint", lightning=backend)
    server = ServerThread(mint)
    try:
        async with client(server) as ws, httpx.AsyncClient(base_url=server.url, timeout=60) as http:
            request = backend.create_invoice(5000, "melt", 600).request
            quote = (
                await http.post("/v1/melt/quote/bolt11", json={"request": request, "unit": "sat"})
            ).json()
            proofs = mint_sats(mint, quote["amount"] + quote["fee_reserve"])
            await ws.subscribe("bolt11_melt_quote", [quote["quote"]], "melt")
            await ws.subscribe("proof_state", [proofs[0].Y], "proof")
            melt = asyncio.create_task(
                http.post("/v1/melt/bolt11", json={"quote": quote["quote"], "inputs": wire(proofs)})
            )
            assert states(await ws.until("melt", 2)) == ["UNPAID", "PENDING"]
            assert states(await ws.until("proof", 2)) == ["UNSPENT", "PENDING"]
            backend.release.set()
            assert (await melt).status_code == 200
            final = await ws.until("melt", 3)
            assert final[2]["state"] == "PAID" and final[2]["payment_preimage"]
            assert states(await ws.until("proof", 3)) == ["UNSPENT", "PENDING", "SPENT"]
    finally:
        server.stop()
        mint.close()


async def test_ehash_epochs_and_redeemed_proofs(served_mint: tuple[Mint, ServerThread]) -> None:
    mint, server = served_mint
    e = open_epoch(mint)
    ehash = await mine_shares(mint, [1, 2])
    async with client(server) as ws, httpx.AsyncClient(base_url=server.url) as http:
        await ws.subscribe("ehash_epoch", [str(e)], "epoch")
        await ws.subscribe("proof_state", [p.Y for p in ehash], "burned")
        (opened,) = await ws.until("epoch", 1)
        assert opened == mint.epoch(e).to_json() and opened["status"] == "open" and opened["work"] == 3
        won_epoch(mint, e, theta_b=30)  # won, then mature
        assert states(await ws.until("epoch", 3)) == ["open", "won", "mature"]
        sats = outputs(mint.sat_keyset.id, amount_split(30)).messages
        redeemed = await http.post("/v1/mining/redeem", json={"inputs": wire(ehash), "outputs": wire(sats)})
        assert redeemed.status_code == 200
        assert [p["paid"] for p in await ws.until("epoch", 4)] == [0, 0, 0, 30]
        assert states(await ws.until("burned", 4)) == ["UNSPENT", "UNSPENT", "SPENT", "SPENT"]
        mint.mark_orphaned(e)
        assert (await ws.until("epoch", 5))[4]["status"] == "orphaned"
        e2 = mint.open_epoch(tip_hash="ff" * 32, height=200, now=1_700_000_500).epoch
        await ws.subscribe("ehash_epoch", [str(e2)], "next")
        assert states(await ws.until("next", 1)) == ["open"]


async def test_unsubscribe_and_bad_requests(served_mint: tuple[Mint, ServerThread]) -> None:
    mint, server = served_mint
    proofs = mint_sats(mint, 3)  # 1 + 2
    async with client(server) as ws, httpx.AsyncClient(base_url=server.url) as http:
        assert (await ws.raw("not json"))["error"]["code"] == -32700
        assert (await ws.raw("[1]"))["error"]["code"] == -32600
        assert (await ws.call("publish", kind="proof_state"))["error"]["code"] == -32601
        bad = [
            {"kind": "bolt12_mint_quote", "filters": ["x"], "subId": "a"},
            {"kind": "proof_state", "filters": ["02zz"], "subId": "a"},
            {"kind": "proof_state", "filters": [], "subId": "a"},
            {"kind": "proof_state", "filters": [proofs[0].Y]},
            {"kind": "ehash_epoch", "filters": ["one"], "subId": "a"},
            {"kind": "ehash_epoch", "filters": ["99"], "subId": "a"},
            {"kind": "bolt11_mint_quote", "filters": ["no-such-quote"], "subId": "a"},
        ]
        for params in bad:
            answer = await ws.call("subscribe", **params)
            assert answer["error"]["code"] == -32602 and answer["error"]["message"], (params, answer)
        await ws.subscribe("proof_state", [proofs[0].Y], "first")
        again = await ws.call("subscribe", kind="proof_state", filters=[proofs[1].Y], subId="first")
        assert "already subscribed" in again["error"]["message"]
        await ws.subscribe("proof_state", [proofs[1].Y], "second")
        assert (await ws.call("unsubscribe", subId="first"))["result"] == {"status": "OK", "subId": "first"}
        assert "no subscription" in (await ws.call("unsubscribe", subId="first"))["error"]["message"]
        for p in proofs:
            new = outputs(mint.sat_keyset.id, [p.amount]).messages
            assert (
                await http.post("/v1/swap", json={"inputs": [p.to_json()], "outputs": wire(new)})
            ).status_code == 200
        assert states(await ws.until("second", 2)) == ["UNSPENT", "SPENT"]
        assert states(ws.payloads("first")) == ["UNSPENT"], "nothing after the unsubscribe"


async def test_subscriptions_per_socket_are_bounded(served_mint: tuple[Mint, ServerThread]) -> None:
    mint, server = served_mint
    (proof,) = mint_sats(mint, 1)
    async with client(server) as ws:
        for i in range(MAX_SUBSCRIPTIONS):
            await ws.subscribe("proof_state", [proof.Y], f"s{i}")
        refused = await ws.call("subscribe", kind="proof_state", filters=[proof.Y], subId="one-too-many")
        assert f"at most {MAX_SUBSCRIPTIONS} subscriptions" in refused["error"]["message"]
        assert (await ws.call("unsubscribe", subId="s0"))["result"]["status"] == "OK"
        await ws.subscribe("proof_state", [proof.Y], "one-too-many")
    async with client(server) as other:  # the bound is per socket
        await other.subscribe("proof_state", [proof.Y], "s0")


@pytest.mark.e2e
async def test_server_stops_with_sockets_open(tmp_path: Path) -> None:
    """Stopping the HTTP server closes open websockets: the server thread ends."""
    mint = Mint.open(tmp_path / "mint")
    server = ServerThread(mint)
    try:
        async with client(server) as ws:
            (proof,) = mint_sats(mint, 1)
            await ws.subscribe("proof_state", [proof.Y], "s")
            await asyncio.to_thread(server.stop)
            assert not server.alive
    finally:
        mint.close()
