"""The mint's public Cashu HTTP API (DESIGN §5, spec/cashu.md) as a FastAPI app.

Handlers are plain functions (FastAPI runs them in worker threads) that parse the JSON with the
core models and call the Mint. Every refusal is HTTP 400 `{"detail", "code"}`; a body that is not
the expected JSON object is `malformed-request`. `/v1/ws` is the NUT-17 websocket (`mint.ws`). Mint,
swap, melt and redeem answer a repeated identical request with the stored answer (NUT-19, `mint.cached`).
The listener's limits (`http_limits`: 413 for a body over the cap, 429 past the per-IP rate) come before
any of that.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import uvicorn
from fastapi import Body, FastAPI, Request, WebSocket
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response

from nutx_cli import __version__
from nutx_cli.core.bdhke import CryptoError
from nutx_cli.core.limits import HttpLimits
from nutx_cli.core.models import BlindedMessage, ModelError, Proof
from nutx_cli.errors import NutxError
from nutx_cli.mint.cached import request_key
from nutx_cli.mint.errors import MintError, check_request_size
from nutx_cli.mint.http_limits import HttpLimitsGuard
from nutx_cli.mint.service import Mint
from nutx_cli.mint.ws import serve_socket
from nutx_cli.sqlite_store import StoreError

T = TypeVar("T")


def _list(body: dict[str, Any], key: str, too_many: str, *, required: bool = True) -> list[Any]:
    value = body.get(key)
    if value is None and not required:
        return []
    if not isinstance(value, list):
        raise MintError("malformed-request", f"{key!r} must be a list")
    check_request_size(len(value), key, too_many)
    return value


def _parse(items: list[Any], parse: Callable[[Any], T], bad_point: str, what: str) -> list[T]:
    out = []
    for i, item in enumerate(items):
        try:
            out.append(parse(item))
        except CryptoError as exc:
            raise MintError(bad_point, f"{what} {i}: {exc}") from None
        except ModelError as exc:
            raise MintError("malformed-request", f"{what} {i}: {exc}") from None
    return out


def parse_inputs(body: dict[str, Any]) -> list[Proof]:
    return _parse(_list(body, "inputs", "too-many-proofs"), Proof.from_json, "proof-invalid", "input")


def parse_outputs(
    body: dict[str, Any], *, required: bool = True, allow_zero: bool = False
) -> list[BlindedMessage]:
    items = _list(body, "outputs", "too-many-outputs", required=required)
    return _parse(
        items,
        lambda d: BlindedMessage.from_json(d, allow_zero=allow_zero),
        "invalid-blinded-message",
        "output",
    )


def _str(body: dict[str, Any], key: str, *, required: bool = True) -> Any:
    value = body.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise MintError("malformed-request", f"{key!r} must be a string")
    return value


def _int(body: dict[str, Any], key: str) -> int:
    value = body.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise MintError("malformed-request", f"{key!r} must be an integer")
    return value


def create_app(mint: Mint, limits: HttpLimits = HttpLimits()) -> FastAPI:
    """The public mint API under `limits`; the pool mounts this same app on its HTTP port."""
    app = FastAPI(title="nutx mint", version=__version__, docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(HttpLimitsGuard, limits=limits)

    @app.exception_handler(MintError)
    async def mint_error(_: Request, exc: MintError) -> JSONResponse:
        return JSONResponse(exc.to_json(), status_code=400)

    @app.exception_handler(StoreError)
    async def store_error(_: Request, exc: StoreError) -> JSONResponse:
        return JSONResponse({"detail": f"the mint's database failed: {exc}"}, status_code=500)

    @app.exception_handler(NutxError)
    async def other_error(_: Request, exc: NutxError) -> JSONResponse:
        return JSONResponse(MintError("malformed-request", str(exc)).to_json(), status_code=400)

    @app.exception_handler(RequestValidationError)
    async def bad_body(_: Request, exc: RequestValidationError) -> JSONResponse:
        detail = "; ".join(str(e.get("msg")) for e in exc.errors()) or "malformed request"
        return JSONResponse(MintError("malformed-request", detail).to_json(), status_code=400)

    @app.get("/v1/info")
    def info() -> dict[str, Any]:
        return mint.info_json()

    @app.websocket("/v1/ws")
    async def ws(websocket: WebSocket) -> None:
        await serve_socket(websocket, mint)

    @app.get("/v1/keys")
    def keys() -> dict[str, Any]:
        return mint.keys_json()

    @app.get("/v1/keys/{keyset_id}")
    def keys_of(keyset_id: str) -> dict[str, Any]:
        return mint.keys_json(keyset_id.lower())

    @app.get("/v1/keysets")
    def keysets() -> dict[str, Any]:
        return mint.keysets_json()

    def cached_post(path: str) -> Callable[[Callable[[dict[str, Any]], dict[str, Any]]], None]:
        """Register `POST path` so that an identical request gets the stored answer (NUT-19)."""

        def register(handle: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
            @app.post(path)
            def endpoint(body: dict[str, Any] = Body(...)) -> Response:
                key, now = request_key("POST", path, body), int(time.time())
                answer = mint.responses.get(key, now)
                if answer is None:
                    answer = json.dumps(handle(body), separators=(",", ":"), ensure_ascii=False)
                    mint.responses.put(key, answer, now)
                return Response(answer, media_type="application/json")

        return register

    @cached_post("/v1/swap")
    def swap(body: dict[str, Any]) -> dict[str, Any]:
        signatures = mint.swap(parse_inputs(body), parse_outputs(body))
        return {"signatures": [s.to_json() for s in signatures]}

    @app.post("/v1/checkstate")
    def checkstate(body: dict[str, Any] = Body(...)) -> dict[str, Any]:
        ys = _list(body, "Ys", "too-many-proofs")
        if not all(isinstance(y, str) for y in ys):
            raise MintError("malformed-request", "'Ys' must be hex strings")
        return {"states": mint.check_state(ys)}

    @app.post("/v1/restore")
    def restore(body: dict[str, Any] = Body(...)) -> dict[str, Any]:
        outputs, signatures = mint.restore(parse_outputs(body))
        return {"outputs": [o.to_json() for o in outputs], "signatures": [s.to_json() for s in signatures]}

    @app.post("/v1/mint/quote/bolt11")
    def mint_quote(body: dict[str, Any] = Body(...)) -> dict[str, Any]:
        return mint.create_mint_quote(
            _int(body, "amount"),
            _str(body, "unit"),
            _str(body, "description", required=False),
            _str(body, "pubkey", required=False),
        )

    @app.get("/v1/mint/quote/bolt11/{quote}")
    def mint_quote_state(quote: str) -> dict[str, Any]:
        return mint.mint_quote(quote)

    @cached_post("/v1/mint/bolt11")
    def mint_tokens(body: dict[str, Any]) -> dict[str, Any]:
        signatures = mint.mint(
            _str(body, "quote"), parse_outputs(body), _str(body, "signature", required=False)
        )
        return {"signatures": [s.to_json() for s in signatures]}

    @app.post("/v1/melt/quote/bolt11")
    def melt_quote(body: dict[str, Any] = Body(...)) -> dict[str, Any]:
        if body.get("options"):
            raise MintError("amountless-invoice", "melt options (amountless invoices) are not supported")
        return mint.create_melt_quote(_str(body, "request"), _str(body, "unit"))

    @app.get("/v1/melt/quote/bolt11/{quote}")
    def melt_quote_state(quote: str) -> dict[str, Any]:
        return mint.melt_quote(quote)

    @cached_post("/v1/melt/bolt11")
    def melt(body: dict[str, Any]) -> dict[str, Any]:
        outputs = parse_outputs(body, required=False, allow_zero=True)
        return mint.melt(_str(body, "quote"), parse_inputs(body), outputs)

    @app.get("/v1/mining/epochs")
    def epochs() -> dict[str, Any]:
        return {"epochs": [e.to_json() for e in mint.epochs()]}

    @app.get("/v1/mining/epochs/{epoch}")
    def epoch(epoch: int) -> dict[str, Any]:
        return mint.epoch(epoch).to_json()

    @app.get("/v1/mining/keysets")
    def mining_keysets() -> dict[str, Any]:
        return mint.mining_keysets_json()

    @app.get("/v1/mining/claims/{pubkey}")
    def claims(pubkey: str) -> dict[str, Any]:
        return {"pubkey": pubkey.lower(), "claims": [c.to_json() for c in mint.claims(pubkey)]}

    @cached_post("/v1/mining/claim")
    def claim(body: dict[str, Any]) -> dict[str, Any]:
        signatures = mint.mint_claim(
            _str(body, "pubkey"), _int(body, "epoch"), parse_outputs(body), _str(body, "signature")
        )
        return {"signatures": [s.to_json() for s in signatures]}

    @cached_post("/v1/mining/redeem")
    def redeem(body: dict[str, Any]) -> dict[str, Any]:
        signatures = mint.redeem(parse_inputs(body), parse_outputs(body, required=False))
        return {"signatures": [s.to_json() for s in signatures]}

    return app


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: the role's `run_until_signalled` owns SIGINT/SIGTERM."""

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def serve_app(app: FastAPI, host: str, port: int, stop: asyncio.Event) -> None:
    """Serve `app` on host:port until `stop` is set, then finish open requests and return."""
    server = _Server(
        uvicorn.Config(
            app,
            host=host,
            port=port,
            log_level="warning",
            lifespan="off",
            access_log=False,
            ws="websockets-sansio",
        )
    )
    task = asyncio.create_task(server.serve())
    stopped = asyncio.create_task(stop.wait())
    await asyncio.wait({task, stopped}, return_when=asyncio.FIRST_COMPLETED)
    server.should_exit = True
    stopped.cancel()
    await task
    if not server.started:
        raise OSError(f"the mint HTTP API could not listen on {host}:{port} (port in use?)")
