"""The pool's admin HTTP listener (DESIGN.md §5): `GET /v1/pool/stats` and the websocket `/v1/pool/events`.

Per-channel statistics reveal who mines what, so they live here (loopback by default), never on the
public mint port.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import uvicorn
from fastapi import FastAPI, WebSocket, WebSocketDisconnect

from nutx_cli.errors import NutxError
from nutx_cli.pool.events import EventHub


def create_admin_app(stats: Callable[[], dict[str, Any]], events: EventHub) -> FastAPI:
    app = FastAPI(title="nutx pool admin", docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/v1/pool/stats")
    async def pool_stats() -> dict[str, Any]:  # on the event loop: the pool's state is not thread-safe
        return stats()

    @app.websocket("/v1/pool/events")
    async def pool_events(ws: WebSocket) -> None:
        await ws.accept()
        async with events.subscribe() as queue:

            async def push() -> None:
                while True:
                    await ws.send_json(await queue.get())

            sender = asyncio.create_task(push())
            try:  # read until the client goes away, so a quiet stream still notices it
                while (await ws.receive())["type"] != "websocket.disconnect":
                    pass
            except (WebSocketDisconnect, RuntimeError, OSError):
                pass
            finally:
                sender.cancel()
                with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, RuntimeError, OSError):
                    await sender

    return app


class QuietServer(uvicorn.Server):
    """uvicorn inside our own event loop: the role's signal handling stays in charge."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def start_http(app: Any, host: str, port: int) -> tuple[QuietServer, asyncio.Task[None]]:
    """Serve `app` on host:port in this loop; returns once the socket listens."""
    server = QuietServer(
        uvicorn.Config(
            app,
            host=host,
            port=port,
            log_level="warning",
            lifespan="off",
            ws="websockets-sansio",
            timeout_graceful_shutdown=2,
        )
    )

    async def serve() -> None:
        try:
            await server.serve()
        except SystemExit:  # uvicorn exits when it cannot bind
            raise NutxError(f"cannot listen on {host}:{port} (in use?): pick another port") from None

    task = asyncio.create_task(serve())
    while not server.started:
        if task.done():
            await task
            raise NutxError(f"the HTTP server on {host}:{port} stopped while starting")
        await asyncio.sleep(0.02)
    return server, task


async def stop_http(server: QuietServer, task: asyncio.Task[None]) -> None:
    server.should_exit = True
    with contextlib.suppress(asyncio.CancelledError):
        await task
