"""The SV2 conversation of one miner connection with the pool (stratum.md §5.2–§5.4, §6.1, §6.4), sans-IO.

`receive(message, now)` returns the actions the pool must take, in order: answers to send (`Send`),
and what needs the pool's shared state — open a channel, check and credit a share, retarget a
channel, drop one, redeem proofs. The session knows which channels this connection opened and runs the
protocol's own checks: SetupConnection comes first (else the connection ends), the ecash extension
0x4CA5 must be negotiated before an ecash channel opens (its success is followed by `SetEcashMint`, where
the mint is), shares and updates name an open channel of the kind they belong to, a max_target no
offered level meets is refused with the connection kept, and an open past the connection's channel cap is
refused `too-many-channels` (whatever the channel kind).

Channel kinds (`ChannelKind`) have their own open and submit handlers. An ecash extended channel's shares
carry blinded messages and are signed. Standard and plain extended channels are served as the SV2 spec
says, with core `SubmitShares.Success`; their `user_identity` must be `<pubkey>.<worker>` (DESIGN §4
"Claimed ehash") and their shares are credited to that key's claim. A connection that set
REQUIRES_STANDARD_JOBS gets standard channels only (it cannot take extended jobs).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from nutx_cli.core.claims import IdentityError, MinerIdentity, parse_identity
from nutx_cli.core.vardiff import Vardiff, VardiffConfig, VardiffError
from nutx_cli.pool.shares import Submission
from nutx_cli.sv2.ecash import (
    ECASH_EXTENSION,
    OpenExtendedEcashMiningChannel,
    RedeemSharesEcash,
    SetEcashMint,
    SubmitSharesEcashExtended,
    SubmitSharesEcashExtendedError,
)
from nutx_cli.sv2.extensions import RequestExtensions, RequestExtensionsError, RequestExtensionsSuccess
from nutx_cli.sv2.messages import (
    PROTOCOL_MINING,
    PROTOCOL_VERSION,
    REQUIRES_STANDARD_JOBS,
    REQUIRES_WORK_SELECTION,
    CloseChannel,
    Message,
    OpenExtendedMiningChannel,
    OpenMiningChannelError,
    OpenStandardMiningChannel,
    SetupConnection,
    SetupConnectionError,
    SetupConnectionSuccess,
    SubmitSharesError,
    SubmitSharesExtended,
    SubmitSharesStandard,
    UpdateChannel,
    UpdateChannelError,
)

GROUP_CHANNEL_ID = 1
"""The connection's group channel; the channels it opens are numbered from 2."""


class ChannelKind(StrEnum):
    """What a channel is, which says how its jobs look and how its shares are credited."""

    ECASH = "ecash"
    """SV2 extended ecash channel (0x4CA5): every share signed blind."""
    EXTENDED = "extended"
    """SV2 extended channel without the extension: shares claimed by the channel's pubkey."""
    STANDARD = "standard"
    """SV2 standard channel (NewMiningJob, no extranonce to roll): shares claimed by its pubkey."""
    SV1 = "sv1"
    """Stratum V1 on the pool's own port: shares claimed by each submitting worker's pubkey."""


@dataclass(frozen=True, slots=True)
class Send:
    """A message for the miner."""

    message: Message


@dataclass(frozen=True, slots=True)
class Close:
    """End the connection (the setup was refused and its error sent)."""


@dataclass(frozen=True, slots=True)
class OpenChannel:
    """Open channel `channel_id` of `kind`: answer `request_id` with its Success, then its first job.

    `identity` is the pubkey a claim channel's shares are credited to (None on an ecash channel)."""

    request_id: int
    channel_id: int
    kind: ChannelKind
    user: str
    identity: MinerIdentity | None
    vardiff: Vardiff
    now: float


@dataclass(frozen=True, slots=True)
class CheckShare:
    """Check `share` of open channel `channel_id`, have it signed or claimed, and answer it."""

    channel_id: int
    share: Submission


@dataclass(frozen=True, slots=True)
class Retarget:
    """The level of channel `channel_id` moved: SetTarget and a job at the new level."""

    channel_id: int


@dataclass(frozen=True, slots=True)
class DropChannel:
    """Channel `channel_id` is closed: no more jobs for it."""

    channel_id: int


@dataclass(frozen=True, slots=True)
class Redeem:
    """Redeem the proofs of `request` through the mint and answer it."""

    request: RedeemSharesEcash


@dataclass(frozen=True, slots=True)
class Ignored:
    """A message this pool does not act on (logged)."""

    message: Message


Action = Send | Close | OpenChannel | CheckShare | Retarget | DropChannel | Redeem | Ignored


class Phase(StrEnum):
    SETUP = "setup"
    """Waiting for SetupConnection."""
    OPEN = "open"
    """Set up: channels, shares and redeems."""
    CLOSED = "closed"


@dataclass(slots=True)
class OpenedChannel:
    """What the session keeps of one of its channels."""

    kind: ChannelKind
    vardiff: Vardiff
    identity: MinerIdentity | None


class PoolSession:
    """One miner connection. `channels` maps the ids of its open channels to what it keeps of them."""

    def __init__(
        self, vardiff: VardiffConfig, extranonce_size: int, mint_url: str = "", max_channels: int = 0
    ) -> None:
        self.vardiff = vardiff
        self.extranonce_size = extranonce_size
        """The bytes of extranonce the miner rolls: a channel asking for more is refused."""
        self.mint_url = mint_url
        """Sent in `SetEcashMint` once the ecash extension is negotiated (nothing when empty)."""
        self.max_channels = max_channels
        """Channels this connection may hold open at once (0: no cap)."""
        self.phase = Phase.SETUP
        self.ecash = False
        """The ecash extension was negotiated (RequestExtensions)."""
        self.standard_jobs_only = False
        """The miner set REQUIRES_STANDARD_JOBS."""
        self.channels: dict[int, OpenedChannel] = {}

    def receive(self, message: Message, now: float) -> list[Action]:
        """The actions for one message from the miner; `now` is the clock (seconds)."""
        if self.phase is Phase.CLOSED:
            return []
        if self.phase is Phase.SETUP:
            return self._setup(message)
        handler = _HANDLERS.get(type(message))
        if handler is None:
            return [Ignored(message)]
        if isinstance(message, _OPENS) and self.max_channels and len(self.channels) >= self.max_channels:
            return [
                Send(OpenMiningChannelError(request_id=message.request_id, error_code="too-many-channels"))
            ]
        return handler(self, message, now)

    # --- setup and extensions -----------------------------------------------------------------------

    def _setup(self, message: Message) -> list[Action]:
        if not isinstance(message, SetupConnection):
            return self._refuse_setup("connection-setup-expected")
        if message.protocol != PROTOCOL_MINING:
            return self._refuse_setup("unsupported-protocol")
        if not message.min_version <= PROTOCOL_VERSION <= message.max_version:
            return self._refuse_setup("protocol-version-mismatch")
        if message.flags & REQUIRES_WORK_SELECTION:  # no job declaration: the pool picks the work
            return self._refuse_setup("unsupported-feature-flags", flags=REQUIRES_WORK_SELECTION)
        self.phase = Phase.OPEN
        self.standard_jobs_only = bool(message.flags & REQUIRES_STANDARD_JOBS)
        return [Send(SetupConnectionSuccess(used_version=PROTOCOL_VERSION, flags=0))]

    def _refuse_setup(self, code: str, flags: int = 0) -> list[Action]:
        self.phase = Phase.CLOSED
        return [Send(SetupConnectionError(flags=flags, error_code=code)), Close()]

    def _request_extensions(self, message: RequestExtensions, now: float) -> list[Action]:
        if ECASH_EXTENSION in message.requested_extensions:
            self.ecash = True
            actions: list[Action] = [
                Send(
                    RequestExtensionsSuccess(
                        request_id=message.request_id, supported_extensions=[ECASH_EXTENSION]
                    )
                )
            ]
            if self.mint_url:
                actions.append(Send(SetEcashMint(mint_url=self.mint_url)))
            return actions
        return [
            Send(
                RequestExtensionsError(
                    request_id=message.request_id,
                    unsupported_extensions=list(message.requested_extensions),
                    required_extensions=[],
                )
            )
        ]

    # --- channels -----------------------------------------------------------------------------------

    def _open(
        self,
        message: OpenExtendedEcashMiningChannel | OpenExtendedMiningChannel | OpenStandardMiningChannel,
        kind: ChannelKind,
        now: float,
    ) -> list[Action]:
        def refuse(code: str) -> list[Action]:
            return [Send(OpenMiningChannelError(request_id=message.request_id, error_code=code))]

        identity = None
        if kind is ChannelKind.ECASH:
            assert isinstance(message, OpenExtendedEcashMiningChannel)
            if not self.ecash:
                return refuse("ecash-required")
            if message.unit not in ("", "ehash"):
                return refuse("unsupported-unit")
        else:
            try:
                identity = parse_identity(message.user_identity)
            except IdentityError:
                return refuse("invalid-user-identity")
        if kind is not ChannelKind.STANDARD:
            assert not isinstance(message, OpenStandardMiningChannel)
            if self.standard_jobs_only:
                return refuse("extended-channels-not-supported-for-standard-jobs")
            if message.min_extranonce_size > self.extranonce_size:
                return refuse("min-extranonce-size-too-large")
        try:
            vardiff = Vardiff(self.vardiff, float(message.nominal_hash_rate), message.max_target, now)
        except VardiffError:
            return refuse("max-target-out-of-range")
        channel_id = max(self.channels, default=GROUP_CHANNEL_ID) + 1
        self.channels[channel_id] = OpenedChannel(kind, vardiff, identity)
        return [
            OpenChannel(message.request_id, channel_id, kind, message.user_identity, identity, vardiff, now)
        ]

    def _open_ecash(self, message: OpenExtendedEcashMiningChannel, now: float) -> list[Action]:
        return self._open(message, ChannelKind.ECASH, now)

    def _open_extended(self, message: OpenExtendedMiningChannel, now: float) -> list[Action]:
        return self._open(message, ChannelKind.EXTENDED, now)

    def _open_standard(self, message: OpenStandardMiningChannel, now: float) -> list[Action]:
        return self._open(message, ChannelKind.STANDARD, now)

    def _update(self, message: UpdateChannel, now: float) -> list[Action]:
        channel = self.channels.get(message.channel_id)
        if channel is None:
            return [Send(UpdateChannelError(channel_id=message.channel_id, error_code="invalid-channel-id"))]
        try:
            moved = channel.vardiff.update(float(message.nominal_hash_rate), message.maximum_target, now)
        except VardiffError:
            return [
                Send(UpdateChannelError(channel_id=message.channel_id, error_code="max-target-out-of-range"))
            ]
        return [] if moved is None else [Retarget(message.channel_id)]

    def _close(self, message: CloseChannel, now: float) -> list[Action]:
        if self.channels.pop(message.channel_id, None) is None:
            return []
        return [DropChannel(message.channel_id)]

    # --- shares and redeems -------------------------------------------------------------------------

    def _submit_ecash(self, message: SubmitSharesEcashExtended, now: float) -> list[Action]:
        channel = self.channels.get(message.channel_id)
        if channel is None or channel.kind is not ChannelKind.ECASH:
            return [
                Send(
                    SubmitSharesEcashExtendedError(
                        channel_id=message.channel_id,
                        sequence_number=message.sequence_number,
                        error_code="invalid-channel-id",
                    )
                )
            ]
        return [CheckShare(message.channel_id, Submission.of_ecash(message))]

    def _submit_core(self, message: SubmitSharesStandard | SubmitSharesExtended, now: float) -> list[Action]:
        """A core share: claimed on a channel of its own kind, `ecash-required` on an ecash channel."""

        def refuse(code: str) -> list[Action]:
            return [
                Send(
                    SubmitSharesError(
                        channel_id=message.channel_id,
                        sequence_number=message.sequence_number,
                        error_code=code,
                    )
                )
            ]

        channel = self.channels.get(message.channel_id)
        kind = ChannelKind.EXTENDED if isinstance(message, SubmitSharesExtended) else ChannelKind.STANDARD
        if channel is not None and channel.kind is ChannelKind.ECASH:
            return refuse("ecash-required")
        if channel is None or channel.kind is not kind:
            return refuse("invalid-channel-id")
        assert channel.identity is not None
        return [CheckShare(message.channel_id, Submission.of_core(message, channel.identity.pubkey))]

    def _redeem(self, message: RedeemSharesEcash, now: float) -> list[Action]:
        return [Redeem(message)]


_OPENS = (OpenStandardMiningChannel, OpenExtendedMiningChannel, OpenExtendedEcashMiningChannel)
"""Every kind of channel open: the channel cap applies to all of them."""

_HANDLERS: dict[type, Callable[[PoolSession, Any, float], list[Action]]] = {
    RequestExtensions: PoolSession._request_extensions,
    OpenExtendedEcashMiningChannel: PoolSession._open_ecash,
    OpenStandardMiningChannel: PoolSession._open_standard,
    OpenExtendedMiningChannel: PoolSession._open_extended,
    UpdateChannel: PoolSession._update,
    CloseChannel: PoolSession._close,
    SubmitSharesEcashExtended: PoolSession._submit_ecash,
    SubmitSharesStandard: PoolSession._submit_core,
    SubmitSharesExtended: PoolSession._submit_core,
    RedeemSharesEcash: PoolSession._redeem,
}
