"""Group commit for share signatures (DESIGN §4: a signature leaves only after its W_e increment is durable).

Callers await `submit`; a worker drains everything queued so far as one batch, hands it to
`process` in a worker thread (signing + one transaction + fsync), then releases every caller's
result at once. While a batch is being committed the next one accumulates, so throughput grows
with load instead of paying one fsync per share.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from nutx_cli.core.bdhke import BlindSig


@dataclass(frozen=True, slots=True)
class ShareRequest:
    keyset_id: str
    amount: int
    B_: bytes


BatchResult = BlindSig | Exception
"""Per request: the signature, or the error to raise to that caller."""


class GroupCommitSigner:
    """Batches concurrent share-signing calls on one event loop."""

    def __init__(self, process: Callable[[Sequence[ShareRequest]], list[BatchResult]], max_batch: int = 2000) -> None:
        self._process = process
        self._max_batch = max_batch
        self._queue: list[tuple[ShareRequest, asyncio.Future[BlindSig]]] = []
        self._worker: asyncio.Task[None] | None = None

    async def submit(self, request: ShareRequest) -> BlindSig:
        future: asyncio.Future[BlindSig] = asyncio.get_running_loop().create_future()
        self._queue.append((request, future))
        worker = self._worker
        if worker is None or worker.done() or worker.get_loop() is not future.get_loop():
            self._worker = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        while self._queue:
            batch, self._queue = self._queue[: self._max_batch], self._queue[self._max_batch :]
            try:
                results = await asyncio.to_thread(self._process, [req for req, _ in batch])
            except Exception as exc:  # noqa: BLE001 - whole batch failed (disk error): nothing committed
                results = [exc] * len(batch)
            for (_, future), result in zip(batch, results, strict=True):
                if future.done():  # the caller was cancelled; its share is committed all the same
                    continue
                if isinstance(result, Exception):
                    future.set_exception(result)
                else:
                    future.set_result(result)

    async def drain(self) -> None:
        """Wait until every queued request is answered."""
        if self._worker is not None:
            await asyncio.shield(self._worker)
