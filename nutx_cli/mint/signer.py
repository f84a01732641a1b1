"""Group commit for share signatures (DESIGN §4: a signature leaves only after its W_e increment is durable).

`submit` signs at once, on the event loop, and queues the signature; `claim` queues a claimed share
(DESIGN §4 "Claimed ehash": its amount goes to a key's claim, nothing is signed). A worker commits
everything queued so far as one batch in a worker thread (one transaction + fsync), then releases every
caller's result at once. While a batch is being committed the next one is signed and queued, so
throughput grows with load instead of paying one fsync per share.

Signing stays on the loop on purpose: it is CPU work under the GIL, and a signing thread next to
the busy event loop only adds GIL hand-offs (measured: ~50 µs per share more than signing inline).
The thread is kept for the commit, whose fsync waits without the GIL.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from nutx_cli.core.bdhke import BlindSig


@dataclass(frozen=True, slots=True)
class ShareRequest:
    keyset_id: str
    amount: int
    B_: bytes


@dataclass(frozen=True, slots=True)
class ClaimRequest:
    """A share of a claim channel: `amount` goes to the claim of `pubkey` in the epoch of `keyset_id`."""

    keyset_id: str
    amount: int
    pubkey: str


@dataclass(frozen=True, slots=True)
class SignedShare:
    """A share signed but not yet durable: it must not leave before its batch commits."""

    request: ShareRequest
    sig: BlindSig


Queued = SignedShare | ClaimRequest
"""What a batch commits: signed shares and claimed shares, in the order they came."""

BatchResult = BlindSig | None | Exception
"""Per queued item: the signature (None for a claim, now durable), or the error to raise to that caller."""


class GroupCommitSigner:
    """Signs share requests as they come and commits them, with claimed shares, in batches, on one event loop.

    `sign` raises for a request that cannot be signed (that caller gets the error at once);
    `commit` stores a batch in one durable transaction and returns, per item, its signature (None
    for a claim) or the error that refused it there.
    """

    def __init__(
        self,
        sign: Callable[[ShareRequest], BlindSig],
        commit: Callable[[Sequence[Queued]], list[BatchResult]],
        max_batch: int = 2000,
    ) -> None:
        self._sign = sign
        self._commit = commit
        self._max_batch = max_batch
        self._queue: list[tuple[Queued, asyncio.Future[Any]]] = []
        self._worker: asyncio.Task[None] | None = None

    async def submit(self, request: ShareRequest) -> BlindSig:
        return await self.submit_nowait(request)

    def submit_nowait(self, request: ShareRequest) -> asyncio.Future[BlindSig]:
        """Sign now (raising if the request cannot be signed); the future resolves once the share is durable."""
        future: asyncio.Future[BlindSig] = asyncio.get_running_loop().create_future()
        self._enqueue(SignedShare(request, self._sign(request)), future)
        return future

    def claim_nowait(self, request: ClaimRequest) -> asyncio.Future[None]:
        """Queue a claimed share; the future resolves once its claim and W_e increment are durable."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._enqueue(request, future)
        return future

    def _enqueue(self, item: Queued, future: asyncio.Future[Any]) -> None:
        self._queue.append((item, future))
        worker = self._worker
        if worker is None or worker.done() or worker.get_loop() is not future.get_loop():
            self._worker = asyncio.create_task(self._drain())

    async def _drain(self) -> None:
        while self._queue:
            batch, self._queue = self._queue[: self._max_batch], self._queue[self._max_batch :]
            try:
                results = await asyncio.to_thread(self._commit, [item for item, _ in batch])
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
