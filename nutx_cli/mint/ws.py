"""The mint's NUT-17 websocket `/v1/ws`: per subscription, the current state of each object, then every change.

A subscription listens on the mint's `MintEvents` before it reads the current states, and holds what
arrives meanwhile until those went out, so no change between the read and the listening is lost (one
that happened just then may be told twice; a payload equal to the last one sent is not sent again). A
mint quote still UNPAID is read again every `RECHECK_S` while someone listens, since only reading it
asks the Lightning backend whether its invoice was paid (the read tells the change through MintEvents
like any other). Outgoing messages wait in a bounded queue; a client that lets it fill up is
disconnected (1008) rather than slowing the mint.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from typing import Any

from fastapi import WebSocket, WebSocketDisconnect

from nutx_cli.core.nut17 import (
    RpcCode,
    RpcError,
    Subscribe,
    SubscriptionKind,
    Subscriptions,
    Unsubscribe,
    error,
    notification,
    parse_request,
    result,
)
from nutx_cli.core.vocabulary import MintQuoteState
from nutx_cli.errors import NutxError
from nutx_cli.mint.service import Mint

QUEUE_SIZE = 10_000
"""Messages waiting for a slow client before it is disconnected."""
RECHECK_S = 1.0
"""How often an UNPAID mint quote someone listens to is read again."""


class _Feed:
    """One subscription's listener: holds changes until the current states went out, then forwards them."""

    def __init__(self, socket: _Socket, sub: Subscribe) -> None:
        self.sub = sub
        self._socket = socket
        self._held: list[tuple[str, dict[str, Any]]] | None = []

    def __call__(self, key: str, payload: dict[str, Any]) -> None:
        """From the publishing thread: over to the socket's event loop (unless it closed meanwhile)."""
        with contextlib.suppress(RuntimeError):
            self._socket.loop.call_soon_threadsafe(self._arrived, key, payload)

    def _arrived(self, key: str, payload: dict[str, Any]) -> None:
        if self._held is not None:
            self._held.append((key, payload))
        else:
            self._socket.notify(self.sub.sub_id, key, payload)

    def start(self, current: list[tuple[str, dict[str, Any]]]) -> None:
        for key, payload in [*current, *(self._held or ())]:
            self._socket.notify(self.sub.sub_id, key, payload)
        self._held = None


class _Socket:
    """One websocket: its subscriptions, what was last sent per object, the outgoing queue."""

    def __init__(self, ws: WebSocket, mint: Mint) -> None:
        self.loop = asyncio.get_running_loop()
        self._ws = ws
        self._mint = mint
        self._subs = Subscriptions()
        self._feeds: dict[str, _Feed] = {}
        self._last: dict[tuple[str, str], dict[str, Any]] = {}
        self._outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue(QUEUE_SIZE)
        self._too_slow = False

    def send(self, message: dict[str, Any]) -> None:
        try:
            self._outbox.put_nowait(message)
        except asyncio.QueueFull:
            self._too_slow = True

    def notify(self, sub_id: str, key: str, payload: dict[str, Any]) -> None:
        if self._last.get((sub_id, key)) != payload:
            self._last[(sub_id, key)] = payload
            self.send(notification(sub_id, payload))

    async def run(self) -> None:
        tasks = [asyncio.create_task(self._send_all()), asyncio.create_task(self._recheck_unpaid())]
        try:
            while (message := await self._ws.receive())["type"] != "websocket.disconnect":
                text = message.get("text")
                if text is None:
                    self.send(error(None, RpcCode.INVALID_REQUEST, "requests are JSON text messages"))
                else:
                    await self._handle(text)
        except (WebSocketDisconnect, RuntimeError, OSError):
            pass
        finally:
            for feed in self._feeds.values():
                self._mint.events.forget(feed.sub.kind, feed.sub.filters, feed)
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, RuntimeError, OSError):
                    await task

    async def _send_all(self) -> None:
        while True:
            message = await self._outbox.get()
            if self._too_slow:
                await self._ws.close(1008, "too many messages waiting: read faster or subscribe to less")
                return
            await self._ws.send_text(json.dumps(message))

    async def _handle(self, text: str) -> None:
        try:
            request = parse_request(text)
            if isinstance(request, Unsubscribe):
                self._unsubscribe(request)
                return
            self._subs.add(request)
        except RpcError as exc:
            self.send(exc.to_json())
            return
        feed = _Feed(self, request)
        self._mint.events.listen(request.kind, request.filters, feed)
        try:
            current = await asyncio.to_thread(self._current, request)
        except NutxError as exc:
            self._mint.events.forget(request.kind, request.filters, feed)
            self._subs.remove(Unsubscribe(request.id, request.sub_id))
            self.send(error(request.id, RpcCode.INVALID_PARAMS, str(exc)))
            return
        self._feeds[request.sub_id] = feed
        self.send(result(request.id, request.sub_id))
        feed.start(current)

    def _unsubscribe(self, request: Unsubscribe) -> None:
        sub = self._subs.remove(request)
        feed = self._feeds.pop(sub.sub_id)
        self._mint.events.forget(sub.kind, sub.filters, feed)
        for key in sub.filters:
            self._last.pop((sub.sub_id, key), None)
        self.send(result(request.id, sub.sub_id))

    def _current(self, sub: Subscribe) -> list[tuple[str, dict[str, Any]]]:
        """In a worker thread: the state of each object the subscription names (MintError for an unknown one)."""
        if sub.kind == SubscriptionKind.PROOF_STATE:
            return [(s["Y"], s) for s in self._mint.check_state(list(sub.filters))]
        read: dict[SubscriptionKind, Callable[[str], dict[str, Any]]] = {
            SubscriptionKind.BOLT11_MINT_QUOTE: self._mint.mint_quote,
            SubscriptionKind.BOLT11_MELT_QUOTE: self._mint.melt_quote,
            SubscriptionKind.EHASH_EPOCH: lambda n: self._mint.epoch(int(n)).to_json(),
        }
        return [(key, read[sub.kind](key)) for key in sub.filters]

    async def _recheck_unpaid(self) -> None:
        while True:
            await asyncio.sleep(RECHECK_S)
            unpaid = {
                key
                for (sub_id, key), payload in self._last.items()
                if self._feeds.get(sub_id) is not None
                and self._feeds[sub_id].sub.kind == SubscriptionKind.BOLT11_MINT_QUOTE
                and payload.get("state") == MintQuoteState.UNPAID
            }
            for quote in unpaid:
                with contextlib.suppress(NutxError):
                    await asyncio.to_thread(self._mint.mint_quote, quote)


async def serve_socket(ws: WebSocket, mint: Mint) -> None:
    """Serve one client of `/v1/ws` until it goes away."""
    await ws.accept()
    await _Socket(ws, mint).run()
