"""Extensions Negotiation, extension_type 0x0001 (spec §6.1). Note that request_id is a U16 here."""

from __future__ import annotations

from typing import Annotated

from nutx_cli.sv2.messages import Message, message
from nutx_cli.sv2.types import U16, Seq64K

NEGOTIATION_EXTENSION = 0x0001


@message(NEGOTIATION_EXTENSION, 0x00, channel_msg=False)
class RequestExtensions(Message):
    request_id: U16
    requested_extensions: Annotated[list[int], Seq64K(U16)]


@message(NEGOTIATION_EXTENSION, 0x01, channel_msg=False)
class RequestExtensionsSuccess(Message):
    request_id: U16
    supported_extensions: Annotated[list[int], Seq64K(U16)]


@message(NEGOTIATION_EXTENSION, 0x02, channel_msg=False)
class RequestExtensionsError(Message):
    request_id: U16
    unsupported_extensions: Annotated[list[int], Seq64K(U16)]
    required_extensions: Annotated[list[int], Seq64K(U16)]
