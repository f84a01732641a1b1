"""NUT-17 websocket messages (JSON-RPC 2.0), sans-IO: text in, requests or errors out; the answers as dicts.

A wallet subscribes to a `kind` with `filters` under its own `subId` and unsubscribes by `subId`. The
kinds are NUT-17's `bolt11_mint_quote`, `bolt11_melt_quote` (filters: quote ids) and `proof_state`
(filters: Ys), plus nutx's `ehash_epoch` (filters: epoch numbers, payload: the EPOCH JSON). Filters
are brought to one spelling here (a Y as lowercase compressed hex, an epoch as its decimal number) so
they match what the mint publishes. `Subscriptions` is one socket's book of subscriptions, bounded.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from typing import Any

from nutx_cli.core.bdhke import CryptoError, parse_point
from nutx_cli.core.vocabulary import MAX_PER_REQUEST
from nutx_cli.errors import NutxError

MAX_SUBSCRIPTIONS = 100
"""Subscriptions one socket may hold at once."""
MAX_FILTERS = 2 * MAX_PER_REQUEST
"""Filters over all of one socket's subscriptions (one subscription holds at most MAX_PER_REQUEST)."""
MAX_ID_LENGTH = 256
"""Longest subId or quote id accepted."""


class SubscriptionKind(StrEnum):
    BOLT11_MINT_QUOTE = "bolt11_mint_quote"
    BOLT11_MELT_QUOTE = "bolt11_melt_quote"
    PROOF_STATE = "proof_state"
    EHASH_EPOCH = "ehash_epoch"


class RpcCode(IntEnum):
    """JSON-RPC 2.0 error codes."""

    PARSE_ERROR = -32700
    INVALID_REQUEST = -32600
    METHOD_NOT_FOUND = -32601
    INVALID_PARAMS = -32602


class RpcError(NutxError):
    """A request the socket answers with a JSON-RPC error (`id` None when it could not be read)."""

    def __init__(self, code: RpcCode, message: str, request_id: int | str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.request_id = request_id

    def to_json(self) -> dict[str, Any]:
        return error(self.request_id, self.code, self.message)


@dataclass(frozen=True, slots=True)
class Subscribe:
    id: int | str
    kind: SubscriptionKind
    sub_id: str
    filters: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Unsubscribe:
    id: int | str
    sub_id: str


def _filter(kind: SubscriptionKind, value: Any) -> str:
    """One filter in the spelling the mint publishes under."""
    if not isinstance(value, str) or not value:
        raise ValueError("filters must be non-empty strings")
    if kind == SubscriptionKind.PROOF_STATE:
        try:
            return parse_point(value).format().hex()
        except CryptoError as exc:
            raise ValueError(f"a proof_state filter must be a Y (compressed point hex): {exc}") from None
    if kind == SubscriptionKind.EHASH_EPOCH:
        if not (value.isascii() and value.isdecimal()):
            raise ValueError(f"an ehash_epoch filter must be an epoch number, got {value[:40]!r}")
        return str(int(value))
    if len(value) > MAX_ID_LENGTH:
        raise ValueError(f"a quote id is at most {MAX_ID_LENGTH} characters")
    return value


def _sub_id(params: dict[str, Any]) -> str:
    sub_id = params.get("subId")
    if not isinstance(sub_id, str) or not 0 < len(sub_id) <= MAX_ID_LENGTH:
        raise ValueError(f"'subId' must be a string of 1 to {MAX_ID_LENGTH} characters")
    return sub_id


def parse_request(text: str) -> Subscribe | Unsubscribe:
    """A wallet's message; RpcError with the JSON-RPC code for anything else."""
    try:
        message = json.loads(text)
    except ValueError:
        raise RpcError(RpcCode.PARSE_ERROR, "not JSON") from None
    if not isinstance(message, dict):
        raise RpcError(RpcCode.INVALID_REQUEST, "a request is a JSON object")
    request_id = message.get("id")
    if isinstance(request_id, bool) or not isinstance(request_id, (int, str)):
        raise RpcError(RpcCode.INVALID_REQUEST, "'id' must be an integer")
    if message.get("jsonrpc") != "2.0":
        raise RpcError(RpcCode.INVALID_REQUEST, "'jsonrpc' must be \"2.0\"", request_id)
    method, params = message.get("method"), message.get("params")
    if method not in ("subscribe", "unsubscribe"):
        raise RpcError(RpcCode.METHOD_NOT_FOUND, f"no method {str(method)[:40]!r}", request_id)
    if not isinstance(params, dict):
        raise RpcError(RpcCode.INVALID_PARAMS, "'params' must be an object", request_id)
    try:
        if method == "unsubscribe":
            return Unsubscribe(request_id, _sub_id(params))
        try:
            kind = SubscriptionKind(str(params.get("kind")))
        except ValueError:
            known = ", ".join(k.value for k in SubscriptionKind)
            raise ValueError(f"unknown kind {str(params.get('kind'))[:40]!r} (known: {known})") from None
        filters = params.get("filters")
        if not isinstance(filters, list) or not filters:
            raise ValueError("'filters' must be a non-empty list")
        if len(filters) > MAX_PER_REQUEST:
            raise ValueError(f"at most {MAX_PER_REQUEST} filters per subscription")
        normal = tuple(dict.fromkeys(_filter(kind, f) for f in filters))
        return Subscribe(request_id, kind, _sub_id(params), normal)
    except ValueError as exc:
        raise RpcError(RpcCode.INVALID_PARAMS, str(exc), request_id) from None


def result(request_id: int | str, sub_id: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "result": {"status": "OK", "subId": sub_id}, "id": request_id}


def error(request_id: int | str | None, code: RpcCode, message: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "error": {"code": int(code), "message": message}, "id": request_id}


def notification(sub_id: str, payload: dict[str, Any]) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "method": "subscribe", "params": {"subId": sub_id, "payload": payload}}


class Subscriptions:
    """One socket's subscriptions by subId, at most MAX_SUBSCRIPTIONS holding MAX_FILTERS filters in all."""

    def __init__(self) -> None:
        self._by_id: dict[str, Subscribe] = {}

    def add(self, sub: Subscribe) -> None:
        if sub.sub_id in self._by_id:
            raise RpcError(RpcCode.INVALID_PARAMS, f"subId {sub.sub_id!r} is already subscribed", sub.id)
        if len(self._by_id) >= MAX_SUBSCRIPTIONS:
            raise RpcError(
                RpcCode.INVALID_PARAMS, f"at most {MAX_SUBSCRIPTIONS} subscriptions per socket", sub.id
            )
        if sum(len(s.filters) for s in self._by_id.values()) + len(sub.filters) > MAX_FILTERS:
            raise RpcError(RpcCode.INVALID_PARAMS, f"at most {MAX_FILTERS} filters per socket", sub.id)
        self._by_id[sub.sub_id] = sub

    def remove(self, request: Unsubscribe) -> Subscribe:
        sub = self._by_id.pop(request.sub_id, None)
        if sub is None:
            raise RpcError(RpcCode.INVALID_PARAMS, f"no subscription {request.sub_id!r}", request.id)
        return sub

    def __len__(self) -> int:
        return len(self._by_id)
