"""A loopback TCP forwarder between the mint and its real Lightning backend that can stall one request.

It stands for a slow or broken network, not for the backend: every byte it forwards reaches the real
server. Once a request containing `trigger` passes, it either forwards the request and keeps the answer
back (`HOLD_ANSWER`: the backend pays, the mint never hears), or drops the request (`SWALLOW`: the backend
never hears of it). `triggered` is set when that request arrives.
"""

from __future__ import annotations

import re
import socket
import threading
from enum import Enum

from tests.helpers.procs import free_port


class Stall(Enum):
    HOLD_ANSWER = "hold-answer"
    SWALLOW = "swallow"


class HoldingProxy:
    def __init__(self, upstream_port: int, trigger: re.Pattern[bytes], stall: Stall) -> None:
        self.upstream_port = upstream_port
        self.trigger = trigger
        self.stall = stall
        self.triggered = threading.Event()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server = socket.create_server(("127.0.0.1", self.port))
        self._sockets: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._closing = False
        self._start(self._accept)

    def _start(self, target: object, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)  # type: ignore[arg-type]
        self._threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        while not self._closing:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            self._sockets += [client, upstream]
            stalled = threading.Event()
            self._start(self._requests, client, upstream, stalled)
            self._start(self._answers, upstream, client, stalled)

    def _requests(self, client: socket.socket, upstream: socket.socket, stalled: threading.Event) -> None:
        seen = b""
        while data := _recv(client):
            seen = (seen + data)[-65536:]
            if not stalled.is_set() and self.trigger.search(seen):
                stalled.set()
                self.triggered.set()
            if stalled.is_set() and self.stall == Stall.SWALLOW:
                continue
            if not _send(upstream, data):
                break
        _shut(upstream)

    def _answers(self, upstream: socket.socket, client: socket.socket, stalled: threading.Event) -> None:
        while data := _recv(upstream):
            if stalled.is_set() and self.stall == Stall.HOLD_ANSWER:
                continue
            if not _send(client, data):
                break
        _shut(client)

    def close(self) -> None:
        self._closing = True
        for s in [self._server, *self._sockets]:
            _shut(s)
            s.close()
        for thread in self._threads:
            thread.join(5)


def _shut(sock: socket.socket) -> None:
    """End both directions (the peer sees EOF); a socket already closed is fine."""
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


def _recv(sock: socket.socket) -> bytes:
    try:
        return sock.recv(65536)
    except OSError:
        return b""


def _send(sock: socket.socket, data: bytes) -> bool:
    try:
        sock.sendall(data)
        return True
    except OSError:
        return False


PAY_REQUEST = re.compile(rb'"out": ?true')
"""LNbits' pay call: `POST /api/v1/payments` with `"out": true`."""
