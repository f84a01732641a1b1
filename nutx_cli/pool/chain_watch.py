"""Following the chain (DESIGN.md §4): templates from the node, the pool's own blocks, closing and opening
epochs by the won/lost rule, counting confirmations of won epochs.

`EpochKeeper` asks the node for the facts and tells the mint what they decide (the decisions themselves
are `pool.epochs`); `TipWatch` polls the tip and, when it moves, switches every channel to the next
epoch. The switch holds the epoch lock throughout: every job goes stale first, then the credits
(signatures and claims) already handed to the mint are awaited, and only then is the epoch closed, so
W_e is final at the close.

Several front ends may share one mint (PostgreSQL). The mint closes an epoch and opens the next in one
transaction, once whoever asks first (`Mint.next_epoch`); the tip watch also polls the mint's open
epoch, so a front end whose node has not shown it the tip change yet follows the epoch another front
end opened as soon as its node has that epoch's start tip. Another front end's credits still in flight
for the closed epoch are refused by the mint's commit, never added to W_e after the close.
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
from nutx_cli.mint import Mint, MintError
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
            try:
                current = self.mint.open_epoch(tip_hash=tip.hash, height=tip.height, now=int(time.time()))
            except MintError:  # another front end opened the first epoch meanwhile
                current = self.mint.current_epoch()
                assert current is not None
        if (start := Tip(*self.mint.epoch_start(current.epoch))).hash != tip.hash:
            current = await self.close_and_open(start, current.epoch, tip)
        return CurrentEpoch(current.epoch, tip, template, self.keyset(current.epoch), known)

    async def close_and_open(self, start: Tip, epoch: int, new_tip: Tip) -> Epoch:
        """Close `epoch` (started at `start`) by the won/lost rule and open the next at `new_tip`, unless
        another front end closed it first: then the epoch open now."""
        block_at_next = await self._hash_at(start.height + 1, new_tip)
        theta_b = await self._is_ours(block_at_next)
        ours = {block_at_next} if block_at_next is not None and theta_b is not None else set()
        outcome = decide_outcome(start, block_at_next, ours)
        block: tuple[str, int] | None = None
        if outcome.status == EpochStatus.WON:
            assert theta_b is not None and outcome.block_hash is not None
            block = (outcome.block_hash, theta_b)
        opened, closed_here = self.mint.next_epoch(
            epoch,
            height=outcome.height,
            block=block,
            tip_hash=new_tip.hash,
            tip_height=new_tip.height,
            now=int(time.time()),
        )
        if not closed_here:
            log.info("epoch %d was closed by another front end; epoch %d is open", epoch, opened.epoch)
        elif block is not None:
            log.info(
                "epoch %d won: block %s at height %d, θ_B %d sats",
                epoch,
                outcome.block_hash,
                outcome.height,
                theta_b,
            )
        else:
            log.info("epoch %d lost (block %s at height %d)", epoch, block_at_next, outcome.height)
        self.announce(epoch, opened)
        return opened

    def announce(self, closed: int, opened: Epoch) -> None:
        """Events for the epoch that ended (and its block, if won) and the one now open."""
        ended = self.mint.epoch(closed).to_json()
        self.events.publish(EpochEvent(ended).to_json(dict))
        if ended["block_hash"] is not None:
            self.events.publish(BlockEvent(Block.of_epoch(ended)).to_json())
        self.events.publish(EpochEvent(opened.to_json()).to_json(dict))
        self.history.forget()

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
            try:
                if update.action == "orphaned":
                    self.mint.mark_orphaned(info.epoch)
                    log.warning(
                        "epoch %d orphaned: block %s left the best chain", info.epoch, info.block_hash
                    )
                else:
                    self.mint.set_confirmations(
                        info.epoch, update.confirmations, maturity=self.settings.maturity
                    )
            except MintError as exc:  # another front end moved the epoch first
                log.debug("epoch %d: %s", info.epoch, exc)
            self.events.publish(EpochEvent(self.mint.epoch(info.epoch).to_json()).to_json(dict))
            self.history.forget()

    async def submit_block(self, checked: CheckedShare) -> None:
        """submitblock once the share's signature is durable; the tip change, not the verdict, decides the epoch."""
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
                open_epoch = await self.keeper.rpc(self.keeper.mint.current_epoch_number)
                if best != self.current.tip.hash or open_epoch != self.current.number:
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
        """Under the epoch lock: stale jobs, durable credits, close, open, the new epoch to every channel.

        The epoch closed is the mint's open one, which another front end may have opened at a tip of its
        own: a tip other than that one's start ends it, unless this front end's node is still behind it.
        """
        current = self.current
        mint = self.keeper.mint
        async with current.lock:
            epoch = await self.keeper.rpc(mint.current_epoch_number)  # before the node: it is never ahead
            template = await self.keeper.fetch_template()
            tip = Tip(template.prev_hash_hex, template.height - 1)
            assert epoch is not None
            start = Tip(*mint.epoch_start(epoch))  # current.tip while no other front end moved on
            followed, changed = epoch != current.number, tip_changed(start, tip)
            if not (changed or followed):
                return
            if changed and followed and tip.height < start.height:
                log.debug("epoch %d starts at height %d, the node is at %d", epoch, start.height, tip.height)
                return
            self.channels.invalidate()
            await self.credits.drained()
            if changed:
                opened = await self.keeper.close_and_open(start, epoch, tip)
            else:
                opened = mint.epoch(epoch)
                log.info("following epoch %d, opened by another front end", epoch)
                self.keeper.announce(current.number, opened)
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
