"""The live event stream of the admin listener: publish a dict, every subscriber gets it.

A subscriber that falls behind by more than `QUEUE_SIZE` events loses the oldest ones rather than
slowing the pool down.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

QUEUE_SIZE = 1000


class EventHub:
    """Fan-out of pool events to websocket subscribers."""

    def __init__(self) -> None:
        self._queues: set[asyncio.Queue[dict[str, Any]]] = set()

    @property
    def has_subscribers(self) -> bool:
        return bool(self._queues)

    def publish(self, event: dict[str, Any]) -> None:
        for queue in self._queues:
            if queue.full():
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
            queue.put_nowait(event)

    @contextlib.asynccontextmanager
    async def subscribe(self) -> AsyncIterator[asyncio.Queue[dict[str, Any]]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(QUEUE_SIZE)
        self._queues.add(queue)
        try:
            yield queue
        finally:
            self._queues.discard(queue)
