"""The miner's side of one SV2 ecash extended channel (spec/stratum.md §5.4, §6.4–§6.5).

`EcashChannel.open` connects, runs SetupConnection and the extension negotiation, opens an
ecash channel and then keeps the channel's view of the pool up to date from a reader task: the
active job with the level recorded when it arrived (§6.5.2), the prev hash, the target and the epoch
keyset. `submit` sends one share and waits for its own Success or Error (matched by sequence number).
The CPU miner uses one channel; the SV1 proxy one per downstream miner.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from nutx_cli.core.targets import U256_MAX
from nutx_cli.core.vocabulary import Unit
from nutx_cli.errors import NutxError
from nutx_cli.sv2.connection import Connection
from nutx_cli.sv2.ecash import (
    ECASH_EXTENSION,
    BlindedMessage,
    BlindSignature,
    EcashKeyset,
    OpenExtendedEcashMiningChannel,
    OpenExtendedEcashMiningChannelSuccess,
    Proof,
    RedeemSharesEcash,
    RedeemSharesEcashError,
    RedeemSharesEcashSuccess,
    SetEcashKeyset,
    SubmitSharesEcashExtended,
    SubmitSharesEcashExtendedError,
    SubmitSharesEcashExtendedSuccess,
    share_amount,
)
from nutx_cli.sv2.errors import Sv2Error
from nutx_cli.sv2.extensions import RequestExtensions, RequestExtensionsError, RequestExtensionsSuccess
from nutx_cli.sv2.messages import (
    PROTOCOL_MINING,
    PROTOCOL_VERSION,
    CloseChannel,
    Message,
    NewExtendedMiningJob,
    OpenMiningChannelError,
    SetExtranoncePrefix,
    SetNewPrevHash,
    SetTarget,
    SetupConnection,
    SetupConnectionError,
    SetupConnectionSuccess,
    UpdateChannel,
)

log = logging.getLogger(__name__)

SETUP_TIMEOUT = 10.0


class ChannelError(NutxError):
    """The pool refused the connection or the channel, or the channel is gone."""


@dataclass(frozen=True, slots=True)
class Work:
    """Everything needed to hash for one active job: what the pool sent, frozen at activation."""

    job: NewExtendedMiningJob
    prev: SetNewPrevHash
    extranonce_prefix: bytes
    extranonce_size: int
    target: int  # the channel target recorded when the job arrived: the share's level
    keyset: EcashKeyset

    @property
    def amount(self) -> int:
        return share_amount(self.target, self.keyset.k_max)

    @property
    def keyset_id(self) -> str:
        return self.keyset.keyset_id.hex()

    @property
    def epoch(self) -> int:
        return self.keyset.epoch


SubmitResult = SubmitSharesEcashExtendedSuccess | SubmitSharesEcashExtendedError


class EcashChannel:
    """One open ecash channel; `work` is the current Work (None until the first job is active)."""

    def __init__(self, conn: Connection, opened: OpenExtendedEcashMiningChannelSuccess) -> None:
        self._conn = conn
        self.channel_id = opened.channel_id
        self.group_channel_id = opened.group_channel_id
        self.extranonce_prefix = opened.extranonce_prefix
        self.extranonce_size = opened.extranonce_size
        self.target = opened.target
        self.keyset = opened.keyset
        self.work: Work | None = None
        self.on_work: Callable[[Work], None] | None = None
        self.on_keyset: Callable[[EcashKeyset], None] | None = None
        self._jobs: dict[int, tuple[NewExtendedMiningJob, int]] = {}
        self._prev: SetNewPrevHash | None = None
        self._sequence = 0
        self._pending_submits: dict[int, asyncio.Future[SubmitResult]] = {}
        self._pending_redeems: dict[
            int, asyncio.Future[RedeemSharesEcashSuccess | RedeemSharesEcashError]
        ] = {}
        self._request_id = 1
        self._closed = asyncio.Event()
        self._has_work = asyncio.Event()
        self._reader = asyncio.create_task(self._read_loop(), name=f"ecash-channel-{self.channel_id}")

    @classmethod
    async def open(
        cls,
        host: str,
        port: int,
        authority_key: bytes | str,
        *,
        user: str,
        nominal_hash_rate: float = 0.0,
        max_target: int = U256_MAX,
        min_extranonce_size: int = 8,
        vendor: str = "nutx",
    ) -> EcashChannel:
        """Connect to the pool and open an ecash channel (raises ChannelError/Sv2Error on refusal)."""
        conn = await Connection.connect(host, port, authority_key)
        try:
            async with asyncio.timeout(SETUP_TIMEOUT):
                await conn.send(
                    SetupConnection(
                        protocol=PROTOCOL_MINING,
                        min_version=PROTOCOL_VERSION,
                        max_version=PROTOCOL_VERSION,
                        flags=0,
                        endpoint_host=host,
                        endpoint_port=port,
                        vendor=vendor,
                        hardware_version="cpu",
                        firmware="nutx",
                        device_id=user[:255],
                    )
                )
                reply = await conn.recv()
                if isinstance(reply, SetupConnectionError):
                    raise ChannelError(f"the pool refused the connection: {reply.error_code}")
                if not isinstance(reply, SetupConnectionSuccess):
                    raise ChannelError(f"unexpected answer to SetupConnection: {type(reply).__name__}")
                await conn.send(RequestExtensions(request_id=1, requested_extensions=[ECASH_EXTENSION]))
                reply = await conn.recv()
                if isinstance(reply, RequestExtensionsError) or (
                    isinstance(reply, RequestExtensionsSuccess)
                    and ECASH_EXTENSION not in reply.supported_extensions
                ):
                    raise ChannelError("the pool does not support the ecash extension 0x4CA5")
                await conn.send(
                    OpenExtendedEcashMiningChannel(
                        request_id=1,
                        user_identity=user[:255],
                        nominal_hash_rate=nominal_hash_rate,
                        max_target=max_target,
                        min_extranonce_size=min_extranonce_size,
                        unit=Unit.EHASH,
                    )
                )
                reply = await conn.recv()
                if isinstance(reply, OpenMiningChannelError):
                    raise ChannelError(f"the pool refused the channel: {reply.error_code}")
                if not isinstance(reply, OpenExtendedEcashMiningChannelSuccess):
                    raise ChannelError(f"unexpected answer to the channel open: {type(reply).__name__}")
                reply.keyset.verify_id()  # §6.5.3: never mine for a keyset whose id does not match its keys
        except BaseException:
            await conn.close()
            raise
        return cls(conn, reply)

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    async def wait_closed(self) -> None:
        await self._closed.wait()

    async def wait_for_work(self, timeout: float | None = None) -> Work:
        """The current Work, waiting for the first job to become active if needed."""
        waiters = [asyncio.ensure_future(self._has_work.wait()), asyncio.ensure_future(self._closed.wait())]
        try:
            async with asyncio.timeout(timeout):
                await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
        if self.work is None:
            raise ChannelError("the channel closed before any job arrived")
        return self.work

    async def submit(
        self, work: Work, *, nonce: int, ntime: int, version: int, extranonce: bytes, B_: bytes
    ) -> SubmitResult:
        """Send one share with its blinded message; wait for the pool's answer to it."""
        self._sequence = (self._sequence + 1) & 0xFFFFFFFF
        seq = self._sequence
        future: asyncio.Future[SubmitResult] = asyncio.get_running_loop().create_future()
        self._pending_submits[seq] = future
        try:
            await self._conn.send(
                SubmitSharesEcashExtended(
                    channel_id=self.channel_id,
                    sequence_number=seq,
                    job_id=work.job.job_id,
                    nonce=nonce,
                    ntime=ntime,
                    version=version,
                    extranonce=extranonce,
                    blinded_message=BlindedMessage(
                        amount=work.amount, keyset_id=work.keyset.keyset_id, blinded_secret=B_
                    ),
                )
            )
            return await future
        finally:
            self._pending_submits.pop(seq, None)

    async def update(self, max_target: int, nominal_hash_rate: float = 0.0) -> None:
        """UpdateChannel: ask for a new max_target; the pool answers SetTarget if the level moves."""
        await self._conn.send(
            UpdateChannel(
                channel_id=self.channel_id, nominal_hash_rate=nominal_hash_rate, maximum_target=max_target
            )
        )

    async def redeem(self, proofs: list[Proof], outputs: list[BlindedMessage]) -> list[BlindSignature]:
        """RedeemSharesEcash over SV2; raises ChannelError with the pool's error code."""
        self._request_id += 1
        rid = self._request_id
        future: asyncio.Future[RedeemSharesEcashSuccess | RedeemSharesEcashError] = (
            asyncio.get_running_loop().create_future()
        )
        self._pending_redeems[rid] = future
        try:
            await self._conn.send(RedeemSharesEcash(request_id=rid, proofs=proofs, outputs=outputs))
            reply = await future
        finally:
            self._pending_redeems.pop(rid, None)
        if isinstance(reply, RedeemSharesEcashError):
            raise ChannelError(f"redeem refused: {reply.error_code}")
        return reply.signatures

    async def close(self) -> None:
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader
        await self._conn.close()
        self._finish("channel closed")

    # --- reading ---------------------------------------------------------------------------------

    async def _read_loop(self) -> None:
        try:
            async for message in self._conn:
                self._handle(message)
        except Sv2Error as exc:
            log.warning("pool connection failed: %s", exc)
        finally:
            self._finish("the pool closed the connection")

    def _finish(self, reason: str) -> None:
        if self._closed.is_set():
            return
        self._closed.set()
        futures: list[asyncio.Future[Any]] = [
            *self._pending_submits.values(),
            *self._pending_redeems.values(),
        ]
        for future in futures:
            if not future.done():
                future.set_exception(ChannelError(reason))

    def _handle(self, message: Message) -> None:
        if isinstance(message, (SubmitSharesEcashExtendedSuccess, SubmitSharesEcashExtendedError)):
            future = self._pending_submits.get(message.sequence_number)
            if future is not None and not future.done():
                future.set_result(message)
        elif isinstance(message, (RedeemSharesEcashSuccess, RedeemSharesEcashError)):
            redeem = self._pending_redeems.get(message.request_id)
            if redeem is not None and not redeem.done():
                redeem.set_result(message)
        elif isinstance(message, NewExtendedMiningJob):
            if message.channel_id not in (self.channel_id, self.group_channel_id):
                return
            self._jobs[message.job_id] = (message, self.target)
            if message.min_ntime is not None and self._prev is not None:
                self._activate(message.job_id)
        elif isinstance(message, SetNewPrevHash):
            self._prev = message
            # jobs of the previous prev hash are stale now; keep only the one being activated
            self._jobs = {jid: entry for jid, entry in self._jobs.items() if jid == message.job_id}
            self._activate(message.job_id)
        elif isinstance(message, SetTarget):
            self.target = message.maximum_target
        elif isinstance(message, SetEcashKeyset):
            try:
                message.keyset.verify_id()
            except Sv2Error as exc:
                log.error("the pool announced a bad keyset: %s; leaving", exc)
                self._finish(f"bad keyset from the pool: {exc}")
                self._reader.cancel()
                return
            self.keyset = message.keyset
            if self.on_keyset is not None:
                self.on_keyset(message.keyset)
        elif isinstance(message, SetExtranoncePrefix):
            self.extranonce_prefix = message.extranonce_prefix
        elif isinstance(message, CloseChannel):
            log.warning("the pool closed channel %d: %s", message.channel_id, message.reason_code)
            self._finish(f"the pool closed the channel: {message.reason_code}")

    def _activate(self, job_id: int) -> None:
        entry = self._jobs.get(job_id)
        if entry is None or self._prev is None:
            return
        job, target = entry
        self.work = Work(job, self._prev, self.extranonce_prefix, self.extranonce_size, target, self.keyset)
        self._has_work.set()
        if self.on_work is not None:
            self.on_work(self.work)
