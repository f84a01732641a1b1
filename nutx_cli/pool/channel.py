"""The pool's open channels: each one's jobs, level controller, statistics and wire, and the jobs
they are sent (stratum.md §5.4, §6.5).

Every kind of channel (`session.ChannelKind`: ecash, extended and standard SV2, and SV1) is one
`Channel` here; what differs on the wire is its `wire.Wire`. Every job is made on the current epoch's
template and keyset. Opening a channel and retargeting one take the epoch lock, so a channel opened or
retargeted during a tip change gets its job in the new epoch; the tip watch holds the same lock when it
calls `invalidate` and `start_epoch`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass

from nutx_cli.core.pool_stats import ChannelEvent
from nutx_cli.core.share_stats import ShareStats
from nutx_cli.core.vardiff import Vardiff
from nutx_cli.pool.current import CurrentEpoch
from nutx_cli.pool.events import EventHub
from nutx_cli.pool.jobs import ChannelJobs, Job
from nutx_cli.pool.session import ChannelKind, OpenChannel
from nutx_cli.pool.template import EXTRANONCE_PREFIX_SIZE, EXTRANONCE_SIZE
from nutx_cli.pool.wires import Wire

log = logging.getLogger(__name__)


@dataclass
class Channel:
    """One open channel; `key` is unique across the pool, `channel_id` within its connection.

    The miner rolls `extranonce_size` bytes after `jobs.extranonce_prefix` (none on a standard channel,
    whose prefix is the whole extranonce)."""

    key: int
    channel_id: int
    user: str
    kind: ChannelKind
    wire: Wire
    jobs: ChannelJobs
    vardiff: Vardiff
    stats: ShareStats
    extranonce_size: int

    @property
    def level(self) -> int:
        return self.vardiff.level

    @property
    def extranonce_prefix(self) -> bytes:
        return self.jobs.extranonce_prefix


class Channels:
    """Every open channel of the pool."""

    def __init__(
        self,
        current: CurrentEpoch,
        events: EventHub,
        prefixes: range = range(1 << (8 * EXTRANONCE_PREFIX_SIZE)),
    ) -> None:
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

    def new_prefix(self) -> bytes:
        """The next extranonce prefix: unique among the channels of this pool process, in its front end's slice."""
        self._next_prefix += 1
        return self._prefixes[self._next_prefix % len(self._prefixes)].to_bytes(EXTRANONCE_PREFIX_SIZE, "big")

    async def open(self, wire: Wire, action: OpenChannel, prefix: bytes | None = None) -> Channel:
        """The open's Success, then the first job (a future job and its SetNewPrevHash).

        `prefix` is the extranonce prefix the miner was already given (an SV1 subscribe), else a new one."""
        async with self.current.lock:  # a channel opened during a tip change starts in the new epoch
            self._keys += 1
            prefix = prefix or self.new_prefix()
            size = EXTRANONCE_SIZE
            if action.kind is ChannelKind.STANDARD:  # the device rolls no extranonce: the pool fixes it all
                prefix, size = prefix + bytes(EXTRANONCE_SIZE), 0
            channel = Channel(
                key=self._keys,
                channel_id=action.channel_id,
                user=action.user,
                kind=action.kind,
                wire=wire,
                jobs=ChannelJobs(prefix),  # every job allows version rolling (BIP323 bits)
                vardiff=action.vardiff,
                stats=ShareStats(
                    id=self._keys, user=action.user, level=action.vardiff.level, opened_at=action.now
                ),
                extranonce_size=size,
            )
            self._open[channel.key] = channel
            wire.opened(channel, action.request_id, self.current.keyset)
            self.send_job(channel, future=True)
        self.events.publish(ChannelEvent(channel.stats.summary(action.now)).to_json())
        log.info(
            "%s channel %d open for %r at level %d", channel.kind, channel.key, channel.user, channel.level
        )
        return channel

    def drop(self, channel: Channel) -> None:
        self._open.pop(channel.key, None)

    def send_job(self, channel: Channel, *, future: bool) -> None:
        """A job on the current template; a future one goes out with the SetNewPrevHash that activates it."""
        job = self._new_job(channel, future=future)
        activation = channel.jobs.activate(job) if future else None
        channel.wire.job(channel, job, activation, self.current.keyset)

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
            channel.wire.new_epoch(channel, self.current.keyset)
            self.send_job(channel, future=True)

    async def retarget(self, channel: Channel, now: float) -> None:
        """SetTarget, then a fresh job at the new level so it applies at once (stratum.md §6.5.2)."""
        async with self.current.lock:  # the job must be on the current template and epoch
            channel.stats.level = channel.level
            channel.wire.target(channel)
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
