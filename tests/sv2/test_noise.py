"""Noise NX handshake, certificate, authority key text and the encrypted session (spec §2.3, §3)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nutx_cli.sv2.certificate import (
    Certificate,
    KeyFormatError,
    authority_key_from_text,
    authority_key_to_text,
    make_certificate,
    pubkey_of_secret,
    secret_key_from_text,
    secret_key_to_text,
    verify_certificate,
)
from nutx_cli.sv2.ecash import BlindSignature, SubmitSharesEcashExtendedSuccess
from nutx_cli.sv2.errors import AuthenticationError, CertificateError, FrameError, HandshakeError, Sv2Error
from nutx_cli.sv2.messages import CloseChannel, SetupConnection, SetupConnectionSuccess, SubmitSharesError
from nutx_cli.sv2.noise import (
    ACT2_SIZE,
    CipherState,
    NoiseInitiator,
    NoiseResponder,
    TransportKeys,
    ellswift_encode,
    ellswift_xonly,
    new_secret,
)
from nutx_cli.sv2.session import Sv2Session, ciphertext_length
from tests.conftest import load_vectors
from tests.helpers.sv2_strategies import any_message

STRATUM = load_vectors("stratum")
V = {k: bytes.fromhex(v) for k, v in STRATUM["noise_handshake"]["values"].items()}
PROTOCOL_NAME = STRATUM["noise_handshake"]["protocol_name_ascii"]
KEYS = STRATUM["authority_key_encoding"]
T0 = 1700000000


def vector_pair() -> tuple[NoiseInitiator, NoiseResponder]:
    cert = make_certificate(
        V["authority_priv"], V["responder_static_xonly"], T0, T0 + 3600, aux_rand=bytes(32)
    )
    initiator = NoiseInitiator(
        V["authority_pub_xonly"],
        ephemeral_secret=V["initiator_ephemeral_priv"],
        ephemeral_ellswift=V["initiator_ephemeral_ellswift"],
    )
    responder = NoiseResponder(
        V["responder_static_priv"],
        cert,
        static_ellswift=V["responder_static_ellswift"],
        ephemeral_secret=V["responder_ephemeral_priv"],
        ephemeral_ellswift=V["responder_ephemeral_ellswift"],
    )
    return initiator, responder


def handshake(now: int = T0 + 100) -> tuple[TransportKeys, TransportKeys]:
    initiator, responder = vector_pair()
    msg2, server = responder.act2(initiator.act1())
    return initiator.act2(msg2, now), server


def test_initial_state_and_certificate_of_the_vector() -> None:
    import hashlib

    assert hashlib.sha256(PROTOCOL_NAME.encode()).digest() == V["ck0"]
    assert hashlib.sha256(V["ck0"]).digest() == V["h0"]
    assert pubkey_of_secret(V["authority_priv"]) == V["authority_pub_xonly"]
    assert pubkey_of_secret(V["responder_static_priv"]) == V["responder_static_xonly"]
    assert ellswift_xonly(V["responder_static_ellswift"]) == V["responder_static_xonly"]
    cert = make_certificate(
        V["authority_priv"], V["responder_static_xonly"], T0, T0 + 3600, aux_rand=bytes(32)
    )
    assert cert.encode() == V["signature_noise_message"]
    assert Certificate.decode(V["signature_noise_message"]) == cert


def test_handshake_transcript_matches_the_vector() -> None:
    initiator, responder = vector_pair()
    msg1 = initiator.act1()
    assert msg1 == V["msg1"] and initiator.handshake_hash == V["h_after_msg1"]
    msg2, server = responder.act2(msg1)
    assert len(msg2) == ACT2_SIZE == 234
    assert msg2 == V["msg2"]
    client = initiator.act2(msg2, T0 + 100)
    assert client.handshake_hash == server.handshake_hash == V["h_final"]
    assert client.server_static_xonly == V["responder_static_xonly"]
    # the first transport frames of the vector, both directions
    setup = V["setup_connection_plain_frame"]
    assert client.send.encrypt(setup[:6]) == V["setup_connection_encrypted_header_n0"]
    assert client.send.encrypt(setup[6:]) == V["setup_connection_encrypted_payload_n1"]
    assert (
        Sv2Session.encrypted(server).encode(SetupConnectionSuccess(2, 0))
        == V["setup_connection_success_encrypted"]
    )


def test_session_decrypts_the_vector_frames() -> None:
    client, server = handshake()
    wire = V["setup_connection_encrypted_header_n0"] + V["setup_connection_encrypted_payload_n1"]
    (msg,) = Sv2Session.encrypted(server).feed(wire)
    assert isinstance(msg, SetupConnection) and msg.vendor == "Bitmain"
    (ok,) = Sv2Session.encrypted(client).feed(V["setup_connection_success_encrypted"])
    assert ok == SetupConnectionSuccess(2, 0)


def test_wrong_authority_key_is_refused() -> None:
    initiator, responder = vector_pair()
    other = NoiseInitiator(pubkey_of_secret(new_secret()))
    msg2, _ = responder.act2(other.act1())
    with pytest.raises(CertificateError, match="authority"):
        other.act2(msg2, T0 + 100)
    assert initiator.act2(vector_pair()[1].act2(initiator.act1())[0], T0).certificate.valid_from == T0


@pytest.mark.parametrize(
    ("now", "ok"), [(T0 - 10, True), (T0 - 11, False), (T0 + 3610, True), (T0 + 3611, False)]
)
def test_certificate_validity_window_has_ten_seconds_leeway(now: int, ok: bool) -> None:
    cert = Certificate.decode(V["signature_noise_message"])
    args = (cert, V["responder_static_xonly"], V["authority_pub_xonly"], now)
    if ok:
        verify_certificate(*args)
    else:
        with pytest.raises(CertificateError):
            verify_certificate(*args)


def test_certificate_for_another_server_key_or_version_is_refused() -> None:
    cert = Certificate.decode(V["signature_noise_message"])
    with pytest.raises(CertificateError):
        verify_certificate(cert, pubkey_of_secret(new_secret()), V["authority_pub_xonly"], T0)
    v1 = Certificate(1, cert.valid_from, cert.not_valid_after, cert.signature)
    with pytest.raises(CertificateError, match="version"):
        verify_certificate(v1, V["responder_static_xonly"], V["authority_pub_xonly"], T0)


def test_expired_certificate_fails_the_handshake() -> None:
    initiator, responder = vector_pair()
    msg2, _ = responder.act2(initiator.act1())
    with pytest.raises(CertificateError, match="expired"):
        initiator.act2(msg2, T0 + 7200)


def test_tampered_or_short_handshake_message_fails() -> None:
    for index in (70, 150, 233):
        initiator, responder = vector_pair()
        msg2 = bytearray(responder.act2(initiator.act1())[0])
        msg2[index] ^= 1
        with pytest.raises(HandshakeError):
            initiator.act2(bytes(msg2), T0 + 100)
    initiator, responder = vector_pair()
    with pytest.raises(HandshakeError):
        initiator.act2(responder.act2(initiator.act1())[0][:-1], T0)
    with pytest.raises(HandshakeError):
        vector_pair()[1].act2(b"\x00" * 63)


def test_random_keys_handshake_both_ways() -> None:
    authority = new_secret()
    static = new_secret()
    cert = make_certificate(authority, pubkey_of_secret(static), T0, T0 + 60)
    initiator = NoiseInitiator(pubkey_of_secret(authority))
    msg2, server = NoiseResponder(static, cert).act2(initiator.act1())
    client = initiator.act2(msg2, T0)
    assert client.handshake_hash == server.handshake_hash
    assert len(ellswift_encode(static)) == 64 and ellswift_encode(static) != ellswift_encode(static)


# --- authority key text (§3.6) ----------------------------------------------------------------------


def test_authority_key_text_vectors() -> None:
    spec = KEYS["spec_vector"]
    raw = bytes.fromhex(spec["raw_xonly_hex"])
    assert authority_key_to_text(raw) == spec["base58check_of_0100_prefix_plus_key"]
    assert authority_key_from_text(spec["base58check_of_0100_prefix_plus_key"]) == raw
    sri = KEYS["sri_example_keypair"]
    payload = bytes.fromhex(sri["public_payload_hex"])
    assert authority_key_to_text(payload[2:]) == sri["public_base58check"]
    assert secret_key_from_text(sri["secret_base58check"]).hex() == sri["secret_hex"]
    assert secret_key_to_text(bytes.fromhex(sri["secret_hex"])) == sri["secret_base58check"]
    assert pubkey_of_secret(bytes.fromhex(sri["secret_hex"])) == payload[2:]


def test_authority_key_other_forms_are_accepted() -> None:
    text = KEYS["spec_vector"]["base58check_of_0100_prefix_plus_key"]
    raw = bytes.fromhex(KEYS["spec_vector"]["raw_xonly_hex"])
    assert authority_key_from_text(f"stratum2+tcp://pool.example:34254/{text}") == raw
    assert authority_key_from_text(raw.hex()) == raw
    assert authority_key_from_text("  " + text + "\n") == raw
    assert authority_key_to_text(b"\x02" + raw) == text  # a compressed key gives the same text


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "hello",
        "9bXiEd8boQVhq7WddEcERUL5tyyJVFYdU8th3HfbNXK3Yw6GRXi",
        "mkDLTBBRxdBv998612qipDYoTK3YUrqLe8uWw7gu3iXbSrn2n",
        "00" * 32,
        "1" * 500,
    ],
)
def test_bad_authority_key_text_is_refused(bad: str) -> None:
    with pytest.raises(KeyFormatError):
        authority_key_from_text(bad)


# --- encrypted session (§2.3) ------------------------------------------------------------------------


def test_ciphertext_length() -> None:
    assert ciphertext_length(0) == 0
    assert ciphertext_length(1) == 17
    assert ciphertext_length(65519) == 65535
    assert ciphertext_length(65520) == 65535 + 17
    assert ciphertext_length(100000) == 100032


def test_long_payload_is_chunked_and_empty_payload_is_header_only() -> None:
    from nutx_cli.sv2.messages import NewExtendedMiningJob

    client, server = handshake()
    tx, rx = Sv2Session.encrypted(client), Sv2Session.encrypted(server)
    job = NewExtendedMiningJob(1, 2, None, 3, True, [b"\x11" * 32] * 3, b"p" * 65000, b"s" * 60000)
    wire = tx.encode(job)
    assert len(wire) == 22 + ciphertext_length(125000 + 4 + 4 + 1 + 4 + 1 + 1 + 96 + 4)
    assert client.send.nonce == 1 + 2
    assert rx.feed(wire) == [job]
    small = tx.encode(CloseChannel(0, ""))
    assert len(small) == 22 + (4 + 1) + 16
    empty = client.send.encrypt(bytes.fromhex("ff4f 00 000000"))  # extension 0x4FFF, empty payload
    assert len(empty) == 22  # a zero-length payload has no payload ciphertext at all
    assert rx.feed(small + empty + tx.encode(CloseChannel(1, ""))) == [
        CloseChannel(0, ""),
        CloseChannel(1, ""),
    ]
    assert rx.skipped_frames == 1  # an extension we do not speak is skipped (§6.2)


def test_truncated_frames_wait_for_more_bytes() -> None:
    client, server = handshake()
    tx, rx = Sv2Session.encrypted(client), Sv2Session.encrypted(server)
    messages = [CloseChannel(i, "r" * i) for i in range(5)]
    wire = tx.encode_many(messages)
    got = []
    for i in range(0, len(wire), 7):
        got += rx.feed(wire[i : i + 7])
    assert got == messages


def test_tampered_ciphertext_fails_authentication() -> None:
    client, server = handshake()
    wire = bytearray(Sv2Session.encrypted(client).encode(CloseChannel(3, "bye")))
    for index in (0, 21, 22, len(wire) - 1):
        tampered = bytearray(wire)
        tampered[index] ^= 0x40
        _, fresh_server = handshake()
        rx = Sv2Session.encrypted(fresh_server)
        with pytest.raises(AuthenticationError):
            rx.feed(bytes(tampered))
        with pytest.raises(AuthenticationError):  # the session stays broken
            rx.feed(b"")
    del server


def test_decrypt_failure_does_not_advance_the_nonce() -> None:
    key = bytes(range(32))
    a, b = CipherState(key), CipherState(key)
    ct = a.encrypt(b"hello")
    with pytest.raises(AuthenticationError):
        b.decrypt(ct[:-1] + bytes([ct[-1] ^ 1]))
    assert b.nonce == 0 and b.decrypt(ct) == b"hello" and b.nonce == 1


def test_oversized_message_is_refused_from_its_header() -> None:
    client, server = handshake()
    wire = Sv2Session.encrypted(client).encode(SubmitSharesError(1, 2, "x" * 200))
    with pytest.raises(FrameError, match="exceeds"):
        Sv2Session.encrypted(server, max_message_size=100).feed(wire[:22])


def test_messages_before_a_bad_frame_are_delivered_first() -> None:
    client, server = handshake()
    wire = Sv2Session.encrypted(client).encode_many([CloseChannel(1, "a"), CloseChannel(2, "b")])
    rx = Sv2Session.encrypted(server)
    assert rx.feed(wire[:-1] + bytes([wire[-1] ^ 1])) == [CloseChannel(1, "a")]
    with pytest.raises(AuthenticationError):
        rx.feed(b"")


def test_plain_session_round_trip_and_unknown_extension_skipped() -> None:
    tx, rx = Sv2Session.plain(), Sv2Session.plain()
    unknown = bytes.fromhex("0040 07 030000 616263")  # extension 0x4000, not ours
    got = rx.feed(tx.encode(CloseChannel(1, "x")) + unknown + tx.encode(CloseChannel(2, "y")))
    assert got == [CloseChannel(1, "x"), CloseChannel(2, "y")]
    assert rx.skipped_frames == 1


def test_encrypted_ecash_success_round_trip() -> None:
    client, server = handshake()
    tx, rx = Sv2Session.encrypted(server), Sv2Session.encrypted(client)
    ok = SubmitSharesEcashExtendedSuccess(
        7, 9, BlindSignature(4, b"\x01" * 33, b"\x02" * 33, b"e" * 32, b"s" * 32)
    )
    for _ in range(3):
        assert rx.feed(tx.encode(ok)) == [ok]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(any_message, min_size=1, max_size=4), st.integers(1, 5000))
def test_any_messages_survive_encryption_in_any_split(messages: list, step: int) -> None:
    key = bytes(range(32))
    tx = Sv2Session(CipherState(key), None)
    rx = Sv2Session(None, CipherState(key))
    wire = tx.encode_many(messages)
    got = []
    for i in range(0, len(wire), step):
        got += rx.feed(wire[i : i + step])
    assert got == messages


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_random_bytes_into_the_encrypted_decoder_only_raise_codec_errors(data: bytes) -> None:
    rx = Sv2Session(None, CipherState(bytes(32)))
    try:
        rx.feed(data)
    except Sv2Error:
        pass
