"""The SV2 conversation of one miner connection with the pool (stratum.md §5.2–§5.4, §6.1, §6.4), sans-IO.

`receive(message, now)` returns the actions the pool must take, in order: answers to send (`Send`),
and what needs the pool's shared state — open an ecash channel, check and sign a share, retarget a
channel, drop one, redeem proofs. The session knows which channels this connection opened and runs the
protocol's own checks: SetupConnection comes first (else the connection ends), the ecash extension
0x4CA5 must be negotiated before an ecash channel opens, shares and updates name an open channel,
a max_target no offered level meets is refused with the connection kept, and an open past the
connection's channel cap is refused `too-many-channels` (whatever the channel kind).

Channel kinds have their own open and submit handlers: today only ecash extended channels open; the
standard and plain extended opens and shares are refused `ecash-required`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from nutx_cli.core.vardiff import Vardiff, VardiffConfig, VardiffError
from nutx_cli.sv2.ecash import (
    ECASH_EXTENSION,
    OpenExtendedEcashMiningChannel,
    RedeemSharesEcash,
    SubmitSharesEcashExtended,
    SubmitSharesEcashExtendedError,
)
from nutx_cli.sv2.extensions import RequestExtensions, RequestExtensionsError, RequestExtensionsSuccess
from nutx_cli.sv2.messages import (
    PROTOCOL_MINING,
    PROTOCOL_VERSION,
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


@dataclass(frozen=True, slots=True)
class Send:
    """A message for the miner."""

    message: Message


@dataclass(frozen=True, slots=True)
class Close:
    """End the connection (the setup was refused and its error sent)."""


@dataclass(frozen=True, slots=True)
class OpenEcashChannel:
    """Open ecash channel `channel_id`: answer `request_id` with the Success, the keyset and the first job."""

    request_id: int
    channel_id: int
    user: str
    vardiff: Vardiff
    now: float


@dataclass(frozen=True, slots=True)
class CheckEcashShare:
    """Check `share` of open channel `channel_id`, have it signed and answer it."""

    channel_id: int
    share: SubmitSharesEcashExtended


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


Action = Send | Close | OpenEcashChannel | CheckEcashShare | Retarget | DropChannel | Redeem | Ignored


class Phase(StrEnum):
    SETUP = "setup"
    """Waiting for SetupConnection."""
    OPEN = "open"
    """Set up: channels, shares and redeems."""
    CLOSED = "closed"


class PoolSession:
    """One miner connection. `channels` maps the ids of its open channels to their level controllers."""

    def __init__(self, vardiff: VardiffConfig, extranonce_size: int, max_channels: int = 0) -> None:
        self.vardiff = vardiff
        self.extranonce_size = extranonce_size
        """The bytes of extranonce the miner rolls: a channel asking for more is refused."""
        self.max_channels = max_channels
        """Channels this connection may hold open at once (0: no cap)."""
        self.phase = Phase.SETUP
        self.ecash = False
        """The ecash extension was negotiated (RequestExtensions)."""
        self.channels: dict[int, Vardiff] = {}

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
        return [Send(SetupConnectionSuccess(used_version=PROTOCOL_VERSION, flags=0))]

    def _refuse_setup(self, code: str, flags: int = 0) -> list[Action]:
        self.phase = Phase.CLOSED
        return [Send(SetupConnectionError(flags=flags, error_code=code)), Close()]

    def _request_extensions(self, message: RequestExtensions, now: float) -> list[Action]:
        if ECASH_EXTENSION in message.requested_extensions:
            self.ecash = True
            return [
                Send(
                    RequestExtensionsSuccess(
                        request_id=message.request_id, supported_extensions=[ECASH_EXTENSION]
                    )
                )
            ]
        return [
            Send(
                RequestExtensionsError(
                    request_id=message.request_id,
                    unsupported_extensions=list(message.requested_extensions),
                    required_extensions=[ECASH_EXTENSION],
                )
            )
        ]

    # --- channels -----------------------------------------------------------------------------------

    def _open_ecash(self, message: OpenExtendedEcashMiningChannel, now: float) -> list[Action]:
        def refuse(code: str) -> list[Action]:
            return [Send(OpenMiningChannelError(request_id=message.request_id, error_code=code))]

        if not self.ecash:
            return refuse("ecash-required")
        if message.unit not in ("", "ehash"):
            return refuse("unsupported-unit")
        if message.min_extranonce_size > self.extranonce_size:
            return refuse("min-extranonce-size-too-large")
        try:
            vardiff = Vardiff(self.vardiff, float(message.nominal_hash_rate), message.max_target, now)
        except VardiffError:
            return refuse("max-target-out-of-range")
        channel_id = max(self.channels, default=GROUP_CHANNEL_ID) + 1
        self.channels[channel_id] = vardiff
        return [OpenEcashChannel(message.request_id, channel_id, message.user_identity, vardiff, now)]

    def _open_without_ecash(
        self, message: OpenStandardMiningChannel | OpenExtendedMiningChannel, now: float
    ) -> list[Action]:
        return [Send(OpenMiningChannelError(request_id=message.request_id, error_code="ecash-required"))]

    def _update(self, message: UpdateChannel, now: float) -> list[Action]:
        vardiff = self.channels.get(message.channel_id)
        if vardiff is None:
            return [Send(UpdateChannelError(channel_id=message.channel_id, error_code="invalid-channel-id"))]
        try:
            moved = vardiff.update(float(message.nominal_hash_rate), message.maximum_target, now)
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
        if message.channel_id not in self.channels:
            return [
                Send(
                    SubmitSharesEcashExtendedError(
                        channel_id=message.channel_id,
                        sequence_number=message.sequence_number,
                        error_code="invalid-channel-id",
                    )
                )
            ]
        return [CheckEcashShare(message.channel_id, message)]

    def _submit_without_ecash(
        self, message: SubmitSharesStandard | SubmitSharesExtended, now: float
    ) -> list[Action]:
        return [
            Send(
                SubmitSharesError(
                    channel_id=message.channel_id,
                    sequence_number=message.sequence_number,
                    error_code="ecash-required",
                )
            )
        ]

    def _redeem(self, message: RedeemSharesEcash, now: float) -> list[Action]:
        return [Redeem(message)]


_OPENS = (OpenStandardMiningChannel, OpenExtendedMiningChannel, OpenExtendedEcashMiningChannel)
"""Every kind of channel open: the channel cap applies to all of them."""

_HANDLERS: dict[type, Callable[[PoolSession, Any, float], list[Action]]] = {
    RequestExtensions: PoolSession._request_extensions,
    OpenExtendedEcashMiningChannel: PoolSession._open_ecash,
    OpenStandardMiningChannel: PoolSession._open_without_ecash,
    OpenExtendedMiningChannel: PoolSession._open_without_ecash,
    UpdateChannel: PoolSession._update,
    CloseChannel: PoolSession._close,
    SubmitSharesEcashExtended: PoolSession._submit_ecash,
    SubmitSharesStandard: PoolSession._submit_without_ecash,
    SubmitSharesExtended: PoolSession._submit_without_ecash,
    RedeemSharesEcash: PoolSession._redeem,
}
