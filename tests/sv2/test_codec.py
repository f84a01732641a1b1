"""SV2 data types, plain frames and every message's codec (spec §1, §2.1, §4, §5, §6.1)."""

from __future__ import annotations

import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nutx_cli.sv2.errors import FrameError, Sv2Error
from nutx_cli.sv2.extensions import RequestExtensions, RequestExtensionsError, RequestExtensionsSuccess
from nutx_cli.sv2.framing import decode_frame, decode_payload, encode_frame
from nutx_cli.sv2.messages import (
    MESSAGE_TYPES,
    NewExtendedMiningJob,
    NewMiningJob,
    OpenExtendedMiningChannel,
    OpenExtendedMiningChannelSuccess,
    SetGroupChannel,
    SetNewPrevHash,
    SetTarget,
    SetupConnection,
    SubmitSharesExtended,
    SubmitSharesStandard,
    SubmitSharesSuccess,
)
from nutx_cli.sv2.session import Sv2Session
from nutx_cli.sv2.types import decode_record, encode_record
from tests.conftest import load_vectors
from tests.helpers.sv2_strategies import ALL_MESSAGES, any_message

FRAMES = load_vectors("stratum")["block_100000_worked_example"]["sv2_frames_unencrypted"]
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def test_every_message_of_the_digest_is_registered() -> None:
    core = {0x00, 0x01, 0x02, 0x03, 0x04, *range(0x10, 0x1E), *range(0x1F, 0x26)}
    assert {t for e, t in MESSAGE_TYPES if e == 0} == core
    assert {t for e, t in MESSAGE_TYPES if e == 0x0001} == {0, 1, 2}
    assert {t for e, t in MESSAGE_TYPES if e == 0x4CA5} == set(range(10))  # 0x09 SetEcashMint is ours


@pytest.mark.parametrize("name", sorted(FRAMES))
def test_block_100000_frames_decode_and_reencode_byte_for_byte(name: str) -> None:
    frame = bytes.fromhex(FRAMES[name])
    message = decode_frame(frame)
    assert message is not None
    assert encode_frame(message) == frame


def test_block_100000_frames_carry_the_documented_values() -> None:
    job = decode_frame(bytes.fromhex(FRAMES["NewExtendedMiningJob"]))
    assert isinstance(job, NewExtendedMiningJob)
    assert (job.channel_id, job.job_id, job.min_ntime, job.version) == (1, 7, None, 1)
    assert len(job.merkle_path) == 2 and job.merkle_path[0].hex().startswith("c40297f7")
    prev = decode_frame(bytes.fromhex(FRAMES["SetNewPrevHash"]))
    assert isinstance(prev, SetNewPrevHash)
    assert (prev.min_ntime, prev.nbits) == (0x4D1B2237, 0x1B04864C)
    share = decode_frame(bytes.fromhex(FRAMES["SubmitSharesExtended"]))
    assert share == SubmitSharesExtended(1, 0, 7, 0x10572B0F, 0x4D1B2237, 1, bytes.fromhex("0602"))
    std = decode_frame(bytes.fromhex(FRAMES["SubmitSharesStandard"]))
    assert std == SubmitSharesStandard(2, 0, 8, 0x10572B0F, 0x4D1B2237, 1)
    target = decode_frame(bytes.fromhex(FRAMES["SetTarget(diff1)"]))
    assert target == SetTarget(1, 0xFFFF << 208)  # U256 targets are little-endian integers
    assert decode_frame(bytes.fromhex(FRAMES["SubmitShares.Success"])) == SubmitSharesSuccess(1, 0, 1, 1)
    nmj = decode_frame(bytes.fromhex(FRAMES["NewMiningJob(min_ntime set)"]))
    assert isinstance(nmj, NewMiningJob) and nmj.min_ntime == 0x4D1B2237
    open_ = decode_frame(bytes.fromhex(FRAMES["OpenExtendedMiningChannel"]))
    assert isinstance(open_, OpenExtendedMiningChannel)
    assert open_.user_identity == "alice.worker1" and open_.max_target == 2**256 - 1
    assert open_.min_extranonce_size == 4
    ok = decode_frame(bytes.fromhex(FRAMES["OpenExtendedMiningChannel.Success"]))
    assert isinstance(ok, OpenExtendedMiningChannelSuccess)
    assert (ok.extranonce_size, ok.extranonce_prefix) == (2, b"\x02")


def test_request_extensions_bytes_of_the_spec() -> None:
    frame = encode_frame(RequestExtensions(request_id=1, requested_extensions=[0x4CA5]))
    assert frame == bytes.fromhex("01 00 00 06 00 00 01 00 01 00 a5 4c")
    assert frame.hex() == FRAMES["RequestExtensions([0x4CA5])"]
    ok = RequestExtensionsSuccess(1, [0x4CA5])
    assert encode_frame(ok) == bytes.fromhex("0100 01 060000 0100 0100 a54c")
    err = RequestExtensionsError(1, [0x0002], [0x4CA5])
    assert encode_frame(err) == bytes.fromhex("0100 02 0a0000 0100 0100 0200 0100 a54c")


def test_setup_connection_example_of_section_4() -> None:
    msg = SetupConnection(
        0, 2, 2, 0, "0.0.0.0", 3333, "Bitmain", "S9i 13.5", "braiins-os-2018-09-22-1-hash", ""
    )
    assert (
        encode_frame(msg).hex()
        == load_vectors("stratum")["noise_handshake"]["values"]["setup_connection_plain_frame"]
    )


def test_channel_bit_is_the_top_bit_of_extension_type() -> None:
    assert encode_frame(SubmitSharesStandard(2, 0, 8, 1, 2, 3))[:2] == b"\x00\x80"
    assert encode_frame(SetGroupChannel(5, [1, 2]))[:2] == b"\x00\x00"
    # decoding looks the extension up with the flag masked off
    assert decode_payload(0x8000, 0x21, encode_record(SetTarget(1, 5))) == SetTarget(1, 5)


def test_encoder_refuses_values_that_do_not_fit() -> None:
    with pytest.raises(FrameError):
        encode_record(SubmitSharesExtended(1, 0, 7, 1, 2, 3, b"x" * 33))  # B0_32
    with pytest.raises(FrameError):
        encode_record(SubmitSharesStandard(2**32, 0, 8, 1, 2, 3))  # U32
    with pytest.raises(FrameError):
        encode_record(SetTarget(1, 2**256))  # U256
    with pytest.raises(FrameError):
        encode_record(SetNewPrevHash(1, 2, b"\x00" * 31, 0, 0))  # 32-byte hash
    with pytest.raises(FrameError):
        encode_record(SetupConnection(0, 2, 2, 0, "h" * 256, 1, "", "", "", ""))  # STR0_255


def test_decoder_rejects_lengths_past_the_end_and_trailing_bytes() -> None:
    share = bytes.fromhex(FRAMES["SubmitSharesExtended"])[6:]
    with pytest.raises(FrameError, match="runs past"):
        decode_record(SubmitSharesExtended, share[:-1])
    with pytest.raises(FrameError, match="trailing"):
        decode_record(SubmitSharesExtended, share + b"\x00")
    with pytest.raises(FrameError, match="maximum"):
        decode_record(SubmitSharesExtended, share[:-3] + b"\x21" + b"\x00" * 33)  # B0_32 of 33 bytes
    with pytest.raises(FrameError, match="OPTION"):
        decode_record(NewMiningJob, struct.pack("<IIB", 1, 2, 2) + bytes(40))


def test_bool_reads_bit_zero_only_and_strings_keep_any_bytes() -> None:
    job = NewExtendedMiningJob(1, 2, None, 3, True, [], b"", b"")
    payload = bytearray(encode_record(job))
    payload[13] = 0xFE  # bit 0 clear: False
    assert decode_record(NewExtendedMiningJob, bytes(payload)).version_rolling_allowed is False
    raw = struct.pack("<IIB", 1, 0, 2) + b"\xff\xfe"  # SubmitShares.Error with a non-UTF-8 code
    err = decode_payload(0x8000, 0x1D, raw)
    assert err is not None and encode_record(err) == raw


def test_unknown_extension_is_skipped_but_unknown_core_type_is_malformed() -> None:
    assert decode_payload(0x4000, 0x00, b"whatever") is None
    assert decode_payload(0x8002, 0x07, b"") is None  # 0x0002 is not one we speak
    with pytest.raises(FrameError, match="unknown message type"):
        decode_payload(0x0000, 0x50, b"")  # Job Declaration is not implemented
    with pytest.raises(FrameError):
        decode_payload(0x4CA5, 0x09, b"")


@pytest.mark.parametrize("cls", ALL_MESSAGES, ids=lambda c: c.__name__)
def test_every_message_type_round_trips(cls: type) -> None:
    from tests.helpers.sv2_strategies import for_record

    @FAST
    @given(for_record(cls))
    def check(message: object) -> None:
        frame = encode_frame(message)  # type: ignore[arg-type]
        assert decode_frame(frame) == message

    check()


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=300), st.sampled_from(sorted(MESSAGE_TYPES)))
def test_random_payloads_only_raise_the_codec_error(payload: bytes, key: tuple[int, int]) -> None:
    try:
        message = decode_payload(key[0], key[1], payload)
    except Sv2Error:
        return
    assert message is not None and encode_record(message) == payload  # anything accepted re-encodes exactly


@settings(max_examples=300, deadline=None)
@given(any_message, st.data())
def test_mutated_frames_only_raise_the_codec_error(message: object, data: st.DataObject) -> None:
    frame = bytearray(encode_frame(message))  # type: ignore[arg-type]
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(frame) - 1))
        frame[i] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(frame)))
    try:
        decode_frame(bytes(frame[:cut]))
    except Sv2Error:
        pass


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400), st.integers(1, 50))
def test_random_bytes_into_the_plain_stream_decoder_only_raise_codec_errors(data: bytes, step: int) -> None:
    rx = Sv2Session.plain(max_message_size=300)
    try:
        for i in range(0, len(data), step):
            rx.feed(data[i : i + step])
    except Sv2Error:
        pass
