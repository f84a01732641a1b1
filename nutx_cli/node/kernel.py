"""A thin, typed wrapper over py-bitcoinkernel's ChainstateManager (DESIGN.md §6).

All calls must come from one thread at a time (the node runs them on a single worker thread):
the validation verdict of a block is collected from kernel callbacks and log lines fired during
`process_block`, so two concurrent submissions would mix their verdicts.
"""

from __future__ import annotations

import gc
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import pbk

from nutx_cli.chain.header import BlockHeader
from nutx_cli.chain.tx import DecodeError
from nutx_cli.errors import NutxError

log = logging.getLogger("nutx.node.kernel")

MEDIAN_TIME_SPAN = 11
_REASON = re.compile(
    r"(?:FAILED \(|AcceptBlock: |CheckBlock: |Block validation error: |ConnectBlock(?:\(\))?: )([a-z][a-z0-9-]+)"
)
_FALLBACK_REASON = {
    pbk.BlockValidationResult.MISSING_PREV: "prev-blk-not-found",
    pbk.BlockValidationResult.INVALID_PREV: "bad-prevblk",
    pbk.BlockValidationResult.CACHED_INVALID: "duplicate-invalid",
    pbk.BlockValidationResult.TIME_FUTURE: "time-too-new",
}


class KernelError(NutxError):
    """The chainstate could not be opened or read."""


@dataclass(frozen=True)
class Entry:
    """A block in the kernel's block index, with its header parsed (pbk has no merkle-root accessor)."""

    hash: bytes  # internal byte order
    height: int
    header: BlockHeader
    in_best_chain: bool


class Kernel:
    """One chainstate directory opened with regtest parameters."""

    def __init__(self, data_dir: Path, *, reindex: bool = False) -> None:
        """Open (or create) the chainstate; `reindex` rebuilds it from the block files.

        The kernel flushes its chainstate only on a clean close, so after a crash the block
        files hold blocks the chainstate does not know: reindexing brings them back.
        """
        data_dir.mkdir(parents=True, exist_ok=True)
        self._checked: list[tuple[bytes, pbk.ValidationMode, pbk.BlockValidationResult | None]] = []
        self._log_lines: list[str] = []
        self._collecting = False
        self._log_connection = pbk.LoggingConnection(self._on_log)
        callbacks = pbk.ValidationInterfaceCallbacks(block_checked=self._on_block_checked)
        blocks_dir = (data_dir / "blocks").absolute()
        context = pbk.make_context(pbk.ChainType.REGTEST, callbacks)
        options = pbk.ChainstateManagerOptions(context, str(data_dir.absolute()), str(blocks_dir))
        if reindex:
            options.set_wipe_dbs(True, True)
        try:
            self._chainman: pbk.ChainstateManager | None = pbk.ChainstateManager(options)
        except RuntimeError as exc:
            raise KernelError(
                f"cannot open the chainstate in {data_dir} ({exc}); is another node using it?"
            ) from exc
        if reindex:
            self._chainman.import_blocks(sorted(blocks_dir.glob("blk*.dat")))
        self._callbacks = callbacks  # the kernel keeps raw pointers into these trampolines

    def _on_log(self, message: str) -> None:
        if self._collecting:
            self._log_lines.append(message)
        log.debug("%s", message.rstrip())

    def _on_block_checked(
        self, _user_data: object, block: pbk.Block, state: pbk.BlockValidationState
    ) -> None:
        # The state is valid only inside this callback; reading the result of a VALID state aborts.
        mode = state.validation_mode
        result = state.block_validation_result if mode != pbk.ValidationMode.VALID else None
        self._checked.append((bytes(block.block_hash), mode, result))

    @property
    def chainman(self) -> pbk.ChainstateManager:
        if self._chainman is None:
            raise KernelError("the chainstate is closed")
        return self._chainman

    def close(self) -> None:
        """Flush the chainstate to disk and release the directory."""
        self._chainman = None  # destroying the ChainstateManager flushes it
        gc.collect()

    # -- reading the chain -------------------------------------------------------------------

    def height(self) -> int:
        return int(self.chainman.get_active_chain().height)

    def _entry_view(self, entry: pbk.BlockTreeEntry) -> Entry:
        header = BlockHeader.parse(bytes(entry.block_header))
        chain = self.chainman.get_active_chain()
        return Entry(bytes(entry.block_hash), int(entry.height), header, entry in chain.block_tree_entries)

    def tip(self) -> Entry:
        chain = self.chainman.get_active_chain()
        return self._entry_view(chain.block_tree_entries[chain.height])

    def at_height(self, height: int) -> Entry | None:
        chain = self.chainman.get_active_chain()
        if not 0 <= height <= chain.height:
            return None
        return self._entry_view(chain.block_tree_entries[height])

    def _lookup(self, block_hash: bytes) -> pbk.BlockTreeEntry | None:
        entries = self.chainman.block_tree_entries
        key = pbk.BlockHash(block_hash)
        if key not in entries:
            return None
        return entries[key]

    def entry(self, block_hash: bytes) -> Entry | None:
        found = self._lookup(block_hash)
        return None if found is None else self._entry_view(found)

    def ancestor(self, block_hash: bytes, height: int) -> Entry | None:
        found = self._lookup(block_hash)
        if found is None or not 0 <= height <= found.height:
            return None
        return self._entry_view(found.get_ancestor(height))

    def median_time_past(self, block_hash: bytes) -> int:
        """Median of the last 11 block times ending at this block (BIP113)."""
        found = self._lookup(block_hash)
        if found is None:
            raise KernelError(f"block {block_hash[::-1].hex()} is not known")
        times = []
        height = found.height
        for h in range(height, max(-1, height - MEDIAN_TIME_SPAN), -1):
            times.append(BlockHeader.parse(bytes(found.get_ancestor(h).block_header)).time)
        times.sort()
        return times[len(times) // 2]

    def block_bytes(self, block_hash: bytes) -> bytes | None:
        found = self._lookup(block_hash)
        if found is None or found not in self.chainman.blocks:
            return None
        return bytes(self.chainman.blocks[found])

    # -- validating --------------------------------------------------------------------------

    def process_block(self, raw: bytes) -> str | None:
        """Validate and store a block; the BIP22 answer as bitcoind's submitblock gives it.

        None: accepted; "duplicate": already known; "inconclusive": valid so far but not on the
        best chain; otherwise the reject reason ("high-hash", "bad-cb-amount", ...).
        """
        try:
            block = pbk.Block(raw)
        except RuntimeError:
            raise DecodeError("the kernel cannot decode this block") from None
        block_hash = bytes(block.block_hash)
        self._checked.clear()
        self._log_lines.clear()
        self._collecting = True
        try:
            is_new = self.chainman.process_block(block)
        except pbk.ProcessBlockException:
            is_new = True
        finally:
            self._collecting = False
        verdict = next((c for c in self._checked if c[0] == block_hash), None)
        if verdict is None:
            return "inconclusive" if is_new else "duplicate"
        _, mode, result = verdict
        if mode == pbk.ValidationMode.VALID:
            return None
        return self._reason(result)

    def _reason(self, result: pbk.BlockValidationResult | None) -> str:
        for line in self._log_lines:
            match = _REASON.search(line)
            if match:
                return match.group(1)
        return _FALLBACK_REASON.get(result, "rejected") if result is not None else "rejected"
