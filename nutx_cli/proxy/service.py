"""The proxy's asyncio side: SV1 listener, one upstream SV2 ecash channel per miner, shares into the wallet.

Each SV1 connection gets a `MinerSession` (the SV1 state machine) and a `JobTranslator`. When the
miner subscribes, the proxy opens its upstream ecash channel (`EcashChannel`, shared with the CPU
miner) and answers the subscribe with the channel's extranonce; every job the channel activates is
pushed as `set_difficulty` + `notify`, and every share the session accepts locally is forwarded with a
blinded message the proxy's wallet prepared (and stored) first. The pool's blind signature goes back
into the wallet (`complete_share`, which checks the DLEQ), an error releases the prepared secret.

Failure handling: a malformed line gets a JSON-RPC error and the connection stays; an oversized line or
lines past the message rate get one error and the connection is closed; a miner silent past the handshake or
idle timeout is disconnected (the listener's limits, `nutx_cli.sv1.server`); a miner that disconnects closes
its upstream channel; an upstream channel that closes disconnects its miner, which reconnects and gets a
fresh channel. Other miners never notice any of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from dataclasses import dataclass
from typing import Any, Protocol

from nutx_cli.core.bdhke import BlindSig
from nutx_cli.core.limits import ListenerLimits
from nutx_cli.core.share_stats import ShareStats
from nutx_cli.core.targets import U256_MAX, level_of_target
from nutx_cli.errors import NutxError
from nutx_cli.listener import close_stream
from nutx_cli.miner.channel import ChannelError, EcashChannel, Work
from nutx_cli.sv1.difficulty import difficulty_of_level
from nutx_cli.sv1.job import Sv1Job
from nutx_cli.sv1.protocol import Request, Sv1Error, encode, parse_line
from nutx_cli.sv1.server import SV1_LIMITS, PeerTimedOut, Sv1Reader, hang_up, unread_over_cap
from nutx_cli.sv1.session import (
    DifficultySuggested,
    Event,
    MinerSession,
    Ready,
    Send,
    ShareAccepted,
    ShareRejected,
    SubscribeRequested,
)
from nutx_cli.sv1.translator import REFRESH_SECONDS, JobTranslator, TranslatorError
from nutx_cli.sv2.ecash import EcashKeyset, SubmitSharesEcashExtendedSuccess
from nutx_cli.sv2.errors import Sv2Error
from nutx_cli.wallet import DleqFailure

log = logging.getLogger(__name__)

OPEN_TIMEOUT = 15.0
MIN_EXTRANONCE2_SIZE = 4
"""What SV1 miners handle everywhere; the pool may give more."""
UPSTREAM_USER = "nutx-proxy"
"""The user identity of every upstream channel: SV1 worker names stay on the proxy (its stats)."""
FLUSH_TIMEOUT = 5.0
"""How long a closing miner waits for the pool's answers to its shares in flight."""


class ShareWallet(Protocol):
    """What the proxy needs of `nutx_cli.wallet.Wallet`."""

    def prepare_share(self, keyset_id: str, amount: int, epoch: int) -> Any: ...

    def complete_share(self, prepared: Any, sig: BlindSig, K: bytes) -> Any: ...

    def fail_share(self, prepared: Any, reason: str) -> None: ...


@dataclass(frozen=True)
class Upstream:
    """Where the pool is: its SV2 address and pinned authority key (text form)."""

    host: str
    port: int
    authority_key: str


class Proxy:
    """All downstream miners, their channels, and the per-worker statistics."""

    def __init__(self, upstream: Upstream, wallet: ShareWallet, limits: ListenerLimits = SV1_LIMITS) -> None:
        self.upstream = upstream
        self.wallet = wallet
        self.limits = limits
        """The SV1 listener's limits; `channels_per_connection` caps the workers one connection authorizes."""
        self.miners: set[Downstream] = set()
        self.workers: dict[str, ShareStats] = {}
        self.started = time.time()
        self.keyset: EcashKeyset | None = None
        """The newest epoch keyset any channel has seen (for the stats)."""
        self._numbers = itertools.count(1)

    def worker(self, user: str, level: int) -> ShareStats:
        """The statistics of a worker, created when its first job is pushed (so it always has a level)."""
        stats = self.workers.get(user)
        if stats is None:
            stats = self.workers[user] = ShareStats(
                id=len(self.workers) + 1, user=user, level=level, opened_at=time.time()
            )
        return stats

    async def handle_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        miner = Downstream(self, writer, next(self._numbers))
        self.miners.add(miner)
        try:
            await miner.run(reader)
        finally:
            self.miners.discard(miner)
            await miner.close()

    def refresh_jobs(self) -> None:
        """Give every ready miner a fresh job id if its last notify is REFRESH_SECONDS old (§7.9)."""
        for miner in list(self.miners):
            miner.refresh(time.monotonic(), int(time.time()))

    async def refresh_forever(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            self.refresh_jobs()

    def stats_json(self) -> dict[str, Any]:
        now = time.time()
        workers = []
        for stats in self.workers.values():
            entry = stats.summary(now).to_json()
            entry["sv1_difficulty"] = difficulty_of_level(stats.level)
            entry["connections"] = sum(1 for m in self.miners if stats.user in m.session.users)
            workers.append(entry)
        channels = [m.channel for m in self.miners if m.channel is not None and not m.channel.closed]
        keyset = self.keyset
        return {
            "workers": workers,
            "upstream": {
                "pool": f"{self.upstream.host}:{self.upstream.port}",
                "miners": len(self.miners),
                "channels": len(channels),
                "epoch": keyset.epoch if keyset else None,
                "keyset_id": keyset.keyset_id.hex() if keyset else None,
                "uptime": int(now - self.started),
            },
        }

    async def close(self) -> None:
        await asyncio.gather(*(miner.close() for miner in list(self.miners)))


class Downstream:
    """One SV1 connection and its upstream channel."""

    def __init__(self, proxy: Proxy, writer: asyncio.StreamWriter, number: int) -> None:
        self.proxy = proxy
        self.writer = writer
        self.session = MinerSession(
            subscription_id=f"{number:08x}", max_users=proxy.limits.channels_per_connection
        )
        self.translator = JobTranslator()
        self.channel: EcashChannel | None = None
        self.peer = writer.get_extra_info("peername")
        self._last_notify = time.monotonic()
        self._tasks: set[asyncio.Task[None]] = set()
        """Shares on their way upstream."""
        self._watcher: asyncio.Task[None] | None = None
        self._closed = False

    # --- reading the miner ------------------------------------------------------------------------

    async def run(self, reader: asyncio.StreamReader) -> None:
        miner = Sv1Reader(reader, self.proxy.limits)
        try:
            while not self._closed:
                try:
                    lines = await miner.lines()
                except Sv1Error as exc:  # a line over the cap, or lines past the message rate
                    log.warning("miner %s: %s", self.peer, exc.message)
                    self._write(exc.response())
                    await hang_up(self.writer, reader)
                    return
                if not lines:
                    return
                for line in lines:
                    try:
                        message = parse_line(line)
                    except Sv1Error as exc:
                        self._write(exc.response())
                        continue
                    if isinstance(message, Request):
                        await self._handle(self.session.receive(message))
                await miner.drain(self.writer)
        except PeerTimedOut as exc:
            log.info("miner %s: %s; closing it", self.peer, exc)

    async def _handle(self, events: list[Event]) -> None:
        for event in events:
            if isinstance(event, Send):
                self._write(event.message)
            elif isinstance(event, SubscribeRequested):
                await self._handle(await self._open_channel())
            elif isinstance(event, Ready):
                job = self.translator.current_job
                if job is not None:
                    self._push(job)
            elif isinstance(event, DifficultySuggested):
                await self._suggest(event.max_target)
            elif isinstance(event, ShareAccepted):
                task = asyncio.create_task(self._forward(event))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            elif isinstance(event, ShareRejected) and event.worker in self.session.users:
                stats = self.proxy.workers.get(event.worker)  # None until the worker's first job
                if stats is not None:
                    stats.record_rejected(event.reason)

    def _write(self, message: Any) -> None:
        if self.writer.is_closing():
            return
        if unread_over_cap(self.writer, self.proxy.limits):
            log.warning("miner %s does not read what we send; disconnecting it", self.peer)
            self.writer.transport.abort()
            return
        self.writer.write(encode(message))

    # --- the upstream channel ---------------------------------------------------------------------

    async def _open_channel(self) -> list[Event]:
        up = self.proxy.upstream
        try:
            async with asyncio.timeout(OPEN_TIMEOUT):
                channel = await EcashChannel.open(
                    up.host,
                    up.port,
                    up.authority_key,
                    user=UPSTREAM_USER,
                    max_target=self.session.suggested_target or U256_MAX,
                    min_extranonce_size=MIN_EXTRANONCE2_SIZE,
                    vendor="nutx-proxy",
                )
        except (NutxError, OSError, TimeoutError) as exc:
            log.warning("cannot open an upstream channel for %s: %s", self.peer, exc)
            return self.session.subscribe_failed(f"upstream pool unavailable: {exc}")
        if self._closed:
            await channel.close()
            return []
        self.channel = channel
        channel.on_work = self._on_work
        self._watcher = asyncio.create_task(self._watch_channel(channel))
        log.info(
            "miner %s: upstream channel %d (extranonce %d+%d bytes)",
            self.peer,
            channel.channel_id,
            len(channel.extranonce_prefix),
            channel.extranonce_size,
        )
        if channel.work is not None:
            self._activate(channel.work)  # pushed by the Ready event, after the subscribe answer
        return self.session.subscribed(channel.extranonce_prefix, channel.extranonce_size)

    async def _watch_channel(self, channel: EcashChannel) -> None:
        await channel.wait_closed()
        if not self._closed:
            log.warning("upstream channel of %s closed; disconnecting the miner so it reconnects", self.peer)
            self.writer.close()

    def _on_work(self, work: Work) -> None:
        """An upstream job became active: translate it and push it if the miner is ready."""
        if work.extranonce_prefix != self.session.extranonce1:
            log.warning("upstream changed the extranonce prefix of %s; disconnecting the miner", self.peer)
            self.writer.close()
            return
        job = self._activate(work)
        if job is not None and self.session.ready:
            self._push(job)

    def _activate(self, work: Work) -> Sv1Job | None:
        keyset = work.ecash_keyset  # the proxy's channels are ecash channels
        if self.proxy.keyset is None or keyset.epoch >= self.proxy.keyset.epoch:
            self.proxy.keyset = keyset
        try:
            return self.translator.activate(work.job, work.prev, work.target, keyset)
        except TranslatorError as exc:
            log.warning("miner %s: %s", self.peer, exc)
            return None

    def _push(self, job: Sv1Job) -> None:
        for event in self.session.push_job(job):
            if isinstance(event, Send):
                self._write(event.message)
        self._last_notify = time.monotonic()
        level = level_of_target(job.target)
        for user in self.session.users:
            self.proxy.worker(user, level).level = level

    def refresh(self, monotonic_now: float, now: int) -> None:
        if not self.session.ready or monotonic_now - self._last_notify < REFRESH_SECONDS:
            return
        job = self.translator.refresh(now)
        if job is not None:
            self._push(job)

    async def _suggest(self, max_target: int) -> None:
        """A suggestion after the channel opened becomes UpdateChannel (before, it is the open's max_target)."""
        if self.channel is None or self.channel.closed:
            return
        with contextlib.suppress(Sv2Error):
            await self.channel.update(max_target)

    async def _forward(self, share: ShareAccepted) -> None:
        """Submit one locally accepted share upstream with a fresh blinded message from the wallet."""
        channel, job = self.channel, share.job
        assert channel is not None and self.session.extranonce1 is not None
        stats = self.proxy.worker(share.worker, level_of_target(job.target))
        wallet = self.proxy.wallet
        try:
            prepared = wallet.prepare_share(job.keyset.keyset_id.hex(), job.amount, job.keyset.epoch)
        except (NutxError, OSError) as exc:  # not stored, so not sent: nothing can be lost
            log.error(
                "wallet cannot store a share's secret, share of %s not forwarded: %s", share.worker, exc
            )
            stats.record_rejected("wallet-error")
            return
        work = Work(
            job.upstream,
            job.prev,
            self.session.extranonce1,
            self.session.extranonce2_size,
            job.target,
            job.keyset,
        )
        try:
            answer = await channel.submit(
                work,
                nonce=share.nonce,
                ntime=share.ntime,
                version=share.version,
                extranonce=share.extranonce2,
                B_=prepared.B_,
            )
        except (ChannelError, Sv2Error) as exc:
            wallet.fail_share(prepared, f"upstream: {exc}")
            stats.record_rejected("upstream-closed")
            return
        if not isinstance(answer, SubmitSharesEcashExtendedSuccess):
            wallet.fail_share(prepared, answer.error_code)
            stats.record_rejected(answer.error_code)
            log.info("worker %s: share rejected upstream: %s", share.worker, answer.error_code)
            return
        sig = answer.signature
        try:
            wallet.complete_share(prepared, sig.blind_sig(), job.keyset.key_for(job.amount))
        except (NutxError, OSError) as exc:
            log.error("worker %s: the pool's signature was not stored: %s", share.worker, exc)
            stats.record_rejected("dleq-failure" if isinstance(exc, DleqFailure) else "wallet-error")
            return
        stats.record_accepted(
            level_of_target(job.target), int.from_bytes(share.header_hash, "little"), time.time()
        )

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._watcher is not None:
            self._watcher.cancel()
        if self._tasks:  # let shares in flight get their signatures before the channel goes
            await asyncio.wait(list(self._tasks), timeout=FLUSH_TIMEOUT)
        if self.channel is not None:
            await self.channel.close()
        await close_stream(self.writer)
