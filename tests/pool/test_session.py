"""The pool's SV2 conversation with one miner (`PoolSession`), in-process with plain values.

Every branch: the setup checks, the extension negotiation (and where the mint is), channel opens of each
kind (ecash, plain extended and standard with a pubkey identity), updates, closes, shares of each kind and
redeems, and the orders a miner may get wrong.
"""

from __future__ import annotations

import pytest

from nutx_cli.core.targets import U256_MAX, target_of_level
from nutx_cli.core.vardiff import VardiffConfig
from nutx_cli.pool.session import (
    Action,
    ChannelKind,
    CheckShare,
    Close,
    DropChannel,
    Ignored,
    OpenChannel,
    Phase,
    PoolSession,
    Redeem,
    Retarget,
    Send,
)
from nutx_cli.pool.shares import Submission
from nutx_cli.sv2.ecash import (
    ECASH_EXTENSION,
    BlindedMessage,
    OpenExtendedEcashMiningChannel,
    RedeemSharesEcash,
    SetEcashMint,
    SubmitSharesEcashExtended,
    SubmitSharesEcashExtendedError,
)
from nutx_cli.sv2.extensions import RequestExtensions, RequestExtensionsError, RequestExtensionsSuccess
from nutx_cli.sv2.messages import (
    REQUIRES_STANDARD_JOBS,
    REQUIRES_VERSION_ROLLING,
    REQUIRES_WORK_SELECTION,
    CloseChannel,
    Message,
    OpenExtendedMiningChannel,
    OpenMiningChannelError,
    OpenStandardMiningChannel,
    SetTarget,
    SetupConnection,
    SetupConnectionError,
    SetupConnectionSuccess,
    SubmitSharesError,
    SubmitSharesExtended,
    SubmitSharesStandard,
    UpdateChannel,
    UpdateChannelError,
)

VARDIFF = VardiffConfig(k_max=256, shares_per_minute=6.0, start_level=250)
NOW = 1_700_000_000.0
PUBKEY = "02" + "79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"  # the generator G


def setup_msg(
    *, protocol: int = 0, min_version: int = 2, max_version: int = 2, flags: int = 0
) -> SetupConnection:
    return SetupConnection(
        protocol=protocol,
        min_version=min_version,
        max_version=max_version,
        flags=flags,
        endpoint_host="127.0.0.1",
        endpoint_port=34254,
        vendor="test",
        hardware_version="",
        firmware="",
        device_id="",
    )


def open_msg(request_id: int = 1, **over: object) -> OpenExtendedEcashMiningChannel:
    fields: dict[str, object] = {
        "request_id": request_id,
        "user_identity": "alice",
        "nominal_hash_rate": 0.0,
        "max_target": U256_MAX,
        "min_extranonce_size": 4,
        "unit": "ehash",
    } | over
    return OpenExtendedEcashMiningChannel(**fields)  # type: ignore[arg-type]


def share(channel_id: int, sequence_number: int = 1) -> SubmitSharesEcashExtended:
    return SubmitSharesEcashExtended(
        channel_id=channel_id,
        sequence_number=sequence_number,
        job_id=1,
        nonce=0,
        ntime=0,
        version=0x20000000,
        extranonce=bytes(8),
        blinded_message=BlindedMessage(amount=64, keyset_id=bytes(33), blinded_secret=b"\x02" * 33),
    )


def sent(actions: list[Action]) -> Message:
    """The one message a reply consists of."""
    assert len(actions) == 1 and isinstance(actions[0], Send), actions
    return actions[0].message


def session_set_up(ecash: bool = True) -> PoolSession:
    session = PoolSession(VARDIFF, extranonce_size=8)
    assert sent(session.receive(setup_msg(), NOW)) == SetupConnectionSuccess(used_version=2, flags=0)
    if ecash:
        answer = sent(
            session.receive(RequestExtensions(request_id=1, requested_extensions=[ECASH_EXTENSION]), NOW)
        )
        assert answer == RequestExtensionsSuccess(request_id=1, supported_extensions=[ECASH_EXTENSION])
    return session


def opened(session: PoolSession, request_id: int = 1, **over: object) -> OpenChannel:
    actions = session.receive(open_msg(request_id, **over), NOW)
    assert len(actions) == 1 and isinstance(actions[0], OpenChannel), actions
    assert actions[0].kind is ChannelKind.ECASH and actions[0].identity is None
    return actions[0]


def core_open(
    kind: type, request_id: int = 9, user: str = f"{PUBKEY}.rig1"
) -> OpenStandardMiningChannel | OpenExtendedMiningChannel:
    if kind is OpenExtendedMiningChannel:
        return OpenExtendedMiningChannel(request_id, user, 0.0, U256_MAX, 4)
    return OpenStandardMiningChannel(request_id, user, 0.0, U256_MAX)


# --- SetupConnection -----------------------------------------------------------------------------------


def test_setup_accepts_mining_v2_and_flags_other_than_work_selection() -> None:
    session = PoolSession(VARDIFF, extranonce_size=8)
    assert session.phase is Phase.SETUP
    answer = sent(
        session.receive(
            setup_msg(min_version=1, max_version=3, flags=REQUIRES_STANDARD_JOBS | REQUIRES_VERSION_ROLLING),
            NOW,
        )
    )
    assert answer == SetupConnectionSuccess(used_version=2, flags=0)
    assert session.phase is Phase.OPEN


@pytest.mark.parametrize(
    ("message", "code", "flags"),
    [
        (setup_msg(protocol=1), "unsupported-protocol", 0),
        (setup_msg(min_version=3, max_version=3), "protocol-version-mismatch", 0),
        (setup_msg(min_version=1, max_version=1), "protocol-version-mismatch", 0),
        (setup_msg(flags=REQUIRES_WORK_SELECTION), "unsupported-feature-flags", REQUIRES_WORK_SELECTION),
        (open_msg(), "connection-setup-expected", 0),  # a channel open before the setup
        (share(2), "connection-setup-expected", 0),  # a share before anything
        (
            RequestExtensions(request_id=1, requested_extensions=[ECASH_EXTENSION]),
            "connection-setup-expected",
            0,
        ),
    ],
)
def test_a_refused_setup_answers_the_error_and_ends_the_connection(
    message: Message, code: str, flags: int
) -> None:
    session = PoolSession(VARDIFF, extranonce_size=8)
    assert session.receive(message, NOW) == [
        Send(SetupConnectionError(flags=flags, error_code=code)),
        Close(),
    ]
    assert session.phase is Phase.CLOSED
    assert session.receive(setup_msg(), NOW) == []  # nothing more is answered
    assert session.receive(open_msg(), NOW) == []


def test_a_second_setup_is_ignored() -> None:
    session = session_set_up()
    again = setup_msg()
    assert session.receive(again, NOW) == [Ignored(again)]


def test_messages_the_pool_does_not_take_are_ignored() -> None:
    session = session_set_up()
    target = SetTarget(channel_id=2, maximum_target=1)
    assert session.receive(target, NOW) == [Ignored(target)]


# --- RequestExtensions ---------------------------------------------------------------------------------


def test_extensions_the_pool_lacks_are_refused_and_ecash_channels_then_need_it() -> None:
    session = session_set_up(ecash=False)
    answer = sent(
        session.receive(RequestExtensions(request_id=7, requested_extensions=[0x0002, 0x0003]), NOW)
    )
    assert answer == RequestExtensionsError(
        request_id=7, unsupported_extensions=[0x0002, 0x0003], required_extensions=[]
    )
    assert not session.ecash
    assert sent(session.receive(open_msg(), NOW)) == OpenMiningChannelError(
        request_id=1, error_code="ecash-required"
    )


def test_the_ecash_extension_is_followed_by_where_the_mint_is() -> None:
    session = PoolSession(VARDIFF, extranonce_size=8, mint_url="http://192.168.1.5:3338")
    session.receive(setup_msg(), NOW)
    actions = session.receive(RequestExtensions(request_id=1, requested_extensions=[ECASH_EXTENSION]), NOW)
    assert actions == [
        Send(RequestExtensionsSuccess(request_id=1, supported_extensions=[ECASH_EXTENSION])),
        Send(SetEcashMint(mint_url="http://192.168.1.5:3338")),
    ]


def test_ecash_among_other_extensions_is_accepted_alone() -> None:
    session = session_set_up(ecash=False)
    answer = sent(
        session.receive(RequestExtensions(request_id=2, requested_extensions=[0x0002, ECASH_EXTENSION]), NOW)
    )
    assert answer == RequestExtensionsSuccess(request_id=2, supported_extensions=[ECASH_EXTENSION])
    assert session.ecash


# --- channel opens -------------------------------------------------------------------------------------


def test_ecash_channel_opens_get_ids_from_two_with_their_level_controller() -> None:
    session = session_set_up()
    first = opened(session, 5, user_identity="alice.rig1")
    assert (first.request_id, first.channel_id, first.user, first.now) == (5, 2, "alice.rig1", NOW)
    assert first.vardiff.level == 250  # no hashrate announced: the start level
    second = opened(session, 6, nominal_hash_rate=1e6, unit="")  # no unit means ehash
    assert second.channel_id == 3 and second.vardiff.level == 233  # 256 + log2(0.1/s / 1 MH/s) ≈ 232.75
    assert {n: c.vardiff for n, c in session.channels.items()} == {2: first.vardiff, 3: second.vardiff}


@pytest.mark.parametrize(
    ("over", "code"),
    [
        ({"unit": "sat"}, "unsupported-unit"),
        ({"min_extranonce_size": 9}, "min-extranonce-size-too-large"),
        ({"max_target": 0}, "max-target-out-of-range"),
        ({"max_target": target_of_level(192)}, "max-target-out-of-range"),  # harder than k_max − 63
    ],
)
def test_refused_ecash_opens_keep_the_connection(over: dict[str, object], code: str) -> None:
    session = session_set_up()
    assert sent(session.receive(open_msg(4, **over), NOW)) == OpenMiningChannelError(
        request_id=4, error_code=code
    )
    assert session.channels == {} and session.phase is Phase.OPEN
    assert opened(session, 5).channel_id == 2  # the same connection opens a channel next


@pytest.mark.parametrize("ecash", [True, False])
@pytest.mark.parametrize("kind", [OpenStandardMiningChannel, OpenExtendedMiningChannel])
def test_standard_and_plain_extended_channels_open_for_a_pubkey_identity(kind: type, ecash: bool) -> None:
    session = session_set_up(ecash=ecash)
    (action,) = session.receive(core_open(kind), NOW)
    expected = ChannelKind.STANDARD if kind is OpenStandardMiningChannel else ChannelKind.EXTENDED
    assert isinstance(action, OpenChannel) and action.kind is expected
    assert action.identity is not None and (action.identity.pubkey, action.identity.worker) == (
        PUBKEY,
        "rig1",
    )
    assert action.channel_id == 2 and action.user == f"{PUBKEY}.rig1"


@pytest.mark.parametrize("user", ["bob", "02" + "00" * 32, PUBKEY[:-2], "04" + "ab" * 32 + ".x", ""])
@pytest.mark.parametrize("kind", [OpenStandardMiningChannel, OpenExtendedMiningChannel])
def test_core_opens_need_a_pubkey_as_user_identity(kind: type, user: str) -> None:
    session = session_set_up()
    assert sent(session.receive(core_open(kind, 9, user), NOW)) == OpenMiningChannelError(
        request_id=9, error_code="invalid-user-identity"
    )
    assert session.channels == {}


def test_requires_standard_jobs_gets_standard_channels_only() -> None:
    session = PoolSession(VARDIFF, extranonce_size=8)
    session.receive(setup_msg(flags=REQUIRES_STANDARD_JOBS), NOW)
    session.receive(RequestExtensions(request_id=1, requested_extensions=[ECASH_EXTENSION]), NOW)
    code = "extended-channels-not-supported-for-standard-jobs"
    assert sent(session.receive(core_open(OpenExtendedMiningChannel, 3), NOW)) == OpenMiningChannelError(
        request_id=3, error_code=code
    )
    assert sent(session.receive(open_msg(4), NOW)) == OpenMiningChannelError(request_id=4, error_code=code)
    (action,) = session.receive(core_open(OpenStandardMiningChannel, 5), NOW)
    assert isinstance(action, OpenChannel) and action.kind is ChannelKind.STANDARD


@pytest.mark.parametrize(
    "request_3",
    [
        OpenStandardMiningChannel(3, "bob", 0.0, U256_MAX),
        OpenExtendedMiningChannel(3, "bob", 0.0, U256_MAX, 4),
        open_msg(3),
    ],
)
def test_an_open_past_the_channel_cap_is_too_many_channels_whatever_its_kind(request_3: Message) -> None:
    session = session_set_up()
    session.max_channels = 2
    first, _ = opened(session, 1), opened(session, 2)
    assert sent(session.receive(request_3, NOW)) == OpenMiningChannelError(
        request_id=3, error_code="too-many-channels"
    )
    assert session.receive(CloseChannel(channel_id=first.channel_id, reason_code=""), NOW) == [
        DropChannel(first.channel_id)
    ]
    assert isinstance(opened(session, 4), OpenChannel)  # a closed channel frees its place


# --- shares --------------------------------------------------------------------------------------------


def test_a_share_of_an_open_channel_is_checked() -> None:
    session = session_set_up()
    channel = opened(session)
    submitted = share(channel.channel_id, 11)
    assert session.receive(submitted, NOW) == [CheckShare(channel.channel_id, Submission.of_ecash(submitted))]


@pytest.mark.parametrize("channel_id", [0, 1, 3, 2**32 - 1])  # 1 is the group; only 2 is open
def test_a_share_of_an_unknown_channel_is_invalid_channel_id(channel_id: int) -> None:
    session = session_set_up()
    opened(session)
    assert sent(session.receive(share(channel_id, 12), NOW)) == SubmitSharesEcashExtendedError(
        channel_id=channel_id, sequence_number=12, error_code="invalid-channel-id"
    )


def test_a_share_before_any_channel_is_invalid_channel_id() -> None:
    session = session_set_up(ecash=False)
    assert sent(session.receive(share(2, 3), NOW)) == SubmitSharesEcashExtendedError(
        channel_id=2, sequence_number=3, error_code="invalid-channel-id"
    )


def test_core_shares_on_an_ecash_channel_need_ecash() -> None:
    session = session_set_up()
    channel = opened(session)
    standard = SubmitSharesStandard(channel.channel_id, 4, 1, 0, 0, 0x20000000)
    extended = SubmitSharesExtended(channel.channel_id, 5, 1, 0, 0, 0x20000000, bytes(8))
    for message, seq in ((standard, 4), (extended, 5)):
        assert sent(session.receive(message, NOW)) == SubmitSharesError(
            channel_id=channel.channel_id, sequence_number=seq, error_code="ecash-required"
        )


def test_core_shares_are_claimed_by_their_channels_pubkey_on_a_channel_of_their_kind() -> None:
    session = session_set_up()
    session.receive(core_open(OpenStandardMiningChannel, 1), NOW)  # channel 2
    session.receive(core_open(OpenExtendedMiningChannel, 2), NOW)  # channel 3
    standard = SubmitSharesStandard(2, 4, 1, 7, 8, 0x20000000)
    extended = SubmitSharesExtended(3, 5, 1, 7, 8, 0x20000000, bytes(8))
    assert session.receive(standard, NOW) == [
        CheckShare(2, Submission(2, 4, 1, 7, 8, 0x20000000, b"", None, PUBKEY))
    ]
    assert session.receive(extended, NOW) == [
        CheckShare(3, Submission(3, 5, 1, 7, 8, 0x20000000, bytes(8), None, PUBKEY))
    ]
    wrong_kind = [
        (SubmitSharesStandard(3, 6, 1, 0, 0, 0x20000000), SubmitSharesError(3, 6, "invalid-channel-id")),
        (
            SubmitSharesExtended(2, 7, 1, 0, 0, 0x20000000, bytes(8)),
            SubmitSharesError(2, 7, "invalid-channel-id"),
        ),
        (share(2, 8), SubmitSharesEcashExtendedError(2, 8, "invalid-channel-id")),
    ]
    for message, answer in wrong_kind:
        assert sent(session.receive(message, NOW)) == answer


# --- UpdateChannel and CloseChannel --------------------------------------------------------------------


def test_update_that_moves_the_level_retargets() -> None:
    session = session_set_up()
    channel = opened(session)
    update = UpdateChannel(channel_id=2, nominal_hash_rate=0.0, maximum_target=target_of_level(240))
    assert session.receive(update, NOW + 1) == [Retarget(2)]
    assert channel.vardiff.level == 240  # the miner's max_target caps the level
    assert session.receive(update, NOW + 2) == []  # no move, nothing to send


def test_update_errors_keep_the_channel() -> None:
    session = session_set_up()
    channel = opened(session)
    unknown = UpdateChannel(channel_id=3, nominal_hash_rate=0.0, maximum_target=U256_MAX)
    assert sent(session.receive(unknown, NOW)) == UpdateChannelError(
        channel_id=3, error_code="invalid-channel-id"
    )
    zero = UpdateChannel(channel_id=2, nominal_hash_rate=0.0, maximum_target=0)
    assert sent(session.receive(zero, NOW)) == UpdateChannelError(
        channel_id=2, error_code="max-target-out-of-range"
    )
    assert channel.vardiff.level == 250
    submitted = share(2)
    assert session.receive(submitted, NOW) == [CheckShare(2, Submission.of_ecash(submitted))]


def test_close_drops_the_channel_and_its_id_no_longer_takes_shares() -> None:
    session = session_set_up()
    opened(session, 1)
    opened(session, 2)
    assert session.receive(CloseChannel(channel_id=3, reason_code="bye"), NOW) == [DropChannel(3)]
    assert session.receive(CloseChannel(channel_id=3, reason_code="again"), NOW) == []
    assert session.receive(CloseChannel(channel_id=9, reason_code="never open"), NOW) == []
    assert sent(session.receive(share(3, 8), NOW)) == SubmitSharesEcashExtendedError(
        channel_id=3, sequence_number=8, error_code="invalid-channel-id"
    )
    assert list(session.channels) == [2]
    assert opened(session, 3).channel_id == 3  # the next id after the highest open one


# --- redeem --------------------------------------------------------------------------------------------


def test_redeem_goes_to_the_mint() -> None:
    session = session_set_up()
    request = RedeemSharesEcash(request_id=3, proofs=[], outputs=[])
    assert session.receive(request, NOW) == [Redeem(request)]
