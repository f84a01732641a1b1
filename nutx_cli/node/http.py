"""bitcoind's JSON-RPC over HTTP/1.1 (keep-alive, basic auth, body-size limit), on asyncio + h11.

The transport rules follow bitcoind's httprpc.cpp: only POST, 401 with `WWW-Authenticate` on bad
credentials (after a short delay), 413 for bodies over the limit, legacy (1.0/1.1) replies carry
HTTP 500/404/400 on errors while JSON-RPC 2.0 replies are always 200.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import json
import logging
from typing import Any

import h11

from nutx_cli.node.rpc import (
    RPC_INVALID_REQUEST,
    RPC_METHOD_NOT_FOUND,
    RPC_PARSE_ERROR,
    NodeRpc,
    RpcError,
)

log = logging.getLogger("nutx.node.http")

MAX_BODY = 32 * 1024 * 1024
"""bitcoind's MAX_SIZE for an HTTP request body."""
MAX_HEADER = 8 * 1024
BAD_AUTH_DELAY = 0.25
READ_CHUNK = 64 * 1024
DISCARD_TIMEOUT = 5.0


class _Abort(Exception):
    """Reply with `status` and close the connection."""

    def __init__(
        self, status: int, body: bytes = b"", headers: list[tuple[bytes, bytes]] | None = None
    ) -> None:
        self.status = status
        self.body = body
        self.headers = headers or []


def _status_for(code: int) -> int:
    return {RPC_INVALID_REQUEST: 400, RPC_METHOD_NOT_FOUND: 404}.get(code, 500)


class RpcHttpServer:
    """Serves `NodeRpc` to any number of keep-alive clients; `close()` ends them all."""

    def __init__(self, rpc: NodeRpc, credentials: list[str], max_body: int = MAX_BODY) -> None:
        self._rpc = rpc
        self._credentials = [c.encode() for c in credentials]
        self._max_body = max_body
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()

    async def start(self, host: str, port: int) -> int:
        self._server = await asyncio.start_server(self._on_connect, host, port, limit=READ_CHUNK)
        return int(self._server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    async def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            await self._serve(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, h11.ProtocolError) as exc:
            log.debug("rpc connection dropped: %s", exc)
        except asyncio.CancelledError:
            pass  # close() ends open connections (idle keep-alives, long-polls) this way
        finally:
            self._connections.discard(task)
            writer.close()

    async def _next_event(self, conn: h11.Connection, reader: asyncio.StreamReader) -> Any:
        while True:
            event = conn.next_event()
            if event is not h11.NEED_DATA:
                return event
            conn.receive_data(await reader.read(READ_CHUNK))

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEADER)
        while True:
            try:
                event = await self._next_event(conn, reader)
            except h11.RemoteProtocolError:
                await self._send(conn, writer, 400, b"", [])
                return
            if isinstance(event, h11.ConnectionClosed) or event is h11.PAUSED:
                return
            if not isinstance(event, h11.Request):
                return
            try:
                body = await self._read_body(conn, reader, event)
                status, payload = await self._handle(body)
                await self._send(conn, writer, status, payload, [(b"Content-Type", b"application/json")])
            except _Abort as abort:
                await self._send(conn, writer, abort.status, abort.body, abort.headers, close=True)
                await self._discard_input(reader)
                return
            if conn.our_state is h11.MUST_CLOSE or conn.their_state is h11.MUST_CLOSE:
                return
            conn.start_next_cycle()

    async def _read_body(
        self, conn: h11.Connection, reader: asyncio.StreamReader, request: h11.Request
    ) -> bytes:
        headers = {k.lower(): v for k, v in request.headers}
        if request.method != b"POST":
            raise _Abort(405, b"JSONRPC server handles only POST requests")
        if not self._authorized(headers.get(b"authorization", b"")):
            await asyncio.sleep(BAD_AUTH_DELAY)
            raise _Abort(401, b"", [(b"WWW-Authenticate", b'Basic realm="jsonrpc"')])
        length = headers.get(b"content-length")
        if length is not None and int(length) > self._max_body:
            raise _Abort(413, b"")
        chunks, size = [], 0
        while True:
            event = await self._next_event(conn, reader)
            if isinstance(event, h11.Data):
                size += len(event.data)
                if size > self._max_body:
                    raise _Abort(413, b"")
                chunks.append(event.data)
            elif isinstance(event, h11.EndOfMessage):
                return b"".join(chunks)
            else:
                raise _Abort(400, b"")

    @staticmethod
    async def _discard_input(reader: asyncio.StreamReader) -> None:
        """Read what the client is still sending so it gets to read our error reply, then close."""
        try:
            async with asyncio.timeout(DISCARD_TIMEOUT):
                while await reader.read(READ_CHUNK):
                    pass
        except (TimeoutError, ConnectionError):
            pass

    def _authorized(self, header: bytes) -> bool:
        scheme, _, encoded = header.partition(b" ")
        if scheme.lower() != b"basic":
            return False
        try:
            given = base64.b64decode(encoded.strip(), validate=True)
        except ValueError:
            return False
        return any(hmac.compare_digest(given, c) for c in self._credentials)

    async def _send(
        self,
        conn: h11.Connection,
        writer: asyncio.StreamWriter,
        status: int,
        body: bytes,
        headers: list[tuple[bytes, bytes]],
        close: bool = False,
    ) -> None:
        all_headers = [*headers, (b"Content-Length", str(len(body)).encode())]
        if close:
            all_headers.append((b"Connection", b"close"))
        data = conn.send(h11.Response(status_code=status, headers=all_headers))
        if body:
            data = (data or b"") + (conn.send(h11.Data(data=body)) or b"")
        data = (data or b"") + (conn.send(h11.EndOfMessage()) or b"")
        writer.write(data)
        await writer.drain()

    async def _handle(self, body: bytes) -> tuple[int, bytes]:
        try:
            request = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            error = RpcError(RPC_PARSE_ERROR, "Parse error")
            return 500, self._encode({"result": None, "error": error.to_json(), "id": None})
        if isinstance(request, list):
            replies = [(await self._call(item))[1] for item in request]
            return 200, self._encode(replies)
        if not isinstance(request, dict):
            error = RpcError(RPC_PARSE_ERROR, "Top-level object parse error")
            return 500, self._encode({"result": None, "error": error.to_json(), "id": None})
        status, reply = await self._call(request)
        return status, self._encode(reply)

    async def _call(self, request: Any) -> tuple[int, dict[str, Any]]:
        """One request object → (HTTP status, reply object)."""
        if not isinstance(request, dict):
            error = RpcError(RPC_INVALID_REQUEST, "Invalid Request object")
            return 400, {"result": None, "error": error.to_json(), "id": None}
        v2 = request.get("jsonrpc") == "2.0"
        rid = request.get("id")
        try:
            method = request.get("method")
            if not isinstance(method, str):
                raise RpcError(RPC_INVALID_REQUEST, "Method must be a string")
            params = request.get("params", [])
            if params is None:
                params = []
            if not isinstance(params, list | dict):
                raise RpcError(RPC_INVALID_REQUEST, "Params must be an array or object")
            result = await self._rpc.dispatch(method, params)
        except RpcError as error:
            if v2:
                return 200, {"jsonrpc": "2.0", "error": error.to_json(), "id": rid}
            return _status_for(error.code), {"result": None, "error": error.to_json(), "id": rid}
        except Exception as exc:  # a bug must not take the node down: report it like bitcoind's -1
            log.exception("rpc %s failed", request.get("method"))
            internal = RpcError(-1, f"internal error: {exc}")
            if v2:
                return 200, {"jsonrpc": "2.0", "error": internal.to_json(), "id": rid}
            return 500, {"result": None, "error": internal.to_json(), "id": rid}
        if v2:
            return 200, {"jsonrpc": "2.0", "result": result, "id": rid}
        return 200, {"result": result, "error": None, "id": rid}

    @staticmethod
    def _encode(reply: Any) -> bytes:
        return (json.dumps(reply) + "\n").encode()
