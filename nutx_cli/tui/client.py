"""Follows a pool's admin listener: polls `GET /v1/pool/stats`, reads the `/v1/pool/events` websocket.

Two independent loops, each retrying with exponential back-off, so the dashboard survives the pool
going away and picks it up again when it returns. The stats poll decides "connected"; the event
stream only adds liveliness between polls (an older pool without it still shows everything).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from typing import Protocol

import httpx
import websockets

from nutx_cli.core.pool_stats import PoolEvent, PoolStats, StatsError
from nutx_cli.errors import NutxError
from nutx_cli.local import DEFAULT_ADMIN_PORT, read_pool_json
from nutx_cli.tui.stats import Epoch, parse_event, parse_stats

log = logging.getLogger(__name__)

STATS_PATH = "/v1/pool/stats"
EVENTS_PATH = "/v1/pool/events"


class FeedSink(Protocol):
    """Where the client delivers what it learns (the app, in practice)."""

    def stats_received(self, stats: PoolStats[Epoch]) -> None: ...

    def event_received(self, event: PoolEvent[Epoch]) -> None: ...

    def connection_changed(self, connected: bool, detail: str) -> None: ...

    def events_changed(self, live: bool) -> None: ...


def default_admin_url() -> str:
    """The local pool's admin URL from its pool.json, else the default admin port on loopback."""
    try:
        return read_pool_json().admin
    except NutxError:
        return f"http://127.0.0.1:{DEFAULT_ADMIN_PORT}"


def check_admin_url(url: str) -> str:
    """`url` without a trailing slash; a NutxError that says what to pass if it is not an http(s) URL."""
    if not url.startswith(("http://", "https://")):
        raise NutxError(
            f"--pool-admin {url!r} is not an http URL; pass e.g. http://127.0.0.1:{DEFAULT_ADMIN_PORT}"
        )
    return url.rstrip("/")


def backoff_delays(first: float, ceiling: float) -> Iterator[float]:
    """first, 2·first, 4·first, … capped at ceiling."""
    delay = first
    while True:
        yield delay
        delay = min(ceiling, delay * 2)


def describe_failure(exc: BaseException, url: str) -> str:
    """A one-line reason for the status bar."""
    if isinstance(exc, httpx.ConnectError | ConnectionRefusedError):
        return f"cannot reach {url}"
    if isinstance(exc, httpx.TimeoutException | TimeoutError):
        return f"{url} does not answer"
    if isinstance(exc, httpx.HTTPStatusError):
        if exc.response.status_code == 401:
            return f"{url} answered HTTP 401: pass the pool's admin token (--admin-token)"
        return f"{url} answered HTTP {exc.response.status_code}"
    if isinstance(exc, StatsError):
        return f"bad stats from the pool: {exc}"
    if isinstance(exc, httpx.ReadError | httpx.RemoteProtocolError | ConnectionError):
        return f"{url} closed the connection"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


class PoolAdminClient:
    def __init__(
        self,
        admin_url: str,
        poll_interval: float = 2.0,
        backoff_first: float = 0.5,
        backoff_ceiling: float = 5.0,
        timeout: float = 3.0,
        token: str | None = None,
    ) -> None:
        self.url = check_admin_url(admin_url)
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.poll_interval = poll_interval
        self.backoff_first = backoff_first
        self.backoff_ceiling = backoff_ceiling
        self.timeout = timeout
        self._poke = asyncio.Event()

    @property
    def stats_url(self) -> str:
        return self.url + STATS_PATH

    @property
    def events_url(self) -> str:
        return "ws" + self.url.removeprefix("http") + EVENTS_PATH

    def refresh_now(self) -> None:
        """Poll at once instead of waiting for the next interval (or the next back-off step)."""
        self._poke.set()

    async def run(self, sink: FeedSink) -> None:
        """Poll and follow until cancelled."""
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(self._poll(sink))
            tasks.create_task(self._follow(sink))

    async def fetch_stats(self, http: httpx.AsyncClient) -> PoolStats[Epoch]:
        response = await http.get(self.stats_url)
        response.raise_for_status()
        try:
            document = response.json()
        except ValueError:
            raise StatsError("the stats are not JSON") from None
        return parse_stats(document)

    async def _poll(self, sink: FeedSink) -> None:
        async with httpx.AsyncClient(timeout=self.timeout, headers=self.headers) as http:
            delays = backoff_delays(self.backoff_first, self.backoff_ceiling)
            while True:
                try:
                    stats = await self.fetch_stats(http)
                except (httpx.HTTPError, OSError, StatsError) as exc:
                    sink.connection_changed(False, describe_failure(exc, self.url))
                    wait = next(delays)
                else:
                    sink.connection_changed(True, f"connected to {self.url}")
                    sink.stats_received(stats)
                    delays = backoff_delays(self.backoff_first, self.backoff_ceiling)
                    wait = self.poll_interval
                await self._sleep(wait)

    async def _sleep(self, seconds: float) -> None:
        self._poke.clear()
        try:
            await asyncio.wait_for(self._poke.wait(), seconds)
        except TimeoutError:
            pass

    async def _follow(self, sink: FeedSink) -> None:
        delays = backoff_delays(self.backoff_first, self.backoff_ceiling)
        while True:
            try:
                async with websockets.connect(
                    self.events_url, open_timeout=self.timeout, additional_headers=self.headers
                ) as ws:
                    sink.events_changed(True)
                    delays = backoff_delays(self.backoff_first, self.backoff_ceiling)
                    async for message in ws:
                        self._deliver(message, sink)
            except (OSError, TimeoutError, websockets.WebSocketException) as exc:
                log.debug("event stream %s: %s", self.events_url, exc)
            sink.events_changed(False)
            await asyncio.sleep(next(delays))

    def _deliver(self, message: str | bytes, sink: FeedSink) -> None:
        """One event; a malformed one is logged and skipped, the stream stays open."""
        try:
            event = parse_event(json.loads(message))
        except (ValueError, StatsError) as exc:
            log.warning("skipping a bad event from the pool: %s", exc)
            return
        if event is not None:
            sink.event_received(event)
