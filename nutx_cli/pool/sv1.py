"""The pool's own Stratum V1 port (`nutx pool start --sv1-port P`): small miners straight to the pool.

Each connection is one `sv1.session.MinerSession` (subscribe, authorize, configure with version rolling,
suggest_difficulty, submit, spec/stratum.md §7) and, once it is subscribed and authorized, one pool
channel of kind SV1 on the same jobs, vardiff, epoch lock and group commit as the SV2 channels. Its
extranonce1 is the channel's 4-byte prefix, its extranonce2 the 8 bytes an SV2 miner rolls.

Every user name must be `<pubkey>.<worker>` (DESIGN §4 "Claimed ehash"): a share is credited to the
claim of its worker's key, and answered `true` only once that claim and W_e are durable; a share the
pool refuses gets the de-facto error code of its reason (21 stale, 22 duplicate, 23 low difficulty, else 20)
with the SV2 error name as the message. Jobs reach SV1 miners as they reach SV2 channels: a clean notify
per new tip and a fresh job id on every template refresh (every 30 s on an idle tip, so miners that stop
after about two minutes without a new job never do, §7.9). On a clean shutdown every miner is told
`client.reconnect` to the address it reached the pool at. The listener runs under the pool's listener limits
(`sv1.server`: per-IP connections, handshake and idle timeouts, message rate, the 16 KiB line, unread output),
with the workers one connection may authorize as its channel cap.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from nutx_cli.core.bdhke import BlindSig
from nutx_cli.core.claims import IdentityError, MinerIdentity, parse_identity
from nutx_cli.core.limits import ListenerLimits
from nutx_cli.core.targets import U256_MAX, amount_of_level
from nutx_cli.core.vardiff import Vardiff, VardiffError
from nutx_cli.pool.channel import Channel
from nutx_cli.pool.jobs import Job
from nutx_cli.pool.service import Pool
from nutx_cli.pool.session import ChannelKind, OpenChannel
from nutx_cli.pool.shares import CheckedShare, Submission
from nutx_cli.pool.template import EXTRANONCE_SIZE
from nutx_cli.pool.wires import ChannelView, Outbox
from nutx_cli.sv1.job import Sv1Job
from nutx_cli.sv1.protocol import (
    ERR_DUPLICATE,
    ERR_JOB_NOT_FOUND,
    ERR_LOW_DIFFICULTY,
    ERR_OTHER,
    Notification,
    Request,
    RequestId,
    Response,
    Sv1Error,
    encode,
    error_response,
    parse_line,
    result_response,
)
from nutx_cli.sv1.server import SV1_LIMITS, PeerTimedOut, Sv1Reader, hang_up, serve_sv1, unread_over_cap
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
from nutx_cli.sv2.ecash import EcashKeyset
from nutx_cli.sv2.messages import SetNewPrevHash

log = logging.getLogger(__name__)

RECONNECT_WAIT_SECONDS = 5
"""`client.reconnect` asks miners to come back after this long (a restart takes about that)."""
CHANNEL_ID = 1
"""An SV1 connection has one channel."""

REJECT_CODES = {
    "stale-share": ERR_JOB_NOT_FOUND,
    "invalid-job-id": ERR_JOB_NOT_FOUND,
    "duplicate-share": ERR_DUPLICATE,
    "difficulty-too-low": ERR_LOW_DIFFICULTY,
}
"""SV2 error names → the de-facto Stratum V1 codes miners show (spec/stratum.md §7.1)."""

Line = Response | Notification


def refuse_non_pubkey(user: str) -> str | None:
    """Why an SV1 user name cannot be credited (None: it names a Cashu key)."""
    try:
        parse_identity(user)
    except IdentityError as exc:
        return str(exc)
    return None


class Lines(Protocol):
    """Where an SV1 channel's lines go."""

    @property
    def closed(self) -> bool: ...

    def write_many(self, lines: Sequence[Line]) -> None: ...


@dataclass(eq=False)
class LineWriter:
    """JSON lines to one miner's socket, never waiting for it."""

    writer: asyncio.StreamWriter
    limits: ListenerLimits

    @property
    def closed(self) -> bool:
        return self.writer.is_closing()

    def write(self, *lines: Line) -> None:
        self.write_many(lines)

    def write_many(self, lines: Sequence[Line]) -> None:
        if self.writer.is_closing():
            return
        if unread_over_cap(self.writer, self.limits):
            log.warning("SV1 miner %s does not read what we send; disconnecting it", self.peer)
            self.writer.transport.abort()
            return
        self.writer.write(b"".join(encode(line) for line in lines))

    @property
    def peer(self) -> str:
        peer = self.writer.get_extra_info("peername")
        return f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)


@dataclass(eq=False)
class Sv1Wire:
    """The SV1 side of a pool channel: jobs through the session's `push_job`, shares answered by request id."""

    session: MinerSession
    lines: Lines
    pending: dict[int, RequestId] = field(default_factory=dict)
    """Sequence number of a share in flight → the id of its `mining.submit`."""
    outbox: Outbox[Line] = field(init=False)
    _prev: SetNewPrevHash | None = None

    def __post_init__(self) -> None:
        self.outbox = Outbox(self.lines.write_many)

    @property
    def closed(self) -> bool:
        return self.lines.closed

    def opened(self, channel: ChannelView, request_id: int, keyset: EcashKeyset) -> None:
        """Nothing to say: the subscribe was answered with the channel's extranonce already."""

    def job(
        self, channel: ChannelView, job: Job, activation: SetNewPrevHash | None, keyset: EcashKeyset
    ) -> None:
        if activation is not None:
            self._prev = activation
        assert self._prev is not None, "a channel's first job is a future job"
        sv1_job = Sv1Job(
            job_id=str(job.job_id),
            upstream=job.message,
            prev=self._prev,
            ntime=job.message.min_ntime if job.message.min_ntime is not None else self._prev.min_ntime,
            clean=activation is not None,
            target=job.target,
            keyset=keyset,
            amount=amount_of_level(job.level, keyset.k_max),
        )
        self.lines.write_many([e.message for e in self.session.push_job(sv1_job) if isinstance(e, Send)])

    def new_epoch(self, channel: ChannelView, keyset: EcashKeyset) -> None:
        """Nothing: the clean job of the new tip is all an SV1 miner needs."""

    def target(self, channel: ChannelView) -> None:
        """Nothing: `push_job` sends `set_difficulty` before the job at the new level."""

    def accepted(
        self, channel: ChannelView, share: Submission, checked: CheckedShare, sig: BlindSig | None
    ) -> None:
        self.outbox.put(result_response(self.pending.pop(share.sequence_number, None), True))

    def rejected(self, channel: ChannelView, share: Submission, code: str) -> None:
        request_id = self.pending.pop(share.sequence_number, None)
        self.outbox.put(error_response(request_id, REJECT_CODES.get(code, ERR_OTHER), code))


class Sv1Miner:
    """One SV1 connection to the pool: its session, and its channel once subscribed and authorized."""

    def __init__(self, pool: Pool, writer: asyncio.StreamWriter, number: int, limits: ListenerLimits) -> None:
        self.pool = pool
        self.writer = writer
        self.limits = limits
        self.lines = LineWriter(writer, limits)
        self.session = MinerSession(
            subscription_id=f"{number:08x}",
            check_user=refuse_non_pubkey,
            answer_shares_at_once=False,
            max_users=limits.channels_per_connection,
        )
        self.wire = Sv1Wire(self.session, self.lines)
        self.channel: Channel | None = None
        self._prefix: bytes | None = None
        self._identities: dict[str, MinerIdentity] = {}
        self._sequence = itertools.count(1)

    async def run(self, reader: asyncio.StreamReader) -> None:
        """Read requests until the miner hangs up, breaks a limit or times out."""
        miner = Sv1Reader(reader, self.limits)
        try:
            while True:
                try:
                    lines = await miner.lines()
                except Sv1Error as exc:  # a line over the cap, or lines past the message rate
                    log.warning("SV1 miner %s: %s; closing it", self.lines.peer, exc.message)
                    self.lines.write(exc.response())
                    await hang_up(self.writer, reader)
                    return
                if not lines:
                    return
                for line in lines:
                    try:
                        message = parse_line(line)
                    except Sv1Error as exc:
                        self.lines.write(exc.response())
                        continue
                    if isinstance(message, Request):
                        await self._handle(self.session.receive(message))
                await miner.drain(self.writer)
        except PeerTimedOut as exc:
            log.info("SV1 miner %s: %s; closing it", self.lines.peer, exc)

    async def _handle(self, events: list[Event]) -> None:
        for event in events:
            if isinstance(event, Send):
                self.lines.write(event.message)
            elif isinstance(event, SubscribeRequested):
                self._prefix = self.pool.channels.new_prefix()
                await self._handle(self.session.subscribed(self._prefix, EXTRANONCE_SIZE))
            elif isinstance(event, Ready):
                await self._open()
            elif isinstance(event, DifficultySuggested):
                await self._suggest(event.max_target)
            elif isinstance(event, ShareAccepted):
                self._submit(event)
            elif isinstance(event, ShareRejected) and self.channel is not None:
                self.channel.stats.record_rejected(event.reason)

    async def _open(self) -> None:
        now = time.time()
        config = self.pool.settings.vardiff
        try:
            vardiff = Vardiff(config, 0.0, self.session.suggested_target or U256_MAX, now)
        except VardiffError:  # a suggestion no level meets: the miner gets the pool's own start level
            vardiff = Vardiff(config, 0.0, U256_MAX, now)
        user = min(self.session.users)
        identity = self._identity(user)
        opening = OpenChannel(0, CHANNEL_ID, ChannelKind.SV1, user, identity, vardiff, now)
        self.channel = await self.pool.channels.open(self.wire, opening, self._prefix)

    async def _suggest(self, max_target: int) -> None:
        """A suggestion after the channel opened moves its level now (before, it bounds the first level)."""
        channel = self.channel
        if channel is None:
            return
        now = time.time()
        try:
            moved = channel.vardiff.update(0.0, max_target, now)
        except VardiffError:
            log.info("SV1 miner %s suggested a difficulty no level meets; kept its level", self.lines.peer)
            return
        if moved is not None:
            await self.pool.channels.retarget(channel, now)

    def _identity(self, worker: str) -> MinerIdentity:
        identity = self._identities.get(worker)
        if identity is None:  # authorize refused every name that does not parse
            identity = self._identities[worker] = parse_identity(worker)
        return identity

    def _submit(self, event: ShareAccepted) -> None:
        assert self.channel is not None  # shares come after Ready, which opened the channel
        sequence = next(self._sequence)
        self.wire.pending[sequence] = event.request_id
        share = Submission(
            channel_id=CHANNEL_ID,
            sequence_number=sequence,
            job_id=int(event.job.job_id),
            nonce=event.nonce,
            ntime=event.ntime,
            version=event.version,
            extranonce=event.extranonce2,
            claimant=self._identity(event.worker).pubkey,
        )
        self.pool.shares.submit(self.channel, share, time.time())

    def reconnect(self) -> None:
        """`client.reconnect` to the address the miner reached us at, then hang up (clean shutdown)."""
        host, port = self.writer.get_extra_info("sockname")[:2]
        self.lines.write(Notification("client.reconnect", [host, port, RECONNECT_WAIT_SECONDS]))
        self.writer.close()

    def close(self) -> None:
        if self.channel is not None:
            self.pool.channels.drop(self.channel)
        self.writer.close()


class Sv1Port:
    """The pool's SV1 listener and its miners."""

    def __init__(self, pool: Pool, limits: ListenerLimits = SV1_LIMITS) -> None:
        self.pool = pool
        self.limits = limits
        self.miners: set[Sv1Miner] = set()
        self._numbers = itertools.count(1)
        self._server: asyncio.Server | None = None

    async def start(self, host: str, port: int) -> int:
        """Listen on host:port; returns the port bound."""
        self._server = await serve_sv1(host, port, self._serve, self.limits)
        return int(self._server.sockets[0].getsockname()[1])

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        miner = Sv1Miner(self.pool, writer, next(self._numbers), self.limits)
        self.miners.add(miner)
        try:
            await miner.run(reader)
        except (ConnectionError, OSError) as exc:
            log.info("SV1 miner %s went away: %s", miner.lines.peer, exc)
        finally:
            self.miners.discard(miner)
            miner.close()

    async def close(self) -> None:
        """Stop listening and tell every miner to reconnect (a clean shutdown)."""
        if self._server is not None:
            self._server.close()
        for miner in list(self.miners):
            miner.reconnect()
        for miner in list(self.miners):
            with contextlib.suppress(OSError, ConnectionError):
                await miner.writer.wait_closed()
        if self._server is not None:
            await self._server.wait_closed()
