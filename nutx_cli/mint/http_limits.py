"""Limits on the mint's public HTTP API: a request body cap (413) and a per-IP rate limit (429).

Both refusals carry the Cashu error body `{"detail", "code"}`. Nutshell answers its rate limit with 429
`{"detail": "Rate limit exceeded."}` and no code (a CDK wallet then reports code 999, unknown); CDK's
mintd caps bodies at 1 MiB with a plain-text 413. Here both have a code of the project range, numbered
after their HTTP status so they never collide with a NUT's: `rate-limited` 41429 and `request-too-large`
41413. A 429 also says `Retry-After` (whole seconds).

Rate-limited are the POSTs under /v1/swap, /v1/mint/, /v1/melt/ and /v1/mining/: each one signs, verifies
proofs or asks Lightning. Reads (GET), /v1/checkstate and /v1/restore are lookups and stay unlimited, so a
wallet's restore scan is never throttled. The peer address is the client uvicorn reports: a reverse proxy
on loopback that sets X-Forwarded-For is honoured (uvicorn's default `forwarded_allow_ips`).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, MutableMapping
from typing import Any

from nutx_cli.admin_access import AsgiApp, Receive, Scope, Send
from nutx_cli.core.limits import HttpLimits, PerIpBuckets
from nutx_cli.mint.errors import MintError

COSTLY_PREFIXES = ("/v1/swap", "/v1/mint/", "/v1/melt/", "/v1/mining/")
_WITH_BODY = frozenset({"POST", "PUT", "PATCH"})


def is_costly(scope: Scope) -> bool:
    """A request that makes the mint work (signatures, proof checks, Lightning)."""
    return scope.get("method") == "POST" and str(scope.get("path", "")).startswith(COSTLY_PREFIXES)


class HttpLimitsGuard:
    """ASGI middleware applying `HttpLimits` to every HTTP request of `app`; `clock` is monotonic seconds."""

    def __init__(self, app: AsgiApp, limits: HttpLimits, clock: Callable[[], float] = time.monotonic) -> None:
        self.app = app
        self.limits = limits
        self.clock = clock
        self.rates = PerIpBuckets(limits.requests_per_minute / 60, limits.request_burst)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if is_costly(scope):
            client = scope.get("client")
            wait = self.rates.take(str(client[0]) if client else "", self.clock())
            if wait is not None:
                retry = max(1, math.ceil(wait))
                error = MintError(
                    "rate-limited",
                    f"rate limit exceeded: at most {self.limits.requests_per_minute:g} requests a minute "
                    f"from one address; retry in {retry} s",
                )
                await _answer(send, 429, error, [(b"retry-after", str(retry).encode())])
                return
        cap = self.limits.max_body_bytes
        if cap <= 0 or scope.get("method") not in _WITH_BODY:
            await self.app(scope, receive, send)
            return
        too_large = MintError("request-too-large", f"the request body is over {cap} bytes")
        if _declared_length(scope) > cap:
            await _answer(send, 413, too_large)
            return
        body = await _read_body(receive, cap)
        if body is None:
            await _answer(send, 413, too_large)
            return
        await self.app(scope, _replay(body, receive), send)


def _declared_length(scope: Scope) -> int:
    for name, value in scope.get("headers", []):
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return 0  # the server's HTTP parser refuses it before we get here
    return 0


async def _read_body(receive: Receive, cap: int) -> bytes | None:
    """The whole body, or None as soon as it runs past `cap` bytes (a chunked body declares no length)."""
    parts: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(parts)  # the client went away; the app sees an empty or partial body
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > cap:
            return None
        parts.append(chunk)
        if not message.get("more_body", False):
            return b"".join(parts)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that hands the app the body read already, then whatever the client sends next."""
    sent = False

    async def replay() -> MutableMapping[str, Any]:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


async def _answer(
    send: Send, status: int, error: MintError, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    body = json.dumps(error.to_json()).encode()
    start_headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": start_headers + (headers or [])})
    await send({"type": "http.response.body", "body": body})
