"""Stratum V1 wire format: newline-terminated JSON-RPC objects (spec/stratum.md §7.1), sans-IO.

`LineSplitter` turns received bytes into complete lines and enforces the 16 KiB line cap
(DESIGN §5) before a line is ever parsed; `parse_line` turns one line into a `Request`,
`Response` or `Notification` or raises `Sv1Error` carrying the JSON-RPC error to answer with.
Errors about the JSON-RPC envelope use the JSON-RPC 2.0 codes (-32700 …); errors about mining use
the de-facto Stratum codes 20–25 that miners display (`error[1]` is shown as the reject reason).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from nutx_cli.errors import NutxError

MAX_LINE = 16 * 1024
"""Longest accepted line in bytes, without its newline (DESIGN §5)."""

# De-facto Stratum V1 error codes (slush/Braiins, §7.1).
ERR_OTHER = 20
ERR_JOB_NOT_FOUND = 21
ERR_DUPLICATE = 22
ERR_LOW_DIFFICULTY = 23
ERR_UNAUTHORIZED = 24
ERR_NOT_SUBSCRIBED = 25
# JSON-RPC 2.0 envelope errors.
ERR_PARSE = -32700
ERR_INVALID_REQUEST = -32600
ERR_METHOD_NOT_FOUND = -32601
ERR_INVALID_PARAMS = -32602

RequestId = int | str | None


class Sv1Error(NutxError):
    """A request the proxy answers with a JSON-RPC error `[code, message, null]`."""

    def __init__(self, code: int, message: str, request_id: RequestId = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.request_id = request_id

    def response(self) -> Response:
        return error_response(self.request_id, self.code, self.message)


class LineTooLong(Sv1Error):
    """A line over MAX_LINE bytes: answered once, then the connection is closed (no resync)."""

    def __init__(self) -> None:
        super().__init__(ERR_INVALID_REQUEST, f"line longer than {MAX_LINE} bytes; connection closed")


@dataclass(frozen=True, slots=True)
class Request:
    """A call that expects a response: `id` echoes back (0 is a valid id)."""

    id: int | str
    method: str
    params: list[Any]


@dataclass(frozen=True, slots=True)
class Notification:
    """A message without an id (`"id": null`), e.g. `mining.notify` from us."""

    method: str
    params: list[Any]


@dataclass(frozen=True, slots=True)
class Response:
    id: RequestId
    result: Any
    error: list[Any] | None


Message = Request | Notification | Response


class LineSplitter:
    """Bytes in, complete lines out; refuses to buffer more than MAX_LINE bytes of one line."""

    __slots__ = ("_buf",)

    def __init__(self) -> None:
        self._buf = b""

    def feed(self, data: bytes) -> list[bytes]:
        """Complete lines in `data` (plus what was buffered), without `\\n`/`\\r\\n`; blank lines dropped.

        Raises LineTooLong as soon as a line is known to exceed the cap, even before its newline.
        """
        self._buf += data
        *lines, self._buf = self._buf.split(b"\n")
        if len(self._buf) > MAX_LINE:
            raise LineTooLong()
        out = []
        for line in lines:
            line = line.rstrip(b"\r")
            if len(line) > MAX_LINE:
                raise LineTooLong()
            if line.strip():
                out.append(line)
        return out


def _valid_id(value: Any) -> bool:
    return value is None or (isinstance(value, int | str) and not isinstance(value, bool))


def parse_line(line: bytes) -> Message:
    """One JSON-RPC object; `"jsonrpc": "2.0"` is accepted and ignored, `params` defaults to []."""
    try:
        obj = json.loads(line)
    except (ValueError, UnicodeDecodeError) as exc:
        raise Sv1Error(ERR_PARSE, f"malformed JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise Sv1Error(ERR_INVALID_REQUEST, "a message must be a JSON object")
    request_id = obj.get("id")
    if not _valid_id(request_id):
        raise Sv1Error(ERR_INVALID_REQUEST, "id must be a number, a string or null")
    method = obj.get("method")
    if method is None:
        if "result" not in obj and "error" not in obj:
            raise Sv1Error(ERR_INVALID_REQUEST, "neither a method nor a result", request_id)
        error = obj.get("error")
        return Response(request_id, obj.get("result"), error if isinstance(error, list) else None)
    if not isinstance(method, str):
        raise Sv1Error(ERR_INVALID_REQUEST, "method must be a string", request_id)
    params = obj.get("params", [])
    if params is None:
        params = []
    if not isinstance(params, list):
        raise Sv1Error(ERR_INVALID_PARAMS, f"{method}: params must be a list", request_id)
    if request_id is None:
        return Notification(method, params)
    return Request(request_id, method, params)


def encode(message: Message) -> bytes:
    """One compact JSON line with its `\\n`."""
    obj: dict[str, Any]
    if isinstance(message, Response):
        obj = {"id": message.id, "result": message.result, "error": message.error}
    elif isinstance(message, Notification):
        obj = {"id": None, "method": message.method, "params": message.params}
    else:
        obj = {"id": message.id, "method": message.method, "params": message.params}
    return json.dumps(obj, separators=(",", ":")).encode() + b"\n"


def result_response(request_id: RequestId, result: Any) -> Response:
    return Response(request_id, result, None)


def error_response(request_id: RequestId, code: int, message: str) -> Response:
    """`result: null` and `error: [code, message, null]`, the shape miners parse."""
    return Response(request_id, None, [code, message, None])
