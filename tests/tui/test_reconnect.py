"""The dashboard against a real HTTP + websocket server on loopback that serves the recorded stats and
events, stopped and started again: panes fill, "disconnected" shows, and it recovers."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator

import pytest
import uvicorn
from fastapi import FastAPI, WebSocket, WebSocketDisconnect
from textual.widgets import DataTable

from nutx_cli.core.pool_stats import PoolEvent, PoolStats
from nutx_cli.tui.app import DashboardApp
from nutx_cli.tui.client import PoolAdminClient
from nutx_cli.tui.model import DashboardModel
from nutx_cli.tui.panes import ChannelsPane, EpochsPane, SharesPane
from nutx_cli.tui.wallet_view import NoWallet
from tests.helpers.procs import free_port
from tests.helpers.tui_recorded import recorded_events, recorded_stats, screen_text
from tests.helpers.waits import until_async


def recorded_pool() -> FastAPI:
    """The pool's admin listener as DESIGN §5 describes it, answering with the recorded documents."""
    app = FastAPI()
    stats = recorded_stats()

    @app.get("/v1/pool/stats")
    def get_stats() -> dict[str, object]:
        return stats

    @app.websocket("/v1/pool/events")
    async def events(ws: WebSocket) -> None:
        await ws.accept()
        for event in recorded_events():
            await ws.send_json(event)
        await ws.send_text("not json")  # a bad event is skipped, the stream stays open
        await ws.send_json(
            {
                "type": "share",
                "channel": 4,
                "level": 240,
                "amount": 65536,
                "accepted": True,
                "reason": None,
                "time": 1_800_000_001,
            }
        )
        try:
            await ws.receive_text()  # until the client or the server closes
        except WebSocketDisconnect:
            pass

    return app


class RecordedPool:
    """The recorded pool on 127.0.0.1:port in a thread; start and stop it as often as needed."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        config = uvicorn.Config(
            recorded_pool(),
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="off",
            timeout_graceful_shutdown=1,
        )
        server = self._server = uvicorn.Server(config)
        thread = self._thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "the recorded pool did not start"
            time.sleep(0.02)

    def stop(self) -> None:
        if self._server is None or self._thread is None:
            return
        self._server.should_exit = True
        self._thread.join(timeout=10)
        assert not self._thread.is_alive(), "the recorded pool did not stop"
        self._server = self._thread = None


@pytest.fixture
async def pool() -> AsyncIterator[RecordedPool]:
    recorded = RecordedPool(free_port())
    try:
        yield recorded
    finally:
        await asyncio.to_thread(recorded.stop)


class Recorder:
    """A FeedSink that keeps what the client reports."""

    def __init__(self) -> None:
        self.stats: list[PoolStats] = []
        self.events: list[PoolEvent] = []
        self.connected: list[bool] = []
        self.live: list[bool] = []
        self.detail = ""

    def stats_received(self, stats: PoolStats) -> None:
        self.stats.append(stats)

    def event_received(self, event: PoolEvent) -> None:
        self.events.append(event)

    def connection_changed(self, connected: bool, detail: str) -> None:
        self.connected.append(connected)
        self.detail = detail

    def events_changed(self, live: bool) -> None:
        self.live.append(live)


def fast_client(port: int) -> PoolAdminClient:
    return PoolAdminClient(
        f"http://127.0.0.1:{port}/", poll_interval=0.2, backoff_first=0.1, backoff_ceiling=0.4, timeout=1.0
    )


async def test_client_reports_disconnect_and_reconnects_with_backoff(pool: RecordedPool) -> None:
    client = fast_client(pool.port)
    assert client.events_url == f"ws://127.0.0.1:{pool.port}/v1/pool/events"
    sink = Recorder()
    task = asyncio.create_task(client.run(sink))
    try:
        await until_async(lambda: sink.connected[-1:] == [False], "the first failed poll")
        assert sink.detail == f"cannot reach http://127.0.0.1:{pool.port}"
        await asyncio.to_thread(pool.start)
        await until_async(lambda: sink.connected[-1:] == [True] and sink.live[-1:] == [True], "connecting")
        await until_async(lambda: len(sink.events) == 13, "the recorded events and one more")
        assert sink.stats[-1].pool.tip.height == 215
        await asyncio.to_thread(pool.stop)
        await until_async(
            lambda: sink.connected[-1:] == [False] and sink.live[-1:] == [False], "the disconnect"
        )
        polls = len(sink.stats)
        await asyncio.to_thread(pool.start)
        await until_async(lambda: sink.connected[-1:] == [True] and len(sink.stats) > polls, "reconnecting")
        await until_async(lambda: sink.live[-1:] == [True] and len(sink.events) == 26, "the events again")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_dashboard_fills_shows_disconnected_and_recovers(pool: RecordedPool) -> None:
    await asyncio.to_thread(pool.start)
    client = fast_client(pool.port)
    app = DashboardApp(DashboardModel(client.url), client, NoWallet("no wallet"))
    async with app.run_test(size=(80, 24)) as pilot:
        await until_async(lambda: "● CONNECTED" in screen_text(app), "the connected status line")
        await until_async(lambda: len(app.model.shares) == 11, "the share feed")
        await pilot.pause(0.6)  # one redraw tick
        assert "Blocks found 3" in screen_text(app) and "Epoch 12 · open" in screen_text(app)
        await pilot.press("2")
        assert app.query_one(ChannelsPane).query_one(DataTable).row_count == 4
        assert "alice" in screen_text(app)
        await pilot.press("3")
        assert app.query_one(SharesPane).query_one(DataTable).row_count == 11
        await pilot.press("4")
        assert app.query_one(EpochsPane).query_one(DataTable).row_count == 6

        await asyncio.to_thread(pool.stop)
        # a poll cut off by the stop may first report its own error (ReadError); the next one cannot connect
        unreachable = f"cannot reach http://127.0.0.1:{pool.port}"
        await until_async(
            lambda: "○ DISCONNECTED" in screen_text(app) and unreachable in screen_text(app),
            "the disconnected status line naming the pool it cannot reach",
        )
        assert app.query_one(EpochsPane).query_one(DataTable).row_count == 6  # the last data stays

        await asyncio.to_thread(pool.start)
        await until_async(
            lambda: "● CONNECTED" in screen_text(app) and "events live" in screen_text(app),
            "the reconnected status line",
        )
        await pilot.press("q")
    assert app.return_code == 0
