"""Who may use an admin listener (DESIGN §5): the pool's and the proxy's stats say who mines what.

A web page the operator opens can reach a loopback port as well as any local program can: a cross-site
request or websocket carries the page's `Origin`, and a DNS-rebinding page names its own domain in
`Host`. So every request and websocket must name this listener in `Host` (a loopback name, the address
it was reached on, or the configured `--admin-host`), carry no `Origin` or this listener's own, and, when
a token is set (required off loopback), `Authorization: Bearer TOKEN`. Refusals are 403 (Host, Origin)
or 401 (token), with a one-line reason and nothing else.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from nutx_cli.errors import NutxError

TOKEN_ENV = "NUTX_ADMIN_TOKEN"
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
AsgiApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def is_loopback(host: str) -> bool:
    """True for `localhost` and loopback IP literals (127.0.0.0/8, ::1)."""
    name = host.strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _hostname(authority: str) -> str | None:
    """The host part of a `Host` value or an origin's netloc, lower case, IPv6 without brackets."""
    try:
        return urlsplit("//" + authority).hostname
    except ValueError:
        return None


@dataclass(frozen=True)
class AdminAccess:
    """Where an admin listener binds and the token it demands (None: no token, loopback only)."""

    host: str
    token: str | None = None

    def __post_init__(self) -> None:
        if self.token is not None and not self.token.strip():
            raise NutxError("--admin-token is empty; pass a long random string, or leave it out on loopback")
        if self.token is None and not is_loopback(self.host):
            raise NutxError(
                f"--admin-host {self.host} is not a loopback address: anyone who reaches it could read the "
                f"admin stats; pass --admin-token TOKEN (or set admin-token in the config, or {TOKEN_ENV})"
            )

    def refusal(
        self, headers: list[tuple[bytes, bytes]], local_address: str | None
    ) -> tuple[int, str] | None:
        """(status, reason) if a request with these headers, reached on `local_address`, is refused."""
        values: dict[bytes, list[str]] = {}
        for name, value in headers:
            values.setdefault(name.lower(), []).append(value.decode("latin-1"))
        hosts, origins = values.get(b"host", []), values.get(b"origin", [])
        if len(hosts) != 1 or _hostname(hosts[0]) not in self._own_names(local_address):
            return 403, "this admin listener answers only requests addressed to it (Host)"
        if len(origins) > 1 or (origins and origins[0].lower() not in _own_origins(hosts[0])):
            return 403, "cross-origin requests to the admin listener are refused (Origin)"
        if self.token is not None and not self._authorized(values.get(b"authorization", [])):
            return 401, "the admin listener needs Authorization: Bearer TOKEN (the --admin-token)"
        return None

    def _own_names(self, local_address: str | None) -> set[str]:
        names = {*LOOPBACK_NAMES, self.host.strip("[]").lower()}
        if local_address:
            names.add(local_address.lower())
        return names

    def _authorized(self, authorizations: list[str]) -> bool:
        assert self.token is not None
        if len(authorizations) != 1:
            return False
        scheme, _, credentials = authorizations[0].partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            credentials.strip().encode(), self.token.encode()
        )


def _own_origins(host: str) -> set[str]:
    """Origins of pages this listener itself would serve (it serves none; a same-origin one is harmless)."""
    return {f"http://{host.lower()}", f"https://{host.lower()}"}


class AdminGuard:
    """ASGI middleware that applies an `AdminAccess` to every HTTP request and websocket of `app`."""

    def __init__(self, app: AsgiApp, access: AdminAccess) -> None:
        self.app = app
        self.access = access

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        server = scope.get("server")
        refused = self.access.refusal(scope.get("headers", []), server[0] if server else None)
        if refused is None:
            await self.app(scope, receive, send)
            return
        status, reason = refused
        headers = [(b"content-type", b"text/plain; charset=utf-8")]
        if status == 401:
            headers.append((b"www-authenticate", b"Bearer"))
        if scope["type"] == "http":
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": reason.encode()})
        elif "websocket.http.response" in scope.get("extensions", {}):
            await send({"type": "websocket.http.response.start", "status": status, "headers": headers})
            await send({"type": "websocket.http.response.body", "body": reason.encode()})
        else:
            await send({"type": "websocket.close", "code": 1008})  # the server answers 403
