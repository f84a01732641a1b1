"""The ecash shares extension 0x4CA5 (spec §6.4–§6.5, this project's proposal).

Auxiliary types are records too: `EcashKeyset`, `BlindedMessage`, `BlindSignature`, `Proof`. Points
(`B_`, `C_`, `C`, mint keys) are 33-byte SEC1 compressed; DLEQ scalars are 32 big-endian bytes; keyset
ids are the raw id bytes (hex = Cashu's id string). The codec checks layouts only; whether a point is
on the curve is the pool's check (`invalid-blinded-message`).

Each record converts to the Cashu JSON objects of `core.models` (or, for a signature, from the
`bdhke.BlindSig` the mint made) through one adapter method here, the only place that maps their fields.
"""

from __future__ import annotations

from typing import Annotated

from nutx_cli.core import models
from nutx_cli.core.bdhke import BlindSig
from nutx_cli.core.keysets import keyset_id_v01
from nutx_cli.core.targets import level_of_target
from nutx_cli.sv2.errors import FrameError
from nutx_cli.sv2.messages import Message, message
from nutx_cli.sv2.types import (
    B0_32,
    B0_64K,
    B0_255,
    F32,
    POINT33,
    SCALAR32,
    STR0_255,
    U16,
    U32,
    U64,
    U256,
    Seq64K,
    Seq255,
    Tuple,
    record,
)

ECASH_EXTENSION = 0x4CA5
KEYSET_AMOUNTS = tuple(1 << i for i in range(64))
"""An ehash keyset has exactly these 64 amounts, ascending (§6.5.3)."""


@record
class EcashKeyset:
    """An epoch keyset: `keys` is a list of (amount, compressed pubkey) for amounts 2^0 … 2^63."""

    keyset_id: B0_255
    unit: STR0_255
    epoch: U32
    k_max: U16
    keys: Annotated[list[tuple[int, bytes]], Seq255(Tuple(U64, POINT33))]

    def __post_init__(self) -> None:
        if tuple(amount for amount, _ in self.keys) != KEYSET_AMOUNTS:
            raise FrameError("an ecash keyset has exactly 64 keys for amounts 2^0 … 2^63, ascending")

    def verify_id(self) -> None:
        """Refuse a keyset whose id is not the version-01 id of its keys and unit (§6.5.3)."""
        expected = keyset_id_v01(dict(self.keys), self.unit)
        if self.keyset_id.hex() != expected:
            raise FrameError(
                f"keyset id {self.keyset_id.hex()} does not match its keys (expected {expected})"
            )

    def key_for(self, amount: int) -> bytes:
        """The mint's public key for a power-of-two amount."""
        if amount <= 0 or amount & (amount - 1) or amount.bit_length() > 64:
            raise FrameError(f"{amount} is not an amount of this keyset")
        return self.keys[amount.bit_length() - 1][1]


@record
class BlindedMessage:
    amount: U64
    keyset_id: B0_255
    blinded_secret: POINT33  # B_

    def to_model(self) -> models.BlindedMessage:
        """The Cashu JSON form (the point is not checked here: the mint does that)."""
        return models.BlindedMessage(self.amount, self.keyset_id.hex(), self.blinded_secret.hex())

    @classmethod
    def of_model(cls, m: models.BlindedMessage) -> BlindedMessage:
        return cls(m.amount, bytes.fromhex(m.id), bytes.fromhex(m.B_))


@record
class BlindSignature:
    amount: U64
    keyset_id: B0_255
    blinded_signature: POINT33  # C_
    dleq_e: SCALAR32
    dleq_s: SCALAR32

    @classmethod
    def of(cls, sig: BlindSig, amount: int, keyset_id: str) -> BlindSignature:
        """The record of `sig`, made with the key for `amount` of keyset `keyset_id` (hex)."""
        return cls(amount, bytes.fromhex(keyset_id), sig.C_, sig.e, sig.s)

    def blind_sig(self) -> BlindSig:
        return BlindSig(self.blinded_signature, self.dleq_e, self.dleq_s)


@record
class Proof:
    amount: U64
    keyset_id: B0_255
    secret: B0_255  # the exact UTF-8 bytes of the Cashu secret string
    signature: POINT33  # C
    witness: B0_64K  # empty unless NUT-10/11 conditions

    def to_model(self) -> models.Proof:
        """The Cashu JSON form; UnicodeDecodeError when the secret or witness is not UTF-8."""
        return models.Proof(
            amount=self.amount,
            id=self.keyset_id.hex(),
            secret=self.secret.decode("utf-8"),
            C=self.signature.hex(),
            witness=self.witness.decode("utf-8") or None,
        )

    @classmethod
    def of_model(cls, p: models.Proof) -> Proof:
        """The SV2 record of a Cashu proof (its DLEQ stays in the wallet: the mint does not need it)."""
        return cls(
            p.amount, bytes.fromhex(p.id), p.secret.encode(), bytes.fromhex(p.C), (p.witness or "").encode()
        )


@message(ECASH_EXTENSION, 0x00, channel_msg=False)
class OpenExtendedEcashMiningChannel(Message):
    request_id: U32
    user_identity: STR0_255
    nominal_hash_rate: F32
    max_target: U256
    min_extranonce_size: U16
    unit: STR0_255  # "ehash"; empty = the pool's default


@message(ECASH_EXTENSION, 0x01, channel_msg=False)
class OpenExtendedEcashMiningChannelSuccess(Message):
    request_id: U32
    channel_id: U32
    target: U256
    extranonce_size: U16
    extranonce_prefix: B0_32
    group_channel_id: U32
    keyset: EcashKeyset  # the current epoch's keyset


@message(ECASH_EXTENSION, 0x02, channel_msg=True)
class SubmitSharesEcashExtended(Message):
    channel_id: U32
    sequence_number: U32
    job_id: U32
    nonce: U32
    ntime: U32
    version: U32
    extranonce: B0_32
    blinded_message: BlindedMessage


@message(ECASH_EXTENSION, 0x03, channel_msg=True)
class SubmitSharesEcashExtendedSuccess(Message):
    channel_id: U32
    sequence_number: U32
    signature: BlindSignature


@message(ECASH_EXTENSION, 0x04, channel_msg=True)
class SubmitSharesEcashExtendedError(Message):
    channel_id: U32
    sequence_number: U32
    error_code: STR0_255


@message(ECASH_EXTENSION, 0x05, channel_msg=False)
class RedeemSharesEcash(Message):
    request_id: U32
    proofs: Annotated[list[Proof], Seq64K(Proof)]
    outputs: Annotated[list[BlindedMessage], Seq64K(BlindedMessage)]


@message(ECASH_EXTENSION, 0x06, channel_msg=False)
class RedeemSharesEcashSuccess(Message):
    request_id: U32
    signatures: Annotated[list[BlindSignature], Seq64K(BlindSignature)]  # index-aligned with outputs


@message(ECASH_EXTENSION, 0x07, channel_msg=False)
class RedeemSharesEcashError(Message):
    request_id: U32
    error_code: STR0_255
    failed_indexes: Annotated[list[int], Seq64K(U16)]


@message(ECASH_EXTENSION, 0x08, channel_msg=True)
class SetEcashKeyset(Message):
    channel_id: U32  # may be a group channel id
    keyset: EcashKeyset  # the new epoch's keyset


@message(ECASH_EXTENSION, 0x09, channel_msg=False)
class SetEcashMint(Message):
    """Where the pool's mint is: sent once, right after RequestExtensions.Success lists 0x4CA5, so the
    miner's wallet finds the mint that prices and redeems its ehash (this project's addition)."""

    mint_url: STR0_255  # the mint's public Cashu HTTP API, e.g. "http://127.0.0.1:3338"


def share_amount(target: int, k_max: int) -> int:
    """The ehash amount of a share on a job whose channel target was `target` = T_k: 2^(k_max − k).

    Raises FrameError for targets that are not ladder targets or levels outside k_max − 63 … k_max.
    """
    try:
        k = level_of_target(target)
    except ValueError as exc:
        raise FrameError(str(exc)) from None
    if not k_max - 63 <= k <= k_max:
        raise FrameError(f"level {k} is outside the ecash range {k_max - 63}..{k_max}")
    return 1 << (k_max - k)
