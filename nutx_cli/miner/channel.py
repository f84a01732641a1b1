"""The miner's side of one SV2 extended channel of the pool (spec/stratum.md §5.4, §6.4–§6.5).

`EcashChannel.open` connects, runs SetupConnection and the extension negotiation, opens a channel and
then keeps the channel's view of the pool up to date from a reader task: the active job with the level
recorded when it arrived (§6.5.2), the prev hash, the target and the epoch keyset. The channel is an
ecash channel (`submit` sends a share with a blinded message and waits for its own Success or Error,
matched by sequence number), or with `claim=True` a plain extended channel whose shares the pool credits
to the pubkey in the user identity (`submit_claim`, answered with core `SubmitShares.Success`; DESIGN §4
"Claimed ehash"); such a channel may skip the extension (`ecash_extension=False`), as any standard SV2
client does. A pool that negotiates the extension says where its mint is (`SetEcashMint`): `mint_url`.
The CPU miner uses one channel; the SV1 proxy one per downstream miner. `RedeemLink` is a connection
without a channel that only redeems (`RedeemSharesEcash`), for a wallet that knows the pool.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
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
    SetEcashMint,
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
    OpenExtendedMiningChannel,
    OpenExtendedMiningChannelSuccess,
    OpenMiningChannelError,
    SetExtranoncePrefix,
    SetNewPrevHash,
    SetTarget,
    SetupConnection,
    SetupConnectionError,
    SetupConnectionSuccess,
    SubmitSharesError,
    SubmitSharesExtended,
    SubmitSharesSuccess,
    UpdateChannel,
)

log = logging.getLogger(__name__)

SETUP_TIMEOUT = 10.0


class ChannelError(NutxError):
    """The pool refused the connection or the channel, or the channel is gone."""


class RedeemRefused(ChannelError):
    """The pool answered RedeemSharesEcash.Error; `code` is its error name (DESIGN §5)."""

    def __init__(self, code: str) -> None:
        super().__init__(f"redeem refused: {code}")
        self.code = code


REFUSALS_EXPLAINED = {
    "invalid-user-identity": "mine as <pubkey>.<worker> with the key `nutx wallet pubkey` prints",
    "ecash-required": "the pool needs the ecash extension for this",
}


@dataclass(frozen=True, slots=True)
class Work:
    """Everything needed to hash for one active job: what the pool sent, frozen at activation.

    `keyset` is the epoch keyset of an ecash channel's job (None on a claim channel, which signs nothing)."""

    job: NewExtendedMiningJob
    prev: SetNewPrevHash
    extranonce_prefix: bytes
    extranonce_size: int
    target: int  # the channel target recorded when the job arrived: the share's level
    keyset: EcashKeyset | None

    @property
    def ecash_keyset(self) -> EcashKeyset:
        if self.keyset is None:
            raise ChannelError("a claim channel's job has no epoch keyset")
        return self.keyset

    @property
    def amount(self) -> int:
        return share_amount(self.target, self.ecash_keyset.k_max)

    @property
    def keyset_id(self) -> str:
        return self.ecash_keyset.keyset_id.hex()

    @property
    def epoch(self) -> int:
        return self.ecash_keyset.epoch


SubmitResult = SubmitSharesEcashExtendedSuccess | SubmitSharesEcashExtendedError
ClaimResult = SubmitSharesSuccess | SubmitSharesError
Opened = OpenExtendedEcashMiningChannelSuccess | OpenExtendedMiningChannelSuccess


async def _set_up(
    conn: Connection, host: str, port: int, *, vendor: str, device_id: str, ecash_extension: bool
) -> None:
    """SetupConnection, then (unless `ecash_extension` is False) the negotiation of 0x4CA5."""
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
            device_id=device_id[:255],
        )
    )
    reply = await conn.recv()
    if isinstance(reply, SetupConnectionError):
        raise ChannelError(f"the pool refused the connection: {reply.error_code}")
    if not isinstance(reply, SetupConnectionSuccess):
        raise ChannelError(f"unexpected answer to SetupConnection: {type(reply).__name__}")
    if not ecash_extension:
        return
    await conn.send(RequestExtensions(request_id=1, requested_extensions=[ECASH_EXTENSION]))
    reply = await conn.recv()
    if isinstance(reply, RequestExtensionsError) or (
        isinstance(reply, RequestExtensionsSuccess) and ECASH_EXTENSION not in reply.supported_extensions
    ):
        raise ChannelError("the pool does not support the ecash extension 0x4CA5")


def _redeemed(reply: RedeemSharesEcashSuccess | RedeemSharesEcashError) -> list[BlindSignature]:
    if isinstance(reply, RedeemSharesEcashError):
        raise RedeemRefused(reply.error_code)
    return reply.signatures


def _refused(what: str, code: str) -> ChannelError:
    hint = REFUSALS_EXPLAINED.get(code)
    return ChannelError(f"the pool refused the {what}: {code}" + (f" ({hint})" if hint else ""))


class EcashChannel:
    """One open ecash channel; `work` is the current Work (None until the first job is active)."""

    def __init__(self, conn: Connection, opened: Opened, mint_url: str | None = None) -> None:
        self._conn = conn
        self.channel_id = opened.channel_id
        self.group_channel_id = opened.group_channel_id
        self.extranonce_prefix = opened.extranonce_prefix
        self.extranonce_size = opened.extranonce_size
        self.target = opened.target
        self.keyset = opened.keyset if isinstance(opened, OpenExtendedEcashMiningChannelSuccess) else None
        """The epoch keyset of an ecash channel; None on a claim channel."""
        self.mint_url = mint_url
        """The mint's URL, if the pool said where it is (`SetEcashMint`)."""
        self.work: Work | None = None
        self.on_work: Callable[[Work], None] | None = None
        self.on_keyset: Callable[[EcashKeyset], None] | None = None
        self._jobs: dict[int, tuple[NewExtendedMiningJob, int]] = {}
        self._prev: SetNewPrevHash | None = None
        self._sequence = 0
        self._pending_submits: dict[int, asyncio.Future[Any]] = {}
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
        claim: bool = False,
        ecash_extension: bool = True,
    ) -> EcashChannel:
        """Connect to the pool and open an ecash channel, or with `claim` a plain extended channel whose
        `user` is `<pubkey>.<worker>` (raises ChannelError/Sv2Error on refusal)."""
        conn = await Connection.connect(host, port, authority_key)
        try:
            async with asyncio.timeout(SETUP_TIMEOUT):
                await _set_up(
                    conn,
                    host,
                    port,
                    vendor=vendor,
                    device_id=user,
                    ecash_extension=ecash_extension or not claim,
                )
                fields = (1, user[:255], nominal_hash_rate, max_target, min_extranonce_size)
                await conn.send(
                    OpenExtendedMiningChannel(*fields)
                    if claim
                    else OpenExtendedEcashMiningChannel(*fields, unit=Unit.EHASH)
                )
                mint_url = None
                while isinstance(reply := await conn.recv(), SetEcashMint):  # sent after the extension
                    mint_url = reply.mint_url
                if isinstance(reply, OpenMiningChannelError):
                    raise _refused("channel", reply.error_code)
                expected = (
                    OpenExtendedMiningChannelSuccess if claim else OpenExtendedEcashMiningChannelSuccess
                )
                if not isinstance(reply, expected):
                    raise ChannelError(f"unexpected answer to the channel open: {type(reply).__name__}")
                if isinstance(reply, OpenExtendedEcashMiningChannelSuccess):
                    reply.keyset.verify_id()  # §6.5.3: never mine for a keyset whose id does not match its keys
        except BaseException:
            await conn.close()
            raise
        return cls(conn, reply, mint_url)

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
        blinded = BlindedMessage(amount=work.amount, keyset_id=work.ecash_keyset.keyset_id, blinded_secret=B_)
        answer: SubmitResult = await self._submit(
            lambda seq: SubmitSharesEcashExtended(
                *self._share(work, seq, nonce, ntime, version, extranonce), blinded
            )
        )
        return answer

    async def submit_claim(
        self, work: Work, *, nonce: int, ntime: int, version: int, extranonce: bytes
    ) -> ClaimResult:
        """Send one share of a claim channel (core SubmitSharesExtended); wait for the pool's answer to it."""
        answer: ClaimResult = await self._submit(
            lambda seq: SubmitSharesExtended(*self._share(work, seq, nonce, ntime, version, extranonce))
        )
        return answer

    def _share(
        self, work: Work, seq: int, nonce: int, ntime: int, version: int, extranonce: bytes
    ) -> tuple[int, int, int, int, int, int, bytes]:
        """The fields SubmitSharesExtended and SubmitSharesEcashExtended start with, in their wire order."""
        return (self.channel_id, seq, work.job.job_id, nonce, ntime, version, extranonce)

    async def _submit(self, message: Callable[[int], Message]) -> Any:
        self._sequence = (self._sequence + 1) & 0xFFFFFFFF
        seq = self._sequence
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending_submits[seq] = future
        try:
            await self._conn.send(message(seq))
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

    async def redeem(
        self, proofs: Sequence[Proof], outputs: Sequence[BlindedMessage]
    ) -> list[BlindSignature]:
        """RedeemSharesEcash over SV2 on this channel's connection; raises RedeemRefused with the pool's error code."""
        self._request_id += 1
        rid = self._request_id
        future: asyncio.Future[RedeemSharesEcashSuccess | RedeemSharesEcashError] = (
            asyncio.get_running_loop().create_future()
        )
        self._pending_redeems[rid] = future
        try:
            await self._conn.send(
                RedeemSharesEcash(request_id=rid, proofs=list(proofs), outputs=list(outputs))
            )
            return _redeemed(await future)
        finally:
            self._pending_redeems.pop(rid, None)

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
        if isinstance(
            message, (SubmitSharesEcashExtendedSuccess, SubmitSharesEcashExtendedError, SubmitSharesError)
        ):
            future = self._pending_submits.get(message.sequence_number)
            if future is not None and not future.done():
                future.set_result(message)
        elif isinstance(message, SubmitSharesSuccess):  # may answer every share up to the last one at once
            for seq, future in list(self._pending_submits.items()):
                if seq <= message.last_sequence_number and not future.done():
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


class RedeemLink:
    """One SV2 connection to the pool with the ecash extension and no channel: RedeemSharesEcash only
    (the draft's way to redeem, for a wallet that knows its pool). One request at a time."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._request_id = 0

    @classmethod
    async def connect(
        cls, host: str, port: int, authority_key: bytes | str, *, vendor: str = "nutx"
    ) -> RedeemLink:
        conn = await Connection.connect(host, port, authority_key)
        try:
            async with asyncio.timeout(SETUP_TIMEOUT):
                await _set_up(conn, host, port, vendor=vendor, device_id="wallet", ecash_extension=True)
        except BaseException:
            await conn.close()
            raise
        return cls(conn)

    async def redeem(
        self, proofs: Sequence[Proof], outputs: Sequence[BlindedMessage]
    ) -> list[BlindSignature]:
        """Raises RedeemRefused with the pool's error code, ChannelError if the pool goes away first."""
        self._request_id += 1
        rid = self._request_id
        await self._conn.send(RedeemSharesEcash(request_id=rid, proofs=list(proofs), outputs=list(outputs)))
        try:
            async for reply in self._conn:
                if (
                    isinstance(reply, (RedeemSharesEcashSuccess, RedeemSharesEcashError))
                    and reply.request_id == rid
                ):
                    return _redeemed(reply)
        except Sv2Error as exc:
            raise ChannelError(f"the pool connection failed: {exc}") from None
        raise ChannelError("the pool closed the connection before it answered the redeem")

    async def close(self) -> None:
        await self._conn.close()
