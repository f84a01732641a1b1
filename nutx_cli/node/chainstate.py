"""The node's chain as an asyncio service: kernel calls on one worker thread, tip-change wake-ups.

Everything that touches the kernel goes through `ChainService.call`, which runs it on a single
thread, so block verdicts never mix and the event loop stays free for long-polls.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from nutx_cli.chain.header import HEADER_SIZE, BlockHeader
from nutx_cli.errors import NutxError
from nutx_cli.node.kernel import Entry, Kernel
from nutx_cli.node.mining import Template, mine_coinbase_only, next_template

T = TypeVar("T")
log = logging.getLogger("nutx.node")

RUNNING_MARKER = "node.pid"
"""Present while a node runs on the data dir; left behind by a crash, which triggers a reindex."""

EXTRANONCE_SIZE = 8


class LeverError(NutxError):
    """A regtest lever asked for something the chain cannot do (e.g. a reorg deeper than the chain)."""


@dataclass(frozen=True)
class Reorg:
    old_tip: bytes
    new_tip: bytes
    fork_height: int
    disconnected: list[bytes]
    connected: list[bytes]


def template_on(kernel: Kernel, parent: Entry, now: int) -> Template:
    return next_template(parent.hash, parent.height, kernel.median_time_past(parent.hash), now)


def _mine_on(kernel: Kernel, parent: Entry, script_pubkey: bytes, tag: bytes) -> tuple[bytes, str | None]:
    template = template_on(kernel, parent, int(time.time()))
    raw = mine_coinbase_only(template, script_pubkey, os.urandom(EXTRANONCE_SIZE), tag=tag)
    verdict = kernel.process_block(raw)
    return raw, verdict


def generate(kernel: Kernel, count: int, script_pubkey: bytes) -> list[bytes]:
    """Mine `count` coinbase-only blocks on the tip through process_block; their hashes."""
    hashes = []
    for _ in range(count):
        tip = kernel.tip()
        _, verdict = _mine_on(kernel, tip, script_pubkey, b"/nutx-generate/")
        new_tip = kernel.tip()
        if verdict is not None or new_tip.height != tip.height + 1:
            raise LeverError(f"a generated block was not accepted ({verdict}); the chainstate may be damaged")
        hashes.append(new_tip.hash)
    return hashes


def reorg(kernel: Kernel, depth: int, script_pubkey: bytes) -> Reorg:
    """Build a branch of depth+1 blocks from `depth` blocks below the tip, so the last `depth` blocks leave."""
    old_tip = kernel.tip()
    if not 1 <= depth <= old_tip.height:
        raise LeverError(f"reorg depth must be between 1 and the chain height {old_tip.height}, got {depth}")
    fork_height = old_tip.height - depth
    disconnected = [e.hash for h in range(fork_height + 1, old_tip.height + 1) if (e := kernel.at_height(h))]
    parent = kernel.at_height(fork_height)
    assert parent is not None
    connected = []
    for _ in range(depth + 1):
        raw, verdict = _mine_on(kernel, parent, script_pubkey, b"/nutx-reorg/")
        child = kernel.entry(BlockHeader.parse(raw[:HEADER_SIZE]).hash())
        if verdict not in (None, "inconclusive") or child is None:
            raise LeverError(f"a branch block was rejected ({verdict})")
        connected.append(child.hash)
        parent = child
    new_tip = kernel.tip()
    if new_tip.hash != connected[-1]:
        raise LeverError("the competing branch did not become the best chain")
    return Reorg(old_tip.hash, new_tip.hash, fork_height, disconnected, connected)


def _claim(marker: Path) -> bool:
    """Write our pid into the marker; True if a previous node left it behind (it crashed)."""
    unclean = False
    if marker.exists():
        try:
            pid = int(marker.read_text().strip() or 0)
        except ValueError:
            pid = 0
        if pid and pid != os.getpid() and _alive(pid):
            raise NutxError(
                f"another node (pid {pid}) is using {marker.parent}; stop it or pick another --data-dir"
            )
        unclean = True
    marker.write_text(f"{os.getpid()}\n")
    return unclean


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class ChainService:
    """Owns the kernel and its worker thread; wakes waiters when the tip changes."""

    def __init__(self, data_dir: Path) -> None:
        self._data_dir = data_dir
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kernel")
        self._kernel: Kernel | None = None
        self._tip_changed = asyncio.Event()
        self.tip: Entry | None = None

    async def open(self) -> Entry:
        """Open the chainstate; rebuild it from the block files if the last run did not close it."""
        marker = self._data_dir / RUNNING_MARKER
        unclean = _claim(marker)
        if unclean:
            log.warning(
                "the node did not shut down cleanly: rebuilding the chainstate from %s/blocks", self._data_dir
            )
        loop = asyncio.get_running_loop()
        try:
            self._kernel = await loop.run_in_executor(
                self._executor, functools.partial(Kernel, self._data_dir, reindex=unclean)
            )
        except BaseException:
            marker.unlink(missing_ok=True)
            raise
        self.tip = await self.call(lambda k: k.tip())
        return self.tip

    async def close(self) -> None:
        if self._kernel is not None:
            kernel, self._kernel = self._kernel, None
            await asyncio.get_running_loop().run_in_executor(self._executor, kernel.close)
            (self._data_dir / RUNNING_MARKER).unlink(missing_ok=True)
        self._executor.shutdown(wait=True)

    async def call(self, fn: Callable[[Kernel], T]) -> T:
        """Run `fn(kernel)` on the kernel thread, then wake tip waiters if the tip moved."""
        kernel = self._kernel
        if kernel is None:
            raise NutxError("the node is shutting down")

        def run() -> tuple[T, Entry]:
            return fn(kernel), kernel.tip()

        result, tip = await asyncio.get_running_loop().run_in_executor(self._executor, run)
        if self.tip is None or tip.hash != self.tip.hash:
            self.tip = tip
            self._tip_changed.set()
            self._tip_changed = asyncio.Event()
        return result

    async def wait_for_tip_change(self, known_tip: bytes, timeout: float | None) -> Entry:
        """Return the tip once it differs from `known_tip`, or the current tip after `timeout` seconds."""
        assert self.tip is not None
        if self.tip.hash == known_tip:
            try:
                await asyncio.wait_for(self._tip_changed.wait(), timeout)
            except TimeoutError:
                pass
        return self.tip
