"""The HTTP ground under the REST backends (LNbits, LND): JSON in and out, and failures sorted by what
they mean for a payment.

A request that never left (connection refused, name not found, TLS refused) is `LightningUnavailable`:
nothing was paid. Once a request may have reached the node (a timeout, a connection cut mid-answer), its
outcome is unknown; `send` leaves that to the caller, who answers PENDING for a payment.
"""

from __future__ import annotations

import json
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from nutx_cli.mint.lightning import LightningError, LightningUnavailable

NEVER_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.UnsupportedProtocol, httpx.InvalidURL)
"""httpx failures raised before a request's bytes reached the server."""


class RestClient:
    """One backend's REST endpoint with the headers every request carries."""

    def __init__(
        self,
        name: str,
        base_url: str,
        headers: dict[str, str],
        timeout_s: float,
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        self.name = name
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout_s, verify=verify)

    def send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """The response, or LightningUnavailable if the request surely never reached the server; other
        httpx errors (the request may have arrived) are the caller's to judge."""
        try:
            return self._http.request(method, path, **kwargs)
        except NEVER_SENT as exc:
            raise LightningUnavailable(f"cannot reach {self.name} at {self.base_url}: {exc}") from None

    @contextmanager
    def stream(self, method: str, path: str, **kwargs: Any) -> Iterator[httpx.Response]:
        """A streamed response (read it inside the block); LightningUnavailable as for `send`."""
        try:
            with self._http.stream(method, path, **kwargs) as response:
                yield response
        except NEVER_SENT as exc:
            raise LightningUnavailable(f"cannot reach {self.name} at {self.base_url}: {exc}") from None

    def call(self, method: str, path: str, *, allow: tuple[int, ...] = (), **kwargs: Any) -> tuple[int, Any]:
        """(status, JSON body) of a request whose failure costs nothing (not a payment); any transport
        failure or an error status not in `allow` is LightningUnavailable."""
        try:
            response = self.send(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise LightningUnavailable(f"{self.name} at {self.base_url} did not answer: {exc}") from None
        body = json_body(response)
        if response.status_code >= 400 and response.status_code not in allow:
            raise LightningUnavailable(
                f"{self.name} refused {method} {path}: HTTP {response.status_code} {error_detail(body)}"
            )
        return response.status_code, body

    def close(self) -> None:
        self._http.close()


def json_body(response: httpx.Response) -> Any:
    """The response's JSON (None for an empty body); LightningError if it is something else."""
    if not response.content:
        return None
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise LightningError(
            f"HTTP {response.status_code} with a body that is not JSON: {response.text[:120]!r}"
        ) from None


def error_detail(body: Any) -> str:
    """The message an error body carries (LNbits `detail`, LND `message`/`error`), shortened."""
    if isinstance(body, dict):
        for key in ("detail", "message", "error"):
            value = body.get(key)
            if isinstance(value, dict):
                value = value.get("message")
            if value:
                return str(value)[:200]
    return str(body)[:200]


def field(obj: Any, key: str, kind: type, what: str) -> Any:
    """`obj[key]` if obj is a JSON object and the value has the type; LightningError naming `what` else."""
    value = obj.get(key) if isinstance(obj, dict) else None
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise LightningError(f"{what}: expected {key!r} as {kind.__name__}, got {obj!r:.200}")
    return value
