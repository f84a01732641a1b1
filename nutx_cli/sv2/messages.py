"""Common (spec §4) and Mining (spec §5) messages as dataclasses with compiled encode/decode.

Each message class knows its `extension_type`, `msg_type` and `channel_msg` bit, so a framer can
send any of them. Names follow the spec with the dot dropped (`SetupConnection.Success` is
`SetupConnectionSuccess`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, ClassVar, TypeVar, dataclass_transform

from nutx_cli.sv2.types import (
    B0_32,
    B0_64K,
    B0_255,
    BOOL,
    F32,
    STR0_255,
    U8,
    U16,
    U32,
    U64,
    U256,
    Hash256,
    Option,
    Seq64K,
    Seq255,
    record,
)

CORE_EXTENSION = 0x0000


class Message:
    """Base of every SV2 message; the class attributes are set by `@message`."""

    __slots__ = ()
    extension_type: ClassVar[int]
    msg_type: ClassVar[int]
    channel_msg: ClassVar[bool]


M = TypeVar("M", bound=Message)

MESSAGE_TYPES: dict[tuple[int, int], type[Message]] = {}
"""(extension_type without the channel bit, msg_type) → message class. Filled once at import."""


@dataclass_transform()
def message(extension_type: int, msg_type: int, channel_msg: bool) -> Callable[[type[M]], type[M]]:
    """Declare a message: compile its codec and register it under (extension_type, msg_type)."""

    def wrap(cls: type[M]) -> type[M]:
        cls.extension_type = extension_type
        cls.msg_type = msg_type
        cls.channel_msg = channel_msg
        compiled = record(cls)
        key = (extension_type, msg_type)
        if key in MESSAGE_TYPES:
            raise RuntimeError(f"two messages share extension {extension_type:#06x} type {msg_type:#04x}")
        MESSAGE_TYPES[key] = compiled
        return compiled

    return wrap


# --- Common messages (§4) -------------------------------------------------------------------------

PROTOCOL_MINING = 0
PROTOCOL_JOB_DECLARATION = 1
PROTOCOL_TEMPLATE_DISTRIBUTION = 2
PROTOCOL_VERSION = 2
"""The one version of the SV2 protocol there is (SetupConnection min/max_version, Success.used_version)."""

# SetupConnection.flags for the Mining protocol (§5.2), client side
REQUIRES_STANDARD_JOBS = 1 << 0
REQUIRES_WORK_SELECTION = 1 << 1
REQUIRES_VERSION_ROLLING = 1 << 2
# SetupConnection.Success.flags, server side
REQUIRES_FIXED_VERSION = 1 << 0
REQUIRES_EXTENDED_CHANNELS = 1 << 1


@message(CORE_EXTENSION, 0x00, channel_msg=False)
class SetupConnection(Message):
    protocol: U8
    min_version: U16
    max_version: U16
    flags: U32
    endpoint_host: STR0_255
    endpoint_port: U16
    vendor: STR0_255
    hardware_version: STR0_255
    firmware: STR0_255
    device_id: STR0_255


@message(CORE_EXTENSION, 0x01, channel_msg=False)
class SetupConnectionSuccess(Message):
    used_version: U16
    flags: U32


@message(CORE_EXTENSION, 0x02, channel_msg=False)
class SetupConnectionError(Message):
    flags: U32
    error_code: STR0_255


@message(CORE_EXTENSION, 0x03, channel_msg=True)
class ChannelEndpointChanged(Message):
    channel_id: U32


@message(CORE_EXTENSION, 0x04, channel_msg=False)
class Reconnect(Message):
    new_host: STR0_255
    new_port: U16


# --- Mining messages (§5.3) -----------------------------------------------------------------------


@message(CORE_EXTENSION, 0x10, channel_msg=False)
class OpenStandardMiningChannel(Message):
    request_id: U32
    user_identity: STR0_255
    nominal_hash_rate: F32
    max_target: U256


@message(CORE_EXTENSION, 0x11, channel_msg=False)
class OpenStandardMiningChannelSuccess(Message):
    request_id: U32
    channel_id: U32
    target: U256
    extranonce_prefix: B0_32
    group_channel_id: U32


@message(CORE_EXTENSION, 0x12, channel_msg=False)
class OpenMiningChannelError(Message):
    request_id: U32
    error_code: STR0_255


@message(CORE_EXTENSION, 0x13, channel_msg=False)
class OpenExtendedMiningChannel(Message):
    request_id: U32
    user_identity: STR0_255
    nominal_hash_rate: F32
    max_target: U256
    min_extranonce_size: U16


@message(CORE_EXTENSION, 0x14, channel_msg=False)
class OpenExtendedMiningChannelSuccess(Message):
    request_id: U32
    channel_id: U32
    target: U256
    extranonce_size: U16
    extranonce_prefix: B0_32
    group_channel_id: U32


@message(CORE_EXTENSION, 0x15, channel_msg=True)
class NewMiningJob(Message):
    channel_id: U32
    job_id: U32
    min_ntime: Annotated[int | None, Option(U32)]
    version: U32
    merkle_root: Hash256


@message(CORE_EXTENSION, 0x16, channel_msg=True)
class UpdateChannel(Message):
    channel_id: U32
    nominal_hash_rate: F32
    maximum_target: U256


@message(CORE_EXTENSION, 0x17, channel_msg=True)
class UpdateChannelError(Message):
    channel_id: U32
    error_code: STR0_255


@message(CORE_EXTENSION, 0x18, channel_msg=True)
class CloseChannel(Message):
    channel_id: U32
    reason_code: STR0_255


@message(CORE_EXTENSION, 0x19, channel_msg=True)
class SetExtranoncePrefix(Message):
    channel_id: U32
    extranonce_prefix: B0_32


@message(CORE_EXTENSION, 0x1A, channel_msg=True)
class SubmitSharesStandard(Message):
    channel_id: U32
    sequence_number: U32
    job_id: U32
    nonce: U32
    ntime: U32
    version: U32


@message(CORE_EXTENSION, 0x1B, channel_msg=True)
class SubmitSharesExtended(Message):
    channel_id: U32
    sequence_number: U32
    job_id: U32
    nonce: U32
    ntime: U32
    version: U32
    extranonce: B0_32


@message(CORE_EXTENSION, 0x1C, channel_msg=True)
class SubmitSharesSuccess(Message):
    channel_id: U32
    last_sequence_number: U32
    new_submits_accepted_count: U32
    new_shares_sum: U64


@message(CORE_EXTENSION, 0x1D, channel_msg=True)
class SubmitSharesError(Message):
    channel_id: U32
    sequence_number: U32
    error_code: STR0_255


@message(CORE_EXTENSION, 0x1F, channel_msg=True)
class NewExtendedMiningJob(Message):
    channel_id: U32
    job_id: U32
    min_ntime: Annotated[int | None, Option(U32)]
    version: U32
    version_rolling_allowed: BOOL
    merkle_path: Annotated[list[bytes], Seq255(Hash256)]
    coinbase_tx_prefix: B0_64K
    coinbase_tx_suffix: B0_64K


@message(CORE_EXTENSION, 0x20, channel_msg=True)
class SetNewPrevHash(Message):
    channel_id: U32
    job_id: U32
    prev_hash: Hash256
    min_ntime: U32
    nbits: U32


@message(CORE_EXTENSION, 0x21, channel_msg=True)
class SetTarget(Message):
    channel_id: U32
    maximum_target: U256


@message(CORE_EXTENSION, 0x22, channel_msg=True)
class SetCustomMiningJob(Message):
    channel_id: U32
    request_id: U32
    mining_job_token: B0_255
    version: U32
    prev_hash: Hash256
    min_ntime: U32
    nbits: U32
    coinbase_tx_version: U32
    coinbase_prefix: B0_255
    coinbase_tx_input_nsequence: U32
    coinbase_tx_outputs: B0_64K
    coinbase_tx_locktime: U32
    merkle_path: Annotated[list[bytes], Seq255(Hash256)]


@message(CORE_EXTENSION, 0x23, channel_msg=True)
class SetCustomMiningJobSuccess(Message):
    channel_id: U32
    request_id: U32
    job_id: U32


@message(CORE_EXTENSION, 0x24, channel_msg=True)
class SetCustomMiningJobError(Message):
    channel_id: U32
    request_id: U32
    error_code: STR0_255


@message(CORE_EXTENSION, 0x25, channel_msg=False)
class SetGroupChannel(Message):
    group_channel_id: U32
    channel_ids: Annotated[list[int], Seq64K(U32)]
