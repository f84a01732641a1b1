"""The wallet against a mint that misbehaves: a real mint HTTP server whose answers are altered on
the way out (lying keys, signatures without a valid DLEQ proof, answers that are not JSON)."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse

from nutx_cli.core.keysets import derive_keyset
from nutx_cli.mint import Mint, create_app
from nutx_cli.mint.http import serve_app
from nutx_cli.wallet import DleqFailure, Wallet, WalletError
from nutx_cli.wallet.client import BadMintAnswer
from tests.helpers.procs import free_port, port_open

Tamper = Callable[[str, dict], dict | Response]  # type: ignore[type-arg]


def tampering_app(mint: Mint, tamper: Tamper) -> FastAPI:
    """The real mint API, with every JSON answer passed through `tamper(path, body)`."""
    app = create_app(mint)

    @app.middleware("http")
    async def rewrite(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response = await call_next(request)
        body = b"".join([chunk async for chunk in response.body_iterator])  # type: ignore[attr-defined]
        changed = tamper(request.url.path, json.loads(body))
        if isinstance(changed, Response):
            return changed
        return JSONResponse(changed, status_code=response.status_code)

    return app


@pytest.fixture
def bad_mint(tmp_path: Path) -> Iterator[Callable[[Tamper], str]]:
    """Start a misbehaving mint on a free port: `bad_mint(tamper)` returns its URL."""
    mint = Mint.open(tmp_path / "mint")
    servers: list[tuple[asyncio.AbstractEventLoop, asyncio.Event, threading.Thread]] = []

    def start(tamper: Tamper) -> str:
        port, loop, stop = free_port(), asyncio.new_event_loop(), asyncio.Event()
        thread = threading.Thread(
            target=loop.run_until_complete,
            args=(serve_app(tampering_app(mint, tamper), "127.0.0.1", port, stop),),
        )
        thread.start()
        servers.append((loop, stop, thread))
        for _ in range(200):
            if port_open(port):
                return f"http://127.0.0.1:{port}"
            threading.Event().wait(0.025)
        raise AssertionError("mint did not start")

    yield start
    for loop, stop, thread in servers:
        loop.call_soon_threadsafe(stop.set)
        thread.join(10)
        loop.close()
    mint.close()


async def test_a_mint_whose_keys_do_not_hash_to_its_keyset_id_is_refused(
    bad_mint: Callable[[Tamper], str], tmp_path: Path
) -> None:
    other = derive_keyset(b"\x99" * 32, "sat", 0).public_json()["keys"]

    def lie(path: str, body: dict) -> dict:  # type: ignore[type-arg]
        if path.startswith("/v1/keys/"):
            body["keysets"][0]["keys"] = other
        return body

    wallet = Wallet.open(tmp_path / "w", mint_url=bad_mint(lie))
    try:
        with pytest.raises(WalletError, match="lies about its keys"):
            await wallet.invoice(10)
        assert wallet.balance().sats == 0
    finally:
        wallet.close()


async def test_signatures_failing_dleq_are_kept_as_evidence(
    bad_mint: Callable[[Tamper], str], tmp_path: Path
) -> None:
    def forge(path: str, body: dict) -> dict:  # type: ignore[type-arg]
        if path == "/v1/mint/bolt11":
            first = body["signatures"][0]["dleq"]
            first["s"] = f"{(int(first['s'], 16) + 1) % 2**256:064x}"
        return body

    wallet = Wallet.open(tmp_path / "w", mint_url=bad_mint(forge))
    try:
        with pytest.raises(DleqFailure, match="1 signatures of the mint's mint answer fail"):
            await wallet.invoice(7)  # 1 + 2 + 4: the proof of 1 is forged
        assert wallet.balance().sats == 6
        [evidence] = wallet.store.dleq_failures()
        assert evidence["context"] == "mint" and evidence["amount"] == 1 and len(evidence["secret"]) == 64
    finally:
        wallet.close()


async def test_answers_that_are_not_the_protocol_are_errors(
    bad_mint: Callable[[Tamper], str], tmp_path: Path
) -> None:
    def garble(path: str, body: dict) -> dict | Response:  # type: ignore[type-arg]
        if path == "/v1/mint/quote/bolt11":
            return PlainTextResponse("<html>proxy error</html>", status_code=502)
        if path == "/v1/mining/keysets":
            return JSONResponse({"keysets": [{"id": "01" + "00" * 32, "epoch": "seven", "status": "open"}]})
        return body

    wallet = Wallet.open(tmp_path / "w", mint_url=bad_mint(garble))
    try:
        with pytest.raises(BadMintAnswer, match="answered HTTP 502.*is http://127.0.0.1:\\d+ a nutx mint"):
            await wallet.invoice(7)
        with pytest.raises(BadMintAnswer, match="the mint's ehash keyset has a bad 'epoch': 'seven'"):
            await wallet.refresh_epochs()
    finally:
        wallet.close()
