"""The ecash extension 0x4CA5 (spec §6.4–§6.5): golden frames written by hand from the layouts.

Every frame below is typed from the tables of §6.4 (header: extension_type LE with the channel bit,
msg_type, U24 length), not produced by the codec; each is decoded, checked field by field, and
re-encoded byte for byte.
"""

from __future__ import annotations

import pytest

from nutx_cli.core import bdhke, models
from nutx_cli.core.keysets import derive_keyset
from nutx_cli.sv2.ecash import (
    KEYSET_AMOUNTS,
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
from nutx_cli.sv2.errors import FrameError
from nutx_cli.sv2.framing import decode_frame, encode_frame
from nutx_cli.sv2.messages import Message


def h(text: str) -> bytes:
    return bytes.fromhex("".join(text.split()))


ID01 = "21 01" + "ab" * 32  # KEYSET_ID: B0_255 of a 33-byte version-01 id
ID00 = "08 00ad268c4d1f5826"  # KEYSET_ID: B0_255 of an 8-byte version-00 id
KEYSET_ID = h(ID01)[1:]
# 64 EcashKeys: amount U64 LE = 2^i, then a compressed point 02 ‖ (i repeated 32 times)
KEYS_HEX = "40" + "".join(f"{(1 << i).to_bytes(8, 'little').hex()} 02{f'{i:02x}' * 32}" for i in range(64))
KEYSET_HEX = f"{ID01} 05 6568617368 03000000 0001 {KEYS_HEX}"  # unit "ehash", epoch 3, k_max 256
KEYSET = EcashKeyset(KEYSET_ID, "ehash", 3, 256, [(1 << i, bytes([2]) + bytes([i]) * 32) for i in range(64)])
T236 = 2**236 - 1  # LE: 29 bytes ff, then 0f, then 00 00

GOLDEN: list[tuple[str, Message]] = [
    (
        "a54c 00 360000"  # OpenExtendedEcashMiningChannel, 54 bytes
        " 01000000 05 616c696365 00247449" + "ff" * 32 + " 0400 05 6568617368",
        OpenExtendedEcashMiningChannel(1, "alice", 1e6, 2**256 - 1, 4, "ehash"),
    ),
    (
        "a54c 01 a20a00"  # .Success, 51 + 2671 = 2722 bytes
        " 01000000 07000000" + "ff" * 29 + "0f 0000 0800 04 00000001 00000000 " + KEYSET_HEX,
        OpenExtendedEcashMiningChannelSuccess(1, 7, T236, 8, h("00000001"), 0, KEYSET),
    ),
    (
        "a5cc 02 6c0000"  # SubmitSharesEcashExtended (channel message), 108 bytes
        " 07000000 05000000 09000000 0f2b5710 37221b4d 00000020 08 0001020304050607"
        " 0000100000000000 " + ID01 + " 02" + "cd" * 32,
        SubmitSharesEcashExtended(
            7,
            5,
            9,
            0x10572B0F,
            0x4D1B2237,
            0x20000000,
            h("0001020304050607"),
            BlindedMessage(1 << 20, KEYSET_ID, h("02" + "cd" * 32)),
        ),
    ),
    (
        "a5cc 03 930000"  # SubmitSharesEcashExtended.Success, 147 bytes
        " 07000000 05000000 0000100000000000 " + ID01 + " 03" + "c1" * 32 + "e1" * 32 + "51" * 32,
        SubmitSharesEcashExtendedSuccess(
            7, 5, BlindSignature(1 << 20, KEYSET_ID, h("03" + "c1" * 32), h("e1" * 32), h("51" * 32))
        ),
    ),
    (
        "a5cc 04 180000 07000000 06000000 0f 616d6f756e742d6d69736d61746368",  # "amount-mismatch"
        SubmitSharesEcashExtendedError(7, 6, "amount-mismatch"),
    ),
    (
        "a54c 05 c80000"  # RedeemSharesEcash, 200 bytes: one proof, one sat output
        " 02000000 0100 0800000000000000 " + ID01 + " 40" + "33" * 64 + " 03" + "ee" * 32 + " 0000"
        " 0100 0400000000000000 " + ID00 + " 02" + "11" * 32,
        RedeemSharesEcash(
            2,
            [Proof(8, KEYSET_ID, b"3" * 64, h("03" + "ee" * 32), b"")],
            [BlindedMessage(4, h("00ad268c4d1f5826"), h("02" + "11" * 32))],
        ),
    ),
    (
        "a54c 06 780000 02000000 0100 0400000000000000 " + ID00 + " 02" + "22" * 32 + "33" * 32 + "44" * 32,
        RedeemSharesEcashSuccess(
            2, [BlindSignature(4, h("00ad268c4d1f5826"), h("02" + "22" * 32), h("33" * 32), h("44" * 32))]
        ),
    ),
    (
        "a54c 07 160000 02000000 0b 70726f6f662d7370656e74 0200 0000 0300",  # "proof-spent" at 0 and 3
        RedeemSharesEcashError(2, "proof-spent", [0, 3]),
    ),
    (
        "a54c 09 160000 15 687474703a2f2f3132372e302e302e313a33333338",  # SetEcashMint "http://127.0.0.1:3338"
        SetEcashMint("http://127.0.0.1:3338"),
    ),
    (
        "a5cc 08 730a00 07000000 " + KEYSET_HEX,  # SetEcashKeyset, 2675 bytes (last: the shape test edits it)
        SetEcashKeyset(7, KEYSET),
    ),
]


@pytest.mark.parametrize(("hex_frame", "expected"), GOLDEN, ids=[type(m).__name__ for _, m in GOLDEN])
def test_golden_frame_decodes_and_reencodes(hex_frame: str, expected: Message) -> None:
    frame = h(hex_frame)
    assert decode_frame(frame) == expected
    assert encode_frame(expected) == frame


def test_every_ecash_message_has_a_golden_frame() -> None:
    assert sorted(type(m).msg_type for _, m in GOLDEN) == list(range(10))


def test_keyset_shape_is_enforced() -> None:
    assert KEYSET.key_for(1 << 20) == bytes([2]) + bytes([20]) * 32
    with pytest.raises(FrameError):
        EcashKeyset(KEYSET_ID, "ehash", 3, 256, KEYSET.keys[:63])
    with pytest.raises(FrameError):
        EcashKeyset(KEYSET_ID, "ehash", 3, 256, list(reversed(KEYSET.keys)))
    frame = bytearray(h(GOLDEN[-1][0]))
    second_amount = 6 + 4 + 34 + 6 + 4 + 2 + 1 + 41  # header, channel, id, unit, epoch, k_max, count, key 0
    assert frame[second_amount] == 2
    frame[second_amount] = 3
    with pytest.raises(FrameError, match="64 keys"):
        decode_frame(bytes(frame))
    with pytest.raises(FrameError):
        KEYSET.key_for(3)


def test_share_amount_follows_the_level_of_the_job_target() -> None:
    assert share_amount(2**256 - 1, 256) == 1
    assert share_amount(T236, 256) == 1 << 20
    assert share_amount(2**193 - 1, 256) == 1 << 63
    assert share_amount(2**224 - 1, 224) == 1
    with pytest.raises(FrameError):
        share_amount(2**192 - 1, 256)  # harder than k_max - 63
    with pytest.raises(FrameError):
        share_amount(2**236, 256)  # not a ladder target
    assert KEYSET_AMOUNTS[20] == share_amount(T236, 256)


def test_keyset_id_is_recomputed_from_the_keys() -> None:
    derived = derive_keyset(b"\x07" * 32, "ehash", 5)
    keys = sorted(derived.public_keys.items())
    keyset = EcashKeyset(bytes.fromhex(derived.id), "ehash", 5, 256, keys)
    keyset.verify_id()
    with pytest.raises(FrameError, match="does not match"):
        EcashKeyset(
            bytes.fromhex(derived.id), "ehash", 5, 256, [*keys[:-1], (keys[-1][0], keys[0][1])]
        ).verify_id()
    with pytest.raises(FrameError, match="does not match"):
        KEYSET.verify_id()


def test_each_record_has_one_adapter_to_its_cashu_form() -> None:
    keyset = derive_keyset(b"\x07" * 32, "ehash", 5)
    B_ = bdhke.blind("a share secret", b"\x09" * 32)
    sig = bdhke.sign(keyset.private_keys[4], B_)
    record = BlindSignature.of(sig, 4, keyset.id)
    assert record == BlindSignature(4, bytes.fromhex(keyset.id), sig.C_, sig.e, sig.s)
    assert record.blind_sig() == sig == models.BlindSignature.of(sig, 4, keyset.id).blind_sig()
    assert BlindedMessage(4, bytes.fromhex(keyset.id), B_).to_model() == models.BlindedMessage(
        4, keyset.id, B_.hex()
    )
    C = bdhke.unblind(sig.C_, b"\x09" * 32, keyset.public_keys[4])
    proof = Proof(4, bytes.fromhex(keyset.id), b"a share secret", C, b"")
    assert proof.to_model() == models.Proof(4, keyset.id, "a share secret", C.hex())
    assert Proof(4, bytes.fromhex(keyset.id), b"s", C, b'{"w":1}').to_model().witness == '{"w":1}'
    with pytest.raises(UnicodeDecodeError):
        Proof(4, bytes.fromhex(keyset.id), b"\xff", C, b"").to_model()
