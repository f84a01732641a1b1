"""Hashing processes for the CPU miner: one per `--threads`, each on its own extranonce space.

The parent hands every process the same `HashJob`; process i rolls the extranonce values
i, i + n, i + 2n, … and scans the whole nonce range of each with a SHA-256 midstate
(`core.header_search`). A new job replaces the old one at the next chunk boundary (a few ms), so
the miner switches at once on SetNewPrevHash. Found shares come back on a queue; each process counts
its hashes in a counter of its own (no lock that a SIGKILLed miner could leave held).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import signal
import struct
from dataclasses import dataclass
from multiprocessing.context import SpawnProcess
from typing import Any

from nutx_cli.chain.hashes import dsha256
from nutx_cli.chain.merkle import root_from_path
from nutx_cli.core.header_search import NONCE_SPACE, HeaderSearch

CHUNK = 1 << 15
"""Nonces scanned between two looks at the job queue (and at whether the parent still lives)."""
PARENT_CHECK_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class HashJob:
    """Plain, picklable inputs of one job: what goes around the extranonce, and the target."""

    generation: int
    coinbase_prefix: bytes  # coinbase_tx_prefix ‖ extranonce_prefix
    coinbase_suffix: bytes
    extranonce_size: int  # bytes the miner fills
    merkle_path: tuple[bytes, ...]
    version: int
    prev_hash: bytes
    ntime: int
    nbits: int
    target: int

    def header76(self, extranonce: bytes) -> bytes:
        coinbase = self.coinbase_prefix + extranonce + self.coinbase_suffix
        root = root_from_path(dsha256(coinbase), list(self.merkle_path))
        return (
            struct.pack("<I", self.version)
            + self.prev_hash
            + root
            + struct.pack("<II", self.ntime, self.nbits)
        )


@dataclass(frozen=True, slots=True)
class FoundShare:
    generation: int
    extranonce: bytes
    nonce: int
    ntime: int
    version: int
    hash: bytes


_NO_NEWS = object()


def _newest(jobs: Any, block: bool, parent: int) -> Any:
    """The newest item on the queue (waiting for one if `block`), or _NO_NEWS.

    A None (stop) is returned when the parent is gone, so an orphan never waits for work forever.
    """
    item = _NO_NEWS
    while block and item is _NO_NEWS:
        try:
            item = jobs.get(timeout=PARENT_CHECK_SECONDS)
        except queue.Empty:
            if os.getppid() != parent:
                return None
    while True:
        try:
            item = jobs.get_nowait()
        except queue.Empty:
            return item


def _worker(index: int, stride: int, jobs: Any, found: Any, hashes: Any, parent: int) -> None:
    """Process body: hash the newest job until told to stop (a None job) or the parent dies.

    A SIGKILLed miner cannot tell its children to stop, so each chunk also checks that the parent
    is still the one that started it (an orphan is re-parented).
    """
    # Ctrl-C reaches the whole process group; stopping is the parent's call (or its death's).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # An orphan must be able to exit: nobody reads `found` any more, and the process holds the
    # pipe's read end too, so a full pipe never breaks — don't wait for the feeder thread at exit.
    found.cancel_join_thread()
    job: HashJob | None = None
    extranonce_counter = index
    while True:
        news = _newest(jobs, block=job is None, parent=parent)
        if news is not _NO_NEWS:
            job, extranonce_counter = news, index
        if job is None:
            return
        extranonce = extranonce_counter.to_bytes(job.extranonce_size, "little")
        search = HeaderSearch(job.header76(extranonce), job.target)
        for start in range(0, NONCE_SPACE, CHUNK):
            for nonce, digest in search.scan(start, CHUNK):
                found.put(FoundShare(job.generation, extranonce, nonce, job.ntime, job.version, digest))
            hashes.value += CHUNK  # this process's own counter: no lock a killed parent could hold
            if not jobs.empty():
                break
            if os.getppid() != parent:
                return
        else:
            extranonce_counter += stride  # nonce space exhausted: roll the extranonce


class Hashers:
    """A group of hashing processes sharing one job at a time."""

    def __init__(self, threads: int) -> None:
        if threads < 1:
            raise ValueError("the miner needs at least one hashing process")
        ctx = mp.get_context("spawn")
        self._found: Any = ctx.Queue()
        self._hashes: list[Any] = [ctx.RawValue("Q", 0) for _ in range(threads)]
        self._queues: list[Any] = [ctx.Queue() for _ in range(threads)]
        self._procs: list[SpawnProcess] = [
            ctx.Process(
                target=_worker,
                args=(i, threads, q, self._found, counter, os.getpid()),
                daemon=True,
                name=f"nutx-hasher-{i}",
            )
            for i, (q, counter) in enumerate(zip(self._queues, self._hashes, strict=True))
        ]
        for proc in self._procs:
            proc.start()

    @property
    def threads(self) -> int:
        return len(self._procs)

    @property
    def pids(self) -> list[int]:
        return [proc.pid for proc in self._procs if proc.pid is not None]

    def set_job(self, job: HashJob) -> None:
        for q in self._queues:
            q.put(job)

    def drain_found(self) -> list[FoundShare]:
        shares: list[FoundShare] = []
        while True:
            try:
                shares.append(self._found.get_nowait())
            except queue.Empty:
                return shares

    def hashes_done(self) -> int:
        return sum(int(counter.value) for counter in self._hashes)

    def stop(self) -> None:
        for q in self._queues:
            q.put(None)
        for proc in self._procs:
            proc.join(timeout=2)
            if proc.is_alive():
                proc.kill()
                proc.join(timeout=2)
