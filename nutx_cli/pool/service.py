"""The pool service: templates from the node, SV2 ecash channels, signing through the mint, epochs, blocks.

Concurrency rules that keep the ledger right (DESIGN.md §4):
- A share is signed only for a job of the open epoch. When the tip changes, every channel's jobs are
  invalidated first (synchronously), then the signatures already queued are awaited, and only then is
  the epoch closed, so W_e is final at the close.
- The share that finds a block holds `_epoch_lock` from `submitblock` until its signature is durable;
  the tip handler takes the same lock, so that share is signed into the epoch it won.
- Signing goes through the mint's group commit: every share is its own task, and concurrent tasks
  end up in one batch with one fsync.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, TypeVar

from nutx_cli.core.bdhke import BlindSig
from nutx_cli.core.epoch_json import Epoch
from nutx_cli.core.models import BlindedMessage as ModelBlindedMessage
from nutx_cli.core.models import Proof as ModelProof
from nutx_cli.core.targets import target_of_level
from nutx_cli.core.vardiff import Vardiff, VardiffConfig, VardiffError
from nutx_cli.errors import NutxError
from nutx_cli.mint import Mint, MintError
from nutx_cli.node.client import NodeClient, NodeRpcError
from nutx_cli.pool.channel import Channel
from nutx_cli.pool.epochs import Tip, decide_outcome, maturity_update, tip_changed
from nutx_cli.pool.events import EventHub
from nutx_cli.pool.jobs import ChannelJobs
from nutx_cli.pool.shares import CheckedShare, ShareRejected, check_share
from nutx_cli.pool.stats import ChannelStats, levels_json
from nutx_cli.pool.template import EXTRANONCE_SIZE, Template, template_from_gbt
from nutx_cli.sv2.connection import Connection
from nutx_cli.sv2.ecash import (
    ECASH_EXTENSION,
    BlindSignature,
    EcashKeyset,
    OpenExtendedEcashMiningChannel,
    OpenExtendedEcashMiningChannelSuccess,
    RedeemSharesEcash,
    RedeemSharesEcashError,
    RedeemSharesEcashSuccess,
    SetEcashKeyset,
    SubmitSharesEcashExtended,
    SubmitSharesEcashExtendedError,
    SubmitSharesEcashExtendedSuccess,
)
from nutx_cli.sv2.extensions import RequestExtensions, RequestExtensionsError, RequestExtensionsSuccess
from nutx_cli.sv2.messages import (
    CloseChannel,
    Message,
    OpenExtendedMiningChannel,
    OpenMiningChannelError,
    OpenStandardMiningChannel,
    SetTarget,
    SetupConnection,
    SetupConnectionError,
    SetupConnectionSuccess,
    SubmitSharesError,
    SubmitSharesExtended,
    SubmitSharesStandard,
    UpdateChannel,
    UpdateChannelError,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

TIP_POLL_SECONDS = 0.25
TEMPLATE_REFRESH_SECONDS = 30.0
VARDIFF_TICK_SECONDS = 10.0
HISTORY_SAMPLES = 1440
"""One pool hashrate sample a minute for a day (`hashrate_history` in the stats, for the TUI's chart)."""
EPOCHS_CACHE_SECONDS = 3.0
"""The epoch history in the stats is re-read from the mint at most this often (the open epoch always)."""
MATURITY_SCAN_EPOCHS = 50
"""Won epochs checked for confirmations / orphaning on each tip change (newest first)."""
REQUIRES_WORK_SELECTION = 0b10


@dataclass(frozen=True)
class PoolSettings:
    """What `nutx pool start` configures (DESIGN.md §1)."""

    network: str
    payout_script: bytes
    network_difficulty: Fraction | None
    maturity: int
    vardiff: VardiffConfig


class Pool:
    """Everything the pool does between the node, the mint and the miners."""

    def __init__(self, mint: Mint, node: NodeClient, settings: PoolSettings) -> None:
        self.mint = mint
        self.node = node
        self.settings = settings
        self.k_max: int = mint.k_max
        self.events = EventHub()
        self.started_at = time.time()
        self.channels: dict[int, Channel] = {}
        self.template: Template | None = None
        self.tip: Tip | None = None
        self.epoch: int = 0
        self.keyset: EcashKeyset | None = None
        self.known_keysets: set[str] = set()
        self.seen: set[bytes] = set()
        self.our_blocks: dict[str, int] = {}  # block hash → θ_B, for blocks this process submitted
        self._channel_keys = 0
        self._template_ids = 0
        self._extranonce_prefix = int.from_bytes(os.urandom(4), "big")
        self._epoch_lock = asyncio.Lock()
        self._share_tasks: set[asyncio.Task[None]] = (
            set()
        )  # block shares and retargets (signatures: _signing)
        self._signing = 0  # mint.sign_share calls in flight
        self._signed_all = asyncio.Event()
        self._signed_all.set()
        self._outbox: dict[Connection, list[Message]] = {}
        self._connections: dict[int, Connection] = {}  # channel key → its connection
        self.history: deque[dict[str, float]] = deque(maxlen=HISTORY_SAMPLES)
        self._epochs: list[dict[str, Any]] = []  # EPOCH JSON of every epoch, re-read every few seconds
        self._epochs_read_at = 0.0

    # -- node ------------------------------------------------------------------------------------------

    async def rpc(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.to_thread(fn, *args)

    async def _fetch_template(self) -> Template:
        gbt = await self.rpc(self.node.getblocktemplate)
        self._template_ids += 1
        return template_from_gbt(
            gbt,
            self._template_ids,
            self.settings.payout_script,
            simulated_difficulty=self.settings.network_difficulty,
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

    # -- start, epochs, tip changes --------------------------------------------------------------------

    async def start(self) -> None:
        """Resume the open epoch, or close it once if the chain moved while the pool was down."""
        template = await self._fetch_template()
        tip = Tip(template.prev_hash_hex, template.height - 1)
        self.known_keysets = {e.keyset_id for e in self.mint.epochs()}
        current = self.mint.current_epoch()
        if current is None:
            current = self.mint.open_epoch(tip_hash=tip.hash, height=tip.height, now=int(time.time()))
        elif (start := Tip(*self.mint.epoch_start(current.epoch))).hash != tip.hash:
            current = await self._close_and_open(start, current.epoch, tip)
        self._enter_epoch(current.epoch, tip, template)
        await self._scan_maturity()

    def _enter_epoch(self, epoch: int, tip: Tip, template: Template) -> None:
        self._epochs_read_at = 0.0
        self.epoch = epoch
        self.tip = tip
        self.template = template
        self.keyset = self._ecash_keyset(epoch)
        self.known_keysets.add(self.keyset.keyset_id.hex())
        self.seen = set()

    def _ecash_keyset(self, epoch: int) -> EcashKeyset:
        keyset = self.mint.ehash_keyset(epoch)
        return EcashKeyset(
            keyset_id=bytes.fromhex(keyset.id),
            unit="ehash",
            epoch=epoch,
            k_max=self.k_max,
            keys=[(a, keyset.public_keys[a]) for a in sorted(keyset.public_keys)],
        )

    async def _close_and_open(self, start: Tip, epoch: int, new_tip: Tip) -> Epoch:
        """Close `epoch` (started at `start`) by the won/lost rule and open the next at `new_tip`."""
        block_at_next = await self._hash_at(start.height + 1, new_tip)
        theta_b = await self._is_ours(block_at_next)
        ours = {block_at_next} if block_at_next is not None and theta_b is not None else set()
        outcome = decide_outcome(start, block_at_next, ours)
        now = int(time.time())
        if outcome.status == "won":
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
        closed = self.mint.epoch(epoch)
        self.events.publish({"type": "epoch", **closed.to_json()})
        if outcome.status == "won":
            self.events.publish({"type": "block", **self._block_json(closed.to_json())})
        opened = self.mint.open_epoch(tip_hash=new_tip.hash, height=new_tip.height, now=now)
        self.events.publish({"type": "epoch", **opened.to_json()})
        return opened

    async def _on_tip_change(self) -> None:
        async with self._epoch_lock:
            template = await self._fetch_template()
            tip = Tip(template.prev_hash_hex, template.height - 1)
            assert self.tip is not None
            if not tip_changed(self.tip, tip):
                return
            for channel in self.channels.values():
                channel.jobs.invalidate()
            await self._signed_all.wait()
            opened = await self._close_and_open(self.tip, self.epoch, tip)
            self._enter_epoch(opened.epoch, tip, template)
            for channel in list(self.channels.values()):
                self._send_new_epoch(channel)
        await self._scan_maturity()

    async def _scan_maturity(self) -> None:
        """Count confirmations of won epochs; mark those whose block left the best chain orphaned."""
        checked = 0
        for info in self.mint.epochs():
            if info.status not in ("won", "mature") or info.block_hash is None:
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
            self.events.publish({"type": "epoch", **self.mint.epoch(info.epoch).to_json()})
            self._epochs_read_at = 0.0

    async def _refresh_template(self) -> None:
        """A new template on the same tip: an immediately active job for every channel."""
        async with self._epoch_lock:
            template = await self._fetch_template()
            if self.tip is None or template.prev_hash_hex != self.tip.hash:
                return
            self.template = template
            for channel in list(self.channels.values()):
                self._send_job(channel, future=False)

    async def run_tip_watch(self, stop: asyncio.Event) -> None:
        """Poll the tip (≤ 1 s on loopback) and refresh the template periodically."""
        last_refresh = time.monotonic()
        while not stop.is_set():
            try:
                best = await self.rpc(self.node.getbestblockhash)
                if self.tip is not None and best != self.tip.hash:
                    await self._on_tip_change()
                    last_refresh = time.monotonic()
                elif time.monotonic() - last_refresh > TEMPLATE_REFRESH_SECONDS:
                    await self._refresh_template()
                    last_refresh = time.monotonic()
            except NutxError as exc:
                log.warning("node: %s", exc)
                await _sleep_or_stop(stop, 2.0)
            except Exception:  # keep following the chain whatever one round did
                log.exception("following the chain failed; retrying")
                await _sleep_or_stop(stop, 2.0)
            await _sleep_or_stop(stop, TIP_POLL_SECONDS)

    async def run_vardiff(self, stop: asyncio.Event) -> None:
        """Catch channels whose shares stopped coming (too hard a level)."""
        while not stop.is_set():
            await _sleep_or_stop(stop, VARDIFF_TICK_SECONDS)
            now = time.time()
            if not self.history or now - self.history[-1]["time"] >= 60:
                self.history.append({"time": int(now), "hashrate": self._pool_hashrate(now)})
            for channel in list(self.channels.values()):
                new = channel.vardiff.check(now)
                if new is not None:
                    await self._retarget(channel)

    async def wait_shares(self) -> None:
        """Let every share already received finish (used at shutdown)."""
        await self._signed_all.wait()
        if self._share_tasks:
            await asyncio.gather(*self._share_tasks, return_exceptions=True)

    # -- jobs to channels ------------------------------------------------------------------------------

    def _send(self, channel: Channel, *messages: Message) -> None:
        """Queue messages to a channel without waiting: a miner that stops reading never stalls the pool."""
        conn = self._connections.get(channel.key)
        if conn is None or conn.closed:
            return
        with contextlib.suppress(NutxError):
            for message in messages:
                conn.send_nowait(message)

    def _send_job(self, channel: Channel, *, future: bool) -> None:
        assert self.template is not None and self.keyset is not None
        job = channel.jobs.new_job(
            channel.channel_id,
            self.template,
            channel.level,
            self.epoch,
            self.keyset.keyset_id.hex(),
            future=future,
        )
        if future:
            self._send(channel, job.message, channel.jobs.activate(job))
        else:
            self._send(channel, job.message)

    def _send_new_epoch(self, channel: Channel) -> None:
        """SetEcashKeyset before the SetNewPrevHash that starts the epoch (stratum.md §6.5.1)."""
        assert self.template is not None and self.keyset is not None
        job = channel.jobs.new_job(
            channel.channel_id,
            self.template,
            channel.level,
            self.epoch,
            self.keyset.keyset_id.hex(),
            future=True,
        )
        self._send(
            channel,
            SetEcashKeyset(channel_id=channel.channel_id, keyset=self.keyset),
            job.message,
            channel.jobs.activate(job),
        )

    async def _retarget(self, channel: Channel) -> None:
        """SetTarget, then a fresh job at the new level so it applies at once (stratum.md §6.5.2)."""
        async with self._epoch_lock:  # the job must be on the current template and epoch
            channel.stats.level = channel.level
            self._send(
                channel,
                SetTarget(channel_id=channel.channel_id, maximum_target=target_of_level(channel.level)),
            )
            self._send_job(channel, future=False)
        self.events.publish({"type": "channel", **channel.stats.to_json(time.time())})

    # -- connections -----------------------------------------------------------------------------------

    async def handle_connection(self, conn: Connection) -> None:
        """One miner connection: setup, extension negotiation, channels, shares, redeems."""
        setup = await conn.recv()
        if not isinstance(setup, SetupConnection):
            await conn.send(SetupConnectionError(flags=0, error_code="connection-setup-expected"))
            return
        if setup.protocol != 0:
            await conn.send(SetupConnectionError(flags=0, error_code="unsupported-protocol"))
            return
        if not setup.min_version <= 2 <= setup.max_version:
            await conn.send(SetupConnectionError(flags=0, error_code="protocol-version-mismatch"))
            return
        if setup.flags & REQUIRES_WORK_SELECTION:
            await conn.send(
                SetupConnectionError(flags=REQUIRES_WORK_SELECTION, error_code="unsupported-feature-flags")
            )
            return
        await conn.send(SetupConnectionSuccess(used_version=2, flags=0))
        ecash = False
        mine: dict[int, Channel] = {}
        try:
            async for msg in conn:
                if isinstance(msg, SubmitSharesEcashExtended):
                    channel = mine.get(msg.channel_id)
                    if channel is None:
                        await conn.send(
                            SubmitSharesEcashExtendedError(
                                channel_id=msg.channel_id,
                                sequence_number=msg.sequence_number,
                                error_code="invalid-channel-id",
                            )
                        )
                        continue
                    self._on_share(channel, conn, msg)
                elif isinstance(msg, RequestExtensions):
                    if ECASH_EXTENSION in msg.requested_extensions:
                        ecash = True
                        await conn.send(
                            RequestExtensionsSuccess(
                                request_id=msg.request_id, supported_extensions=[ECASH_EXTENSION]
                            )
                        )
                    else:
                        await conn.send(
                            RequestExtensionsError(
                                request_id=msg.request_id,
                                unsupported_extensions=list(msg.requested_extensions),
                                required_extensions=[ECASH_EXTENSION],
                            )
                        )
                elif isinstance(msg, OpenExtendedEcashMiningChannel):
                    if not ecash:
                        await conn.send(
                            OpenMiningChannelError(request_id=msg.request_id, error_code="ecash-required")
                        )
                        continue
                    channel = await self._open_channel(conn, msg, mine)
                    if channel is not None:
                        mine[channel.channel_id] = channel
                elif isinstance(msg, (OpenStandardMiningChannel, OpenExtendedMiningChannel)):
                    await conn.send(
                        OpenMiningChannelError(request_id=msg.request_id, error_code="ecash-required")
                    )
                elif isinstance(msg, (SubmitSharesExtended, SubmitSharesStandard)):
                    await conn.send(
                        SubmitSharesError(
                            channel_id=msg.channel_id,
                            sequence_number=msg.sequence_number,
                            error_code="ecash-required",
                        )
                    )
                elif isinstance(msg, UpdateChannel):
                    await self._update_channel(conn, mine, msg)
                elif isinstance(msg, CloseChannel):
                    closed = mine.pop(msg.channel_id, None)
                    if closed is not None:
                        self._drop_channel(closed)
                elif isinstance(msg, RedeemSharesEcash):
                    await conn.send(await self._redeem(msg))
                else:
                    log.debug("ignoring %s from %s", type(msg).__name__, conn.peer)
        finally:
            for channel in mine.values():
                self._drop_channel(channel)

    async def _open_channel(
        self, conn: Connection, msg: OpenExtendedEcashMiningChannel, mine: dict[int, Channel]
    ) -> Channel | None:
        def refuse(code: str) -> OpenMiningChannelError:
            return OpenMiningChannelError(request_id=msg.request_id, error_code=code)

        if msg.unit not in ("", "ehash"):
            await conn.send(refuse("unsupported-unit"))
            return None
        if msg.min_extranonce_size > EXTRANONCE_SIZE:
            await conn.send(refuse("min-extranonce-size-too-large"))
            return None
        now = time.time()
        try:
            vardiff = Vardiff(self.settings.vardiff, float(msg.nominal_hash_rate), msg.max_target, now)
        except VardiffError:
            await conn.send(refuse("max-target-out-of-range"))
            return None
        async with self._epoch_lock:  # a channel opened during a tip change starts in the new epoch
            return await self._add_channel(conn, msg, mine, vardiff, now)

    async def _add_channel(
        self,
        conn: Connection,
        msg: OpenExtendedEcashMiningChannel,
        mine: dict[int, Channel],
        vardiff: Vardiff,
        now: float,
    ) -> Channel:
        assert self.keyset is not None
        self._channel_keys += 1
        channel_id = max(mine, default=1) + 1  # id 1 is the connection's group
        self._extranonce_prefix = (self._extranonce_prefix + 1) % (1 << 32)
        prefix = self._extranonce_prefix.to_bytes(4, "big")
        channel = Channel(
            key=self._channel_keys,
            channel_id=channel_id,
            user=msg.user_identity,
            jobs=ChannelJobs(prefix),
            vardiff=vardiff,  # every job allows version rolling (BIP323 bits)
            stats=ChannelStats(
                id=self._channel_keys, user=msg.user_identity, level=vardiff.level, opened_at=now
            ),
        )
        self.channels[channel.key] = channel
        self._connections[channel.key] = conn
        conn.send_nowait(
            OpenExtendedEcashMiningChannelSuccess(
                request_id=msg.request_id,
                channel_id=channel_id,
                target=target_of_level(channel.level),
                extranonce_size=EXTRANONCE_SIZE,
                extranonce_prefix=prefix,
                group_channel_id=1,
                keyset=self.keyset,
            )
        )
        self._send_job(channel, future=True)
        self.events.publish({"type": "channel", **channel.stats.to_json(now)})
        log.info("channel %d open for %r at level %d", channel.key, channel.user, channel.level)
        return channel

    def _drop_channel(self, channel: Channel) -> None:
        self.channels.pop(channel.key, None)
        self._connections.pop(channel.key, None)

    async def _update_channel(self, conn: Connection, mine: dict[int, Channel], msg: UpdateChannel) -> None:
        channel = mine.get(msg.channel_id)
        if channel is None:
            await conn.send(UpdateChannelError(channel_id=msg.channel_id, error_code="invalid-channel-id"))
            return
        try:
            new = channel.vardiff.update(float(msg.nominal_hash_rate), msg.maximum_target, time.time())
        except VardiffError:
            await conn.send(
                UpdateChannelError(channel_id=msg.channel_id, error_code="max-target-out-of-range")
            )
            return
        if new is not None:
            await self._retarget(channel)

    # -- shares ----------------------------------------------------------------------------------------

    def _track(self, task: asyncio.Task[None]) -> None:
        """Remember a task a share started until it is done (`wait_shares` awaits it at shutdown)."""
        self._share_tasks.add(task)
        task.add_done_callback(self._share_tasks.discard)

    def _on_share(self, channel: Channel, conn: Connection, share: SubmitSharesEcashExtended) -> None:
        """Check a share and have the mint sign it; the answer goes out once the signature is durable.

        No task per share: the common share is checked and signed right here and finished by a
        callback on its signature's future; only a block-finding share takes a task (it must hold
        the epoch lock across submitblock and signing).
        """
        now = time.time()
        try:
            checked = check_share(
                share,
                channel.jobs,
                extranonce_size=EXTRANONCE_SIZE,
                k_max=self.k_max,
                known_keysets=self.known_keysets,
                seen=self.seen,
                now=int(now),
            )
        except ShareRejected as exc:
            self._reject(channel, conn, share, exc.code, now)
            return
        self.seen.add(checked.hash)
        if checked.is_block:
            self._track(asyncio.create_task(self._on_block_share(channel, conn, share, checked, now)))
            return
        try:
            signing = self._sign(checked, share)
        except MintError as exc:
            self.seen.discard(checked.hash)
            self._reject(channel, conn, share, exc.name, now)
            return
        signing.add_done_callback(functools.partial(self._on_signed, channel, conn, share, checked, now))

    def _on_signed(
        self,
        channel: Channel,
        conn: Connection,
        share: SubmitSharesEcashExtended,
        checked: CheckedShare,
        now: float,
        signing: asyncio.Future[BlindSig],
    ) -> None:
        if signing.cancelled():
            self.seen.discard(checked.hash)
            return
        exc = signing.exception()
        if exc is None:
            self._accept(channel, conn, share, checked, signing.result(), now)
            return
        self.seen.discard(checked.hash)
        if isinstance(exc, MintError):
            self._reject(channel, conn, share, exc.name, now)
        else:
            log.error("signing a share failed: %r", exc)

    async def _on_block_share(
        self,
        channel: Channel,
        conn: Connection,
        share: SubmitSharesEcashExtended,
        checked: CheckedShare,
        now: float,
    ) -> None:
        try:
            async with self._epoch_lock:
                if checked.job.epoch != self.epoch:
                    raise ShareRejected("stale-share")
                await self._submit_block(checked)
                sig = await self._sign(checked, share)
        except ShareRejected as exc:
            self.seen.discard(checked.hash)
            self._reject(channel, conn, share, exc.code, now)
            return
        except MintError as exc:
            self.seen.discard(checked.hash)
            self._reject(channel, conn, share, exc.name, now)
            return
        except BaseException:
            self.seen.discard(checked.hash)
            raise
        self._accept(channel, conn, share, checked, sig, now)

    def _accept(
        self,
        channel: Channel,
        conn: Connection,
        share: SubmitSharesEcashExtended,
        checked: CheckedShare,
        sig: BlindSig,
        now: float,
    ) -> None:
        channel.stats.record_accepted(checked.level, checked.hash_int, now)
        blinded = share.blinded_message
        self._reply(
            conn,
            SubmitSharesEcashExtendedSuccess(
                channel_id=share.channel_id,
                sequence_number=share.sequence_number,
                signature=BlindSignature(
                    amount=checked.amount,
                    keyset_id=blinded.keyset_id,
                    blinded_signature=sig.C_,
                    dleq_e=sig.e,
                    dleq_s=sig.s,
                ),
            ),
        )
        if self.events.has_subscribers:
            self.events.publish(
                {
                    "type": "share",
                    "channel": channel.key,
                    "level": checked.level,
                    "amount": checked.amount,
                    "accepted": True,
                    "reason": None,
                    "time": int(now),
                }
            )
        if channel.vardiff.on_share(now) is not None:
            self._track(asyncio.create_task(self._retarget(channel)))

    def _reply(self, conn: Connection, message: Message) -> None:
        """Queue a share answer; the answers of one group commit leave in one write per connection."""
        queued = self._outbox.get(conn)
        if queued is None:
            self._outbox[conn] = [message]
            asyncio.get_running_loop().call_soon(self._flush, conn)
        else:
            queued.append(message)

    def _flush(self, conn: Connection) -> None:
        messages = self._outbox.pop(conn, [])
        if messages and not conn.closed:
            with contextlib.suppress(NutxError):  # like `_send`: never wait on a miner's socket
                conn.send_many_nowait(messages)

    def _sign(self, checked: CheckedShare, share: SubmitSharesEcashExtended) -> asyncio.Future[BlindSig]:
        """The mint signs now (MintError if it cannot); the future resolves once the signature is durable."""
        signing = self.mint.sign_share_nowait(
            keyset_id=checked.job.keyset_id, amount=checked.amount, B_=share.blinded_message.blinded_secret
        )
        self._signing += 1
        self._signed_all.clear()
        signing.add_done_callback(self._signature_done)
        return signing

    def _signature_done(self, _: asyncio.Future[BlindSig]) -> None:
        self._signing -= 1
        if not self._signing:
            self._signed_all.set()

    def _reject(
        self, channel: Channel, conn: Connection, share: SubmitSharesEcashExtended, code: str, now: float
    ) -> None:
        channel.stats.record_rejected(code)
        self._reply(
            conn,
            SubmitSharesEcashExtendedError(
                channel_id=share.channel_id, sequence_number=share.sequence_number, error_code=code
            ),
        )
        if self.events.has_subscribers:
            self.events.publish(
                {
                    "type": "share",
                    "channel": channel.key,
                    "level": channel.level,
                    "amount": share.blinded_message.amount,
                    "accepted": False,
                    "reason": code,
                    "time": int(now),
                }
            )

    async def _submit_block(self, checked: CheckedShare) -> None:
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

    async def _redeem(self, msg: RedeemSharesEcash) -> Message:
        """RedeemSharesEcash: the same operation as `POST /v1/mining/redeem`, through the mint."""
        try:
            proofs = [
                ModelProof(
                    amount=p.amount,
                    id=p.keyset_id.hex(),
                    secret=p.secret.decode("utf-8"),
                    C=p.signature.hex(),
                    witness=p.witness.decode("utf-8") or None,
                )
                for p in msg.proofs
            ]
            outputs = [
                ModelBlindedMessage(amount=o.amount, id=o.keyset_id.hex(), B_=o.blinded_secret.hex())
                for o in msg.outputs
            ]
            signatures = await asyncio.to_thread(self.mint.redeem, proofs, outputs)
        except UnicodeDecodeError:
            return RedeemSharesEcashError(
                request_id=msg.request_id, error_code="proof-invalid", failed_indexes=[]
            )
        except MintError as exc:
            return RedeemSharesEcashError(
                request_id=msg.request_id, error_code=exc.name, failed_indexes=[]
            )  # the mint names no index
        except NutxError:  # a malformed proof or output the mint's models refused
            return RedeemSharesEcashError(
                request_id=msg.request_id, error_code="malformed-request", failed_indexes=[]
            )
        return RedeemSharesEcashSuccess(
            request_id=msg.request_id,
            signatures=[
                BlindSignature(
                    amount=s.amount,
                    keyset_id=bytes.fromhex(s.id),
                    blinded_signature=bytes.fromhex(s.C_),
                    dleq_e=bytes.fromhex(s.dleq.e) if s.dleq else bytes(32),
                    dleq_s=bytes.fromhex(s.dleq.s) if s.dleq else bytes(32),
                )
                for s in signatures
            ],
        )

    # -- statistics ------------------------------------------------------------------------------------

    @staticmethod
    def _block_json(epoch: dict[str, Any]) -> dict[str, Any]:
        return {
            "height": epoch["height"],
            "hash": epoch["block_hash"],
            "epoch": epoch["epoch"],
            "time": epoch["ended_at"],
            "theta_b": epoch["theta_b"],
            "status": epoch["status"],
        }

    def stats_json(self) -> dict[str, Any]:
        """`GET /v1/pool/stats` (DESIGN.md §5) plus `"epochs"`, newest first."""
        now = time.time()
        channels = [c.stats.to_json(now) for c in self.channels.values()]
        if now - self._epochs_read_at > EPOCHS_CACHE_SECONDS:
            self._epochs = [e.to_json() for e in self.mint.epochs()]
            self._epochs_read_at = now
        current = {**self.mint.epoch(self.epoch).to_json()}
        current["age"] = max(0, int(now) - int(current["started_at"]))
        epochs = [current if e["epoch"] == self.epoch else e for e in self._epochs]
        blocks = [self._block_json(e) for e in epochs if e["block_hash"] is not None]
        return {
            "pool": {
                "hashrate": self._pool_hashrate(now),
                "channels": len(channels),
                "blocks_found": len(blocks),
                "uptime": int(now - self.started_at),
                "network": self.settings.network,
                "tip": {
                    "height": self.tip.height if self.tip else None,
                    "hash": self.tip.hash if self.tip else None,
                },
                "k_max": self.k_max,
            },
            "channels": channels,
            "levels": levels_json([c.stats for c in self.channels.values()]),
            "epoch": current,
            "blocks": blocks,
            "epochs": epochs,
            "hashrate_history": list(self.history),
        }

    def _pool_hashrate(self, now: float) -> float:
        return sum(c.stats.hashrate(now)["5m"] for c in self.channels.values())


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
