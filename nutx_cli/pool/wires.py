"""How each kind of channel talks to its miner: the open's answer, jobs, targets, new epochs, share answers.

The pool's channel logic (`channel`, `inflight`) is the same for every kind; a `Wire` turns its events
into what the channel's protocol says. `Sv2Wire` serves the SV2 kinds of `session.ChannelKind`:
- ecash: `OpenExtendedEcashMiningChannel.Success` with the keyset, `NewExtendedMiningJob`,
  `SetEcashKeyset` before the prev hash of a new epoch, `SubmitSharesEcashExtended.Success` with C_ and
  the DLEQ proof;
- extended: `OpenExtendedMiningChannel.Success`, `NewExtendedMiningJob`, core `SubmitShares.Success`;
- standard: `OpenStandardMiningChannel.Success` with the channel's whole extranonce as its prefix, and
  `NewMiningJob` whose merkle root the pool computes from it (stratum.md §5.5), core `SubmitShares.Success`.
A claim channel's Success is per share (`new_submits_accepted_count` 1) and its `new_shares_sum` is the
ehash amount credited to the claim. The SV1 wire is `pool.sv1`'s.

Nothing here waits for a miner's socket: messages are queued, and share answers of one group commit
leave in one write per connection (`Outbox`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

from nutx_cli.chain.hashes import dsha256
from nutx_cli.chain.merkle import root_from_path
from nutx_cli.core.bdhke import BlindSig
from nutx_cli.core.targets import target_of_level
from nutx_cli.errors import NutxError
from nutx_cli.pool.jobs import Job
from nutx_cli.pool.session import GROUP_CHANNEL_ID, ChannelKind
from nutx_cli.pool.shares import CheckedShare, Submission
from nutx_cli.sv2.ecash import (
    BlindSignature,
    EcashKeyset,
    OpenExtendedEcashMiningChannelSuccess,
    SetEcashKeyset,
    SubmitSharesEcashExtendedError,
    SubmitSharesEcashExtendedSuccess,
)
from nutx_cli.sv2.jobs import extended_coinbase
from nutx_cli.sv2.messages import (
    Message,
    NewMiningJob,
    OpenExtendedMiningChannelSuccess,
    OpenStandardMiningChannelSuccess,
    SetNewPrevHash,
    SetTarget,
    SubmitSharesError,
    SubmitSharesSuccess,
)

M = TypeVar("M")


class ChannelView(Protocol):
    """What a wire reads of its channel (`channel.Channel`)."""

    @property
    def channel_id(self) -> int: ...

    @property
    def level(self) -> int: ...

    @property
    def extranonce_prefix(self) -> bytes: ...

    @property
    def extranonce_size(self) -> int: ...


class Wire(Protocol):
    """One channel's protocol towards its miner."""

    @property
    def closed(self) -> bool: ...

    def opened(self, channel: ChannelView, request_id: int, keyset: EcashKeyset) -> None:
        """Answer the open (before the first job)."""

    def job(
        self, channel: ChannelView, job: Job, activation: SetNewPrevHash | None, keyset: EcashKeyset
    ) -> None:
        """Send `job`; with `activation` it is a future job made current by that prev hash."""

    def new_epoch(self, channel: ChannelView, keyset: EcashKeyset) -> None:
        """The next job starts epoch `keyset.epoch` (sent before it)."""

    def target(self, channel: ChannelView) -> None:
        """The channel's level moved (sent before the job at the new level)."""

    def accepted(
        self, channel: ChannelView, share: Submission, checked: CheckedShare, sig: BlindSig | None
    ) -> None:
        """The share is durable: signed (`sig`) or claimed (None)."""

    def rejected(self, channel: ChannelView, share: Submission, code: str) -> None:
        """The share is refused with the SV2 error name `code`."""


class Sv2Peer(Protocol):
    """Where an SV2 channel's messages go: its `Connection` (tests use one in memory)."""

    @property
    def closed(self) -> bool: ...

    def send_nowait(self, message: Message) -> None: ...

    def send_many_nowait(self, messages: list[Message]) -> None: ...


@dataclass(eq=False)
class Outbox(Generic[M]):
    """Share answers queued now and written together on the next loop iteration, so the answers of one
    group commit leave in one write per connection."""

    send_many: Callable[[list[M]], None]
    _queued: list[M] = field(default_factory=list, init=False)

    def put(self, message: M) -> None:
        if not self._queued:
            asyncio.get_running_loop().call_soon(self._flush)
        self._queued.append(message)

    def _flush(self) -> None:
        messages, self._queued = self._queued, []
        with contextlib.suppress(NutxError, OSError):  # a miner that went away gets nothing
            self.send_many(messages)


@dataclass(eq=False)
class Sv2Wire:
    """The SV2 side of a channel of `kind` (ecash, extended or standard) on connection `peer`."""

    peer: Sv2Peer
    kind: ChannelKind
    outbox: Outbox[Message] = field(init=False)

    def __post_init__(self) -> None:
        self.outbox = Outbox(self._send_many)

    @property
    def closed(self) -> bool:
        return self.peer.closed

    def _send(self, *messages: Message) -> None:
        """Queue messages without waiting: a miner that stops reading never stalls the pool."""
        self._send_many(list(messages))

    def _send_many(self, messages: list[Message]) -> None:
        if not self.peer.closed:
            with contextlib.suppress(NutxError):
                self.peer.send_many_nowait(messages)

    def opened(self, channel: ChannelView, request_id: int, keyset: EcashKeyset) -> None:
        target = target_of_level(channel.level)
        success: Message
        if self.kind is ChannelKind.STANDARD:
            success = OpenStandardMiningChannelSuccess(
                request_id=request_id,
                channel_id=channel.channel_id,
                target=target,
                extranonce_prefix=channel.extranonce_prefix,
                group_channel_id=GROUP_CHANNEL_ID,
            )
        else:  # the ecash Success is the extended one's fields, then the keyset (stratum.md §6.4)
            fields = (
                request_id,
                channel.channel_id,
                target,
                channel.extranonce_size,
                channel.extranonce_prefix,
                GROUP_CHANNEL_ID,
            )
            success = (
                OpenExtendedEcashMiningChannelSuccess(*fields, keyset=keyset)
                if self.kind is ChannelKind.ECASH
                else OpenExtendedMiningChannelSuccess(*fields)
            )
        self._send(success)

    def job(
        self, channel: ChannelView, job: Job, activation: SetNewPrevHash | None, keyset: EcashKeyset
    ) -> None:
        message: Message = job.message if self.kind is not ChannelKind.STANDARD else standard_job(job)
        if activation is None:
            self._send(message)
        else:
            self._send(message, activation)

    def new_epoch(self, channel: ChannelView, keyset: EcashKeyset) -> None:
        if self.kind is ChannelKind.ECASH:
            self._send(SetEcashKeyset(channel_id=channel.channel_id, keyset=keyset))

    def target(self, channel: ChannelView) -> None:
        self._send(SetTarget(channel_id=channel.channel_id, maximum_target=target_of_level(channel.level)))

    def accepted(
        self, channel: ChannelView, share: Submission, checked: CheckedShare, sig: BlindSig | None
    ) -> None:
        if sig is not None:
            self.outbox.put(
                SubmitSharesEcashExtendedSuccess(
                    channel_id=share.channel_id,
                    sequence_number=share.sequence_number,
                    signature=BlindSignature.of(sig, checked.amount, checked.job.keyset_id),
                )
            )
        else:
            self.outbox.put(
                SubmitSharesSuccess(
                    channel_id=share.channel_id,
                    last_sequence_number=share.sequence_number,
                    new_submits_accepted_count=1,
                    new_shares_sum=checked.amount,
                )
            )

    def rejected(self, channel: ChannelView, share: Submission, code: str) -> None:
        error = SubmitSharesEcashExtendedError if self.kind is ChannelKind.ECASH else SubmitSharesError
        self.outbox.put(
            error(channel_id=share.channel_id, sequence_number=share.sequence_number, error_code=code)
        )


def standard_job(job: Job) -> NewMiningJob:
    """A job for a standard channel: the merkle root of the coinbase with the channel's whole extranonce."""
    coinbase = extended_coinbase(job.message, job.extranonce_prefix, b"")
    return NewMiningJob(
        channel_id=job.message.channel_id,
        job_id=job.job_id,
        min_ntime=job.message.min_ntime,
        version=job.message.version,
        merkle_root=root_from_path(dsha256(coinbase), job.message.merkle_path),
    )
