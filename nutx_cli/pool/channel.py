"""The pool's open channels: each one's jobs, level controller, statistics and connection, and the jobs
they are sent (stratum.md §5.4, §6.5).

Every job is made on the current epoch's template and keyset. Opening a channel and retargeting one take
the epoch lock, so a channel opened or retargeted during a tip change gets its job in the new epoch; the
tip watch holds the same lock when it calls `invalidate` and `start_epoch`.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

from nutx_cli.core.pool_stats import ChannelEvent
from nutx_cli.core.share_stats import ShareStats
from nutx_cli.core.targets import target_of_level
from nutx_cli.core.vardiff import Vardiff
from nutx_cli.errors import NutxError
from nutx_cli.pool.current import CurrentEpoch
from nutx_cli.pool.events import EventHub
from nutx_cli.pool.jobs import ChannelJobs, Job
from nutx_cli.pool.session import GROUP_CHANNEL_ID, OpenEcashChannel
from nutx_cli.pool.template import EXTRANONCE_SIZE
from nutx_cli.sv2.ecash import OpenExtendedEcashMiningChannelSuccess, SetEcashKeyset
from nutx_cli.sv2.messages import Message, SetTarget

log = logging.getLogger(__name__)


class Peer(Protocol):
    """Where a channel's messages go: its SV2 `Connection`. Nothing here waits for a miner's socket."""

    @property
    def closed(self) -> bool: ...

    def send_nowait(self, message: Message) -> None: ...

    def send_many_nowait(self, messages: list[Message]) -> None: ...


@dataclass
class Channel:
    """One open ecash channel; `key` is unique across the pool, `channel_id` within its connection."""

    key: int
    channel_id: int
    user: str
    peer: Peer
    jobs: ChannelJobs
    vardiff: Vardiff
    stats: ShareStats

    @property
    def level(self) -> int:
        return self.vardiff.level

    def send(self, *messages: Message) -> None:
        """Queue messages without waiting: a miner that stops reading never stalls the pool."""
        if self.peer.closed:
            return
        with contextlib.suppress(NutxError):
            for message in messages:
                self.peer.send_nowait(message)


class Channels:
    """Every open channel of the pool."""

    def __init__(self, current: CurrentEpoch, events: EventHub, prefixes: range = range(1 << 32)) -> None:
        """`prefixes`: the extranonce prefixes this process hands out (its front end's slice)."""
        self.current = current
        self.events = events
        self._open: dict[int, Channel] = {}
        self._keys = 0
        self._prefixes = prefixes
        self._next_prefix = int.from_bytes(os.urandom(4), "big")

    def __iter__(self) -> Iterator[Channel]:
        return iter(list(self._open.values()))

    def __len__(self) -> int:
        return len(self._open)

    async def open(self, peer: Peer, action: OpenEcashChannel) -> Channel:
        """The Success with the epoch keyset, then the first job (a future job and its SetNewPrevHash)."""
        async with self.current.lock:  # a channel opened during a tip change starts in the new epoch
            self._keys += 1
            self._next_prefix += 1
            prefix = self._prefixes[self._next_prefix % len(self._prefixes)].to_bytes(4, "big")
            channel = Channel(
                key=self._keys,
                channel_id=action.channel_id,
                user=action.user,
                peer=peer,
                jobs=ChannelJobs(prefix),  # every job allows version rolling (BIP323 bits)
                vardiff=action.vardiff,
                stats=ShareStats(
                    id=self._keys, user=action.user, level=action.vardiff.level, opened_at=action.now
                ),
            )
            self._open[channel.key] = channel
            channel.send(
                OpenExtendedEcashMiningChannelSuccess(
                    request_id=action.request_id,
                    channel_id=channel.channel_id,
                    target=target_of_level(channel.level),
                    extranonce_size=EXTRANONCE_SIZE,
                    extranonce_prefix=prefix,
                    group_channel_id=GROUP_CHANNEL_ID,
                    keyset=self.current.keyset,
                )
            )
            self.send_job(channel, future=True)
        self.events.publish(ChannelEvent(channel.stats.summary(action.now)).to_json())
        log.info("channel %d open for %r at level %d", channel.key, channel.user, channel.level)
        return channel

    def drop(self, channel: Channel) -> None:
        self._open.pop(channel.key, None)

    def send_job(self, channel: Channel, *, future: bool) -> None:
        """A job on the current template; a future one goes out with the SetNewPrevHash that activates it."""
        job = self._new_job(channel, future=future)
        if future:
            channel.send(job.message, channel.jobs.activate(job))
        else:
            channel.send(job.message)

    def refresh(self) -> None:
        """A new template on the same tip: an immediately active job for every channel (under the lock)."""
        for channel in self:
            self.send_job(channel, future=False)

    def invalidate(self) -> None:
        """Every job of every channel goes stale: nothing more is signed for the closing epoch (under the lock)."""
        for channel in self:
            channel.jobs.invalidate()

    def start_epoch(self) -> None:
        """SetEcashKeyset before the SetNewPrevHash that starts the new epoch (stratum.md §6.5.1; under the lock)."""
        for channel in self:
            job = self._new_job(channel, future=True)
            channel.send(
                SetEcashKeyset(channel_id=channel.channel_id, keyset=self.current.keyset),
                job.message,
                channel.jobs.activate(job),
            )

    async def retarget(self, channel: Channel, now: float) -> None:
        """SetTarget, then a fresh job at the new level so it applies at once (stratum.md §6.5.2)."""
        async with self.current.lock:  # the job must be on the current template and epoch
            channel.stats.level = channel.level
            channel.send(
                SetTarget(channel_id=channel.channel_id, maximum_target=target_of_level(channel.level))
            )
            self.send_job(channel, future=False)
        self.events.publish(ChannelEvent(channel.stats.summary(now)).to_json())

    def _new_job(self, channel: Channel, *, future: bool) -> Job:
        current = self.current
        return channel.jobs.new_job(
            channel.channel_id,
            current.template,
            channel.level,
            current.number,
            current.keyset_id,
            future=future,
        )
