"""Following the chain (DESIGN.md §4): templates from the node, the pool's own blocks, closing and opening
epochs by the won/lost rule, counting confirmations of won epochs.

`EpochKeeper` asks the node for the facts and tells the mint what they decide (the decisions themselves
are `pool.epochs`); `TipWatch` polls the tip and, when it moves, switches every channel to the next
epoch. The switch holds the epoch lock throughout: every job goes stale first, then the credits
(signatures and claims) already handed to the mint are awaited, and only then is the epoch closed, so
W_e is final at the close.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, TypeVar

from nutx_cli.core.epoch_json import Epoch
from nutx_cli.core.epoch_status import EpochStatus
from nutx_cli.core.pool_stats import Block, BlockEvent, EpochEvent
from nutx_cli.core.vocabulary import Unit
from nutx_cli.errors import NutxError
from nutx_cli.mint import Mint
from nutx_cli.node.client import NodeClient, NodeRpcError
from nutx_cli.pool.channel import Channels
from nutx_cli.pool.current import CurrentEpoch
from nutx_cli.pool.epochs import Tip, decide_outcome, maturity_update, tip_changed
from nutx_cli.pool.events import EventHub
from nutx_cli.pool.inflight import Credits
from nutx_cli.pool.settings import PoolSettings
from nutx_cli.pool.shares import CheckedShare
from nutx_cli.pool.stats import EpochHistory
from nutx_cli.pool.template import Template, template_from_gbt
from nutx_cli.sv2.ecash import EcashKeyset

log = logging.getLogger(__name__)
T = TypeVar("T")

TIP_POLL_SECONDS = 0.25
TEMPLATE_REFRESH_SECONDS = 30.0
NODE_RETRY_SECONDS = 2.0
MATURITY_SCAN_EPOCHS = 50
"""Won epochs checked for confirmations / orphaning on each tip change (newest first)."""


@dataclass(eq=False)
class EpochKeeper:
    """The mint's epochs in step with the node's chain."""

    mint: Mint
    node: NodeClient
    settings: PoolSettings
    events: EventHub
    history: EpochHistory
    our_blocks: dict[str, int] = field(default_factory=dict, init=False)
    """Block hash → θ_B, for the blocks this process submitted."""
    _template_ids: int = field(default=0, init=False)

    async def rpc(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.to_thread(fn, *args)

    async def fetch_template(self) -> Template:
        gbt = await self.rpc(self.node.getblocktemplate)
        self._template_ids += 1
        return template_from_gbt(
            gbt,
            self._template_ids,
            self.settings.payout_script,
            simulated_difficulty=self.settings.network_difficulty,
        )

    def keyset(self, epoch: int) -> EcashKeyset:
        """The epoch's keyset as the ecash extension sends it."""
        keyset = self.mint.ehash_keyset(epoch)
        return EcashKeyset(
            keyset_id=bytes.fromhex(keyset.id),
            unit=Unit.EHASH,
            epoch=epoch,
            k_max=self.mint.k_max,
            keys=[(a, keyset.public_keys[a]) for a in sorted(keyset.public_keys)],
        )

    async def resume(self) -> CurrentEpoch:
        """Resume the open epoch, or close it once if the chain moved while the pool was down."""
        template = await self.fetch_template()
        tip = Tip(template.prev_hash_hex, template.height - 1)
        known = {e.keyset_id for e in self.mint.epochs()}
        current = self.mint.current_epoch()
        if current is None:
            current = self.mint.open_epoch(tip_hash=tip.hash, height=tip.height, now=int(time.time()))
        elif (start := Tip(*self.mint.epoch_start(current.epoch))).hash != tip.hash:
            current = await self.close_and_open(start, current.epoch, tip)
        return CurrentEpoch(current.epoch, tip, template, self.keyset(current.epoch), known)

    async def close_and_open(self, start: Tip, epoch: int, new_tip: Tip) -> Epoch:
        """Close `epoch` (started at `start`) by the won/lost rule and open the next at `new_tip`."""
        block_at_next = await self._hash_at(start.height + 1, new_tip)
        theta_b = await self._is_ours(block_at_next)
        ours = {block_at_next} if block_at_next is not None and theta_b is not None else set()
        outcome = decide_outcome(start, block_at_next, ours)
        now = int(time.time())
        if outcome.status == EpochStatus.WON:
            assert theta_b is not None and outcome.block_hash is not None
            self.mint.close_epoch_won(
                epoch, theta_b=theta_b, block_hash=outcome.block_hash, height=outcome.height, now=now
            )
            log.info(
                "epoch %d won: block %s at height %d, θ_B %d sats",
                epoch,
                outcome.block_hash,
                outcome.height,
                theta_b,
            )
        else:
            self.mint.close_epoch_lost(epoch, height=outcome.height, now=now)
            log.info("epoch %d lost (block %s at height %d)", epoch, block_at_next, outcome.height)
        closed = self.mint.epoch(epoch).to_json()
        self.events.publish(EpochEvent(closed).to_json(dict))
        if outcome.status == EpochStatus.WON:
            self.events.publish(BlockEvent(Block.of_epoch(closed)).to_json())
        opened = self.mint.open_epoch(tip_hash=new_tip.hash, height=new_tip.height, now=now)
        self.events.publish(EpochEvent(opened.to_json()).to_json(dict))
        self.history.forget()
        return opened

    async def scan_maturity(self) -> None:
        """Count confirmations of won epochs; mark those whose block left the best chain orphaned."""
        checked = 0
        for info in self.mint.epochs():
            if info.status not in (EpochStatus.WON, EpochStatus.MATURE) or info.block_hash is None:
                continue
            checked += 1
            if checked > MATURITY_SCAN_EPOCHS:
                break
            try:
                header = await self.rpc(self.node.getblockheader, info.block_hash)
                confirmations = int(header["confirmations"])
            except NodeRpcError:
                confirmations = -1
            update = maturity_update(info.epoch, info.status, confirmations, info.confirmations)
            if update is None:
                continue
            if update.action == "orphaned":
                self.mint.mark_orphaned(info.epoch)
                log.warning("epoch %d orphaned: block %s left the best chain", info.epoch, info.block_hash)
            else:
                self.mint.set_confirmations(info.epoch, update.confirmations, maturity=self.settings.maturity)
            self.events.publish(EpochEvent(self.mint.epoch(info.epoch).to_json()).to_json(dict))
            self.history.forget()

    async def submit_block(self, checked: CheckedShare) -> None:
        """submitblock before the share is signed; the tip change, not the verdict, decides the epoch."""
        block = checked.job.template.block(checked.header, checked.coinbase)
        block_hash = checked.hash[::-1].hex()
        self.our_blocks[block_hash] = checked.job.template.coinbase_value
        try:
            verdict = await self.rpc(self.node.submitblock, block)
        except NutxError as exc:
            verdict = f"error: {exc}"
        log.info(
            "block %s at height %d submitted: %s",
            block_hash,
            checked.job.template.height,
            verdict or "accepted",
        )

    async def _hash_at(self, height: int, tip: Tip) -> str | None:
        """The hash at `height` on the best chain ending at `tip`, or None if that chain is shorter."""
        if height > tip.height:
            return None
        try:
            return str(await self.rpc(self.node.call, "getblockhash", height))
        except NodeRpcError:
            return None

    async def _is_ours(self, block_hash: str | None) -> int | None:
        """θ_B if `block_hash` is the pool's block: submitted by this process, or paying our payout script."""
        if block_hash is None:
            return None
        if block_hash in self.our_blocks:
            return self.our_blocks[block_hash]
        try:
            block = await self.rpc(self.node.call, "getblock", block_hash, 2)
            coinbase = block["tx"][0]
            outputs = coinbase["vout"]
            if not any(o["scriptPubKey"]["hex"] == self.settings.payout_script.hex() for o in outputs):
                return None
            if b"/nutx/" not in bytes.fromhex(coinbase["vin"][0]["coinbase"]):
                return None
            return sum(round(Fraction(str(o["value"])) * 100_000_000) for o in outputs)
        except (NodeRpcError, KeyError, IndexError, TypeError, ValueError):
            return None


@dataclass(eq=False)
class TipWatch:
    """Polls the tip (≤ 1 s on loopback), moves the pool to the next epoch, refreshes the template."""

    keeper: EpochKeeper
    current: CurrentEpoch
    channels: Channels
    credits: Credits

    async def run(self, stop: asyncio.Event) -> None:
        last_refresh = time.monotonic()
        while not stop.is_set():
            try:
                best = await self.keeper.rpc(self.keeper.node.getbestblockhash)
                if best != self.current.tip.hash:
                    await self.on_tip_change()
                    last_refresh = time.monotonic()
                elif time.monotonic() - last_refresh > TEMPLATE_REFRESH_SECONDS:
                    await self.refresh_template()
                    last_refresh = time.monotonic()
            except NutxError as exc:
                log.warning("node: %s", exc)
                await sleep_or_stop(stop, NODE_RETRY_SECONDS)
            except Exception:  # keep following the chain whatever one round did
                log.exception("following the chain failed; retrying")
                await sleep_or_stop(stop, NODE_RETRY_SECONDS)
            await sleep_or_stop(stop, TIP_POLL_SECONDS)

    async def on_tip_change(self) -> None:
        """Under the epoch lock: stale jobs, durable credits, close, open, the new epoch to every channel."""
        current = self.current
        async with current.lock:
            template = await self.keeper.fetch_template()
            tip = Tip(template.prev_hash_hex, template.height - 1)
            if not tip_changed(current.tip, tip):
                return
            self.channels.invalidate()
            await self.credits.drained()
            opened = await self.keeper.close_and_open(current.tip, current.number, tip)
            current.enter(opened.epoch, tip, template, self.keeper.keyset(opened.epoch))
            self.channels.start_epoch()
        await self.keeper.scan_maturity()

    async def refresh_template(self) -> None:
        """A new template on the same tip: an immediately active job for every channel."""
        async with self.current.lock:
            template = await self.keeper.fetch_template()
            if template.prev_hash_hex != self.current.tip.hash:
                return
            self.current.template = template
            self.channels.refresh()


async def sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
