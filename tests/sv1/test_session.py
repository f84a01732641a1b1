"""One miner's SV1 state machine: subscribe/authorize/configure/suggest, difficulty before notify,
local share checks and every bad submit answered with its JSON-RPC error (spec §7.2–§7.6, §7.9)."""

from __future__ import annotations

import json
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from nutx_cli.core import keysets
from nutx_cli.core.targets import SV1_DIFF1_TARGET, TargetError, level_of_target, target_of_level
from nutx_cli.sv1.difficulty import difficulty_of_level, max_target_for_suggestion, target_of_suggestion
from nutx_cli.sv1.job import Sv1Job, word_swap
from nutx_cli.sv1.protocol import Notification, Request, Response
from nutx_cli.sv1.session import (
    DifficultySuggested,
    MinerSession,
    Ready,
    Send,
    ShareAccepted,
    ShareRejected,
    SubscribeRequested,
)
from nutx_cli.sv1.translator import JobTranslator
from nutx_cli.sv2.ecash import EcashKeyset
from nutx_cli.sv2.messages import NewExtendedMiningJob, SetNewPrevHash

VERSION = 0x20000000
NTIME = 1_700_000_000


def keyset() -> EcashKeyset:
    ks = keysets.derive_keyset(b"\x09" * 32, "ehash", 1)
    return EcashKeyset(
        keyset_id=bytes.fromhex(ks.id),
        unit="ehash",
        epoch=1,
        k_max=256,
        keys=[(a, ks.public_keys[a]) for a in keysets.EHASH_AMOUNTS],
    )


def make_job(job_id: int = 1, target: int = 2**255 - 1, rolling: bool = True) -> Sv1Job:
    upstream = NewExtendedMiningJob(
        channel_id=5,
        job_id=job_id,
        min_ntime=None,
        version=VERSION,
        version_rolling_allowed=rolling,
        merkle_path=[bytes(range(32))],
        coinbase_tx_prefix=b"\x01\x02\x03",
        coinbase_tx_suffix=b"\x04\x05",
    )
    prev = SetNewPrevHash(
        channel_id=5, job_id=job_id, prev_hash=bytes(31) + b"\x07", min_ntime=NTIME, nbits=0x207FFFFF
    )
    return JobTranslator().activate(upstream, prev, target, keyset())


def replies(events: list[Any]) -> list[Response]:
    return [e.message for e in events if isinstance(e, Send) and isinstance(e.message, Response)]


def error_code(reply: Response) -> int:
    """The JSON-RPC error code of a reply that must be an error."""
    assert reply.error is not None, reply
    code = reply.error[0]
    assert isinstance(code, int)
    return code


def notifications(events: list[Any]) -> list[Notification]:
    """What the events send, which must all be notifications."""
    sent = []
    for e in events:
        assert isinstance(e, Send) and isinstance(e.message, Notification), e
        sent.append(e.message)
    return sent


def ready_session(job: Sv1Job | None = None) -> MinerSession:
    s = MinerSession(subscription_id="ab")
    assert s.receive(Request(1, "mining.subscribe", ["test/1"])) == [SubscribeRequested()]
    s.subscribed(b"\xaa\xbb", 4)
    events = s.receive(Request(2, "mining.authorize", ["alice.rig1", ""]))
    assert events[-1] == Ready()
    s.push_job(job or make_job())
    return s


def find_share(
    session: MinerSession, job: Sv1Job, meets: bool, en2: bytes = bytes(4), version: int | None = None
) -> str:
    """A nonce (hex) whose header meets (or misses) the job's target."""
    assert session.extranonce1 is not None
    for nonce in range(10_000):
        h = job.header(session.extranonce1, en2, job.ntime, nonce, version or job.version).hash()
        if (int.from_bytes(h, "little") <= job.target) == meets:
            return f"{nonce:08x}"
    raise AssertionError("no nonce found")


def submit(session: MinerSession, params: list[Any], request_id: int = 7) -> list[Any]:
    return session.receive(Request(request_id, "mining.submit", params))


# --- difficulty ------------------------------------------------------------------------------------


@pytest.mark.parametrize("k", [161, 193, 200, 223, 224, 225, 236, 255, 256])
def test_the_difficulty_of_a_level_is_a_power_of_two_whose_target_lies_inside_the_level(k: int) -> None:
    d = difficulty_of_level(k)
    assert Fraction(d) == Fraction(2) ** (224 - k)
    assert isinstance(d, int) == (k <= 224)  # whole difficulties go out as JSON integers
    target = SV1_DIFF1_TARGET / Fraction(d)
    assert target == 0xFFFF * Fraction(2) ** (k - 16)
    assert target_of_level(k - 1) < target <= target_of_level(k)  # every share the miner sends is level k


@given(st.binary(min_size=32, max_size=32))
def test_word_swap_is_its_own_inverse(data: bytes) -> None:
    assert word_swap(word_swap(data)) == data
    assert word_swap(data)[:4] == data[3::-1]


@pytest.mark.parametrize("m", [-32, -26, -1, 0, 1, 9, 30])
def test_a_suggested_power_of_two_gets_exactly_that_difficulty(m: int) -> None:
    suggested = json.loads(json.dumps(2.0**m))  # as a miner sends it: the float's shortest decimal
    level = level_of_target(max_target_for_suggestion(target_of_suggestion(suggested)))
    assert level == 224 - m and difficulty_of_level(level) == 2.0**m


@given(st.integers(1, 10**9), st.integers(-15, 5))
def test_a_suggestion_never_gets_an_easier_difficulty_than_it_asked_for(digits: int, exponent: int) -> None:
    suggested = f"{digits}e{exponent}"
    d = Fraction(digits) * Fraction(10) ** exponent
    assume(Fraction(1, 2**32) <= d <= 2**60)
    level = level_of_target(max_target_for_suggestion(target_of_suggestion(suggested)))
    assert Fraction(difficulty_of_level(level)) >= d * (1 - Fraction(1, 2**50))
    assert level == 256 or Fraction(difficulty_of_level(level + 1)) < d  # and the easiest such level


def test_level_224_is_sv1_difficulty_one() -> None:
    assert difficulty_of_level(224) == 1 and json.dumps(difficulty_of_level(200)) == str(2**24)
    assert difficulty_of_level(256) == 2.0**-32  # a fractional difficulty for CPU miners, exact in binary


def test_suggested_difficulties_are_read_exactly() -> None:
    assert target_of_suggestion(0.001) == SV1_DIFF1_TARGET * 1000
    assert target_of_suggestion("2") == SV1_DIFF1_TARGET // 2
    assert target_of_suggestion(1) == SV1_DIFF1_TARGET
    for bad in (0, -1, "x", None, True, float("nan"), float("inf"), [1]):
        with pytest.raises(TargetError):
            target_of_suggestion(bad)


OUT_OF_RANGE: list[Any] = [
    "1e9999999",
    "1E+9999999",
    "1e-9999999",
    "9" * 5000,
    10**4000,
    -(10**4000),
    1e308,
    5e-324,
    "1e68",
    2**224,
    "1e-11",
    "-1",
    -0.5,
    0,
    "0",
    "0e0",
    "0.0",
    "nan",
    "NaN",
    "inf",
    "-Infinity",
    float("inf"),
    float("nan"),
    "1/3",
    "0x10",
    "1_000",
    " 1",
    "",
    "1e",
    ".",
    "+.5e",
    "1" + "0" * 70,
    "1." + "0" * 120,
]
"""Difficulties the proxy must refuse at once: absurd exponents and magnitudes (as text, JSON numbers and
huge integers), zero and negatives, NaN/inf, and text that is not a plain decimal number."""


@pytest.mark.parametrize("value", OUT_OF_RANGE, ids=lambda v: f"{type(v).__name__}-{str(v)[:12]}")
def test_out_of_range_suggestions_get_a_json_rpc_error_and_the_session_goes_on(value: Any) -> None:
    s = MinerSession(subscription_id="x")
    (reply,) = replies(s.receive(Request(1, "mining.suggest_difficulty", [value])))
    assert reply.result is None and reply.error is not None and reply.error[0] == -32602
    assert s.suggested_target is None
    events = s.receive(
        Request(
            2,
            "mining.configure",
            [["minimum-difficulty", "version-rolling"], {"minimum-difficulty.value": value}],
        )
    )
    assert replies(events)[0].result == {
        "minimum-difficulty": False,
        "version-rolling": True,
        "version-rolling.mask": "1fffe000",
    }
    assert not any(isinstance(e, DifficultySuggested) for e in events)
    assert replies(s.receive(Request(3, "mining.suggest_difficulty", ["0.001"])))[0].result is True


def test_suggestions_span_every_target_a_u256_can_hold() -> None:
    """SV1 difficulties from DIFF1 / (2^256 − 1) (≈ 2.32827e-10) to DIFF1 (target 1) are served, no others."""
    assert target_of_suggestion(SV1_DIFF1_TARGET) == target_of_suggestion(str(SV1_DIFF1_TARGET)) == 1
    assert target_of_suggestion("2.32828e-10") == SV1_DIFF1_TARGET * 10**15 // 232828
    for beyond in (SV1_DIFF1_TARGET + 1, str(SV1_DIFF1_TARGET + 1), "2.32827e-10", 2.32827e-10):
        with pytest.raises(TargetError, match="between"):
            target_of_suggestion(beyond)
    assert target_of_suggestion("1.5e3") == SV1_DIFF1_TARGET * 2 // 3000
    halves = (".5", "5E-1", "+0.50", 0.5)
    assert {target_of_suggestion(h) for h in halves} == {SV1_DIFF1_TARGET * 2}


@given(
    st.one_of(
        st.text(max_size=80),
        st.from_regex(r"\A[+-]?[0-9]{0,40}(\.[0-9]{0,40})?([eE][+-]?[0-9]{1,12})?\Z"),
        st.integers(),
        st.floats(allow_nan=True, allow_infinity=True),
        st.none(),
        st.booleans(),
        st.lists(st.integers(), max_size=3),
        st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    )
)
def test_the_difficulty_parser_only_ever_raises_its_typed_error(value: Any) -> None:
    try:
        target = target_of_suggestion(value)
    except TargetError:
        return
    assert 1 <= target <= 2**256 - 1


# --- subscribe, authorize, configure ---------------------------------------------------------------


def test_subscribe_waits_for_the_upstream_channel_and_authorize_may_come_first() -> None:
    s = MinerSession(subscription_id="ab")
    assert replies(s.receive(Request(0, "mining.authorize", ["bob"])))[0] == Response(0, True, None)
    assert s.receive(Request(0, "mining.subscribe", [])) == [SubscribeRequested()]
    assert error_code(replies(s.receive(Request(1, "mining.subscribe", [])))[0]) == 20  # one at a time
    events = s.subscribed(b"\x01\x02", 8)
    assert replies(events) == [
        Response(0, [[["mining.set_difficulty", "ab"], ["mining.notify", "ab"]], "0102", 8], None)
    ]
    assert events[-1] == Ready()
    assert replies(s.receive(Request(5, "mining.subscribe", ["again", "0102"])))[0].result[1] == "0102"


def test_failed_upstream_open_answers_the_subscribe_with_an_error() -> None:
    s = MinerSession(subscription_id="x")
    s.receive(Request(3, "mining.subscribe", []))
    (reply,) = replies(s.subscribe_failed("pool unreachable"))
    assert reply.id == 3 and reply.error == [20, "pool unreachable", None]
    assert s.receive(Request(4, "mining.subscribe", [])) == [SubscribeRequested()]


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (
            {"version-rolling.mask": "1fffe000", "version-rolling.min-bit-count": 2},
            {"version-rolling": True, "version-rolling.mask": "1fffe000"},
        ),
        ({"version-rolling.mask": "00ffff00"}, {"version-rolling": True, "version-rolling.mask": "00ffe000"}),
        ({}, {"version-rolling": True, "version-rolling.mask": "1fffe000"}),
        ({"version-rolling.mask": "000000ff"}, {"version-rolling": False}),
    ],
)
def test_configure_negotiates_the_version_rolling_mask(
    options: dict[str, Any], expected: dict[str, Any]
) -> None:
    s = MinerSession(subscription_id="x")
    (reply,) = replies(s.receive(Request(1, "mining.configure", [["version-rolling"], options])))
    assert reply.result == expected


def test_configure_other_extensions() -> None:
    s = MinerSession(subscription_id="x")
    events = s.receive(
        Request(
            1,
            "mining.configure",
            [["minimum-difficulty", "subscribe-extranonce", "info"], {"minimum-difficulty.value": 0.5}],
        )
    )
    assert replies(events)[0].result == {
        "minimum-difficulty": True,
        "subscribe-extranonce": True,
        "info": False,
    }
    assert DifficultySuggested(target_of_level(225)) in events  # the level announced as exactly 0.5
    assert s.extranonce_subscribed
    (bad,) = replies(s.receive(Request(2, "mining.configure", ["version-rolling"])))
    assert error_code(bad) == -32602


def test_suggest_difficulty_and_extranonce_subscribe() -> None:
    s = MinerSession(subscription_id="x")
    events = s.receive(Request(1, "mining.suggest_difficulty", [0.001]))
    # 0.001: the easiest level announced at ≥ 0.001 is 233 (2^-9; level 234 would be 2^-10 < 0.001)
    assert replies(events)[0].result is True and events[-1] == DifficultySuggested(target_of_level(233))
    assert error_code(replies(s.receive(Request(2, "mining.suggest_difficulty", [-3])))[0]) == -32602
    assert error_code(replies(s.receive(Request(3, "mining.suggest_difficulty", [])))[0]) == -32602
    assert replies(s.receive(Request(4, "mining.extranonce.subscribe", [])))[0].result is True


def test_unknown_method_and_bad_authorize() -> None:
    s = MinerSession(subscription_id="x")
    assert replies(s.receive(Request(0, "mining.get_transactions", [])))[0].error == [
        -32601,
        "unknown method 'mining.get_transactions'",
        None,
    ]
    assert error_code(replies(s.receive(Request(1, "mining.authorize", [])))[0]) == 24
    assert error_code(replies(s.receive(Request(2, "mining.authorize", ["x" * 300])))[0]) == 24
    for i in range(16):
        assert replies(s.receive(Request(3, "mining.authorize", [f"rig{i}"])))[0].result is True
    assert error_code(replies(s.receive(Request(4, "mining.authorize", ["rig16"])))[0]) == 24
    assert replies(s.receive(Request(5, "mining.authorize", ["rig3"])))[0].result is True  # already known


# --- jobs and difficulty ---------------------------------------------------------------------------


def test_set_difficulty_precedes_notify_and_is_sent_only_when_it_changes() -> None:
    s = ready_session()
    again = s.push_job(make_job(job_id=2))
    assert [n.method for n in notifications(again)] == ["mining.notify"]
    harder = s.push_job(make_job(job_id=3, target=2**250 - 1))
    assert [n.method for n in notifications(harder)] == ["mining.set_difficulty", "mining.notify"]
    assert notifications(harder)[0] == Notification("mining.set_difficulty", [2.0**-26])


# --- shares ----------------------------------------------------------------------------------------


def test_a_good_share_is_accepted_once_with_id_zero_then_duplicate() -> None:
    job = make_job()
    s = ready_session(job)
    nonce = find_share(s, job, meets=True)
    params = ["alice.rig1", job.job_id, "00000000", f"{job.ntime:08x}", nonce]
    events = submit(s, params, request_id=0)
    assert replies(events) == [Response(0, True, None)]
    share = events[1]
    assert isinstance(share, ShareAccepted) and share.version == VERSION and share.extranonce2 == bytes(4)
    events = submit(s, params, request_id=1)
    assert replies(events)[0].error == [22, "duplicate share", None]
    assert events[-1] == ShareRejected("alice.rig1", "duplicate-share")
    other = [
        "alice.rig1",
        job.job_id,
        "00000001",
        f"{job.ntime:08x}",
        find_share(s, job, True, en2=b"\0\0\0\1"),
    ]
    assert replies(submit(s, other))[0].result is True  # another extranonce2: not a duplicate


def test_a_share_above_its_job_target_is_low_difficulty() -> None:
    job = make_job(target=2**200 - 1)
    s = ready_session(job)
    events = submit(s, ["alice.rig1", job.job_id, "00000000", f"{job.ntime:08x}", "00000000"])
    assert replies(events)[0].error == [23, "low difficulty share", None]
    assert events[-1] == ShareRejected("alice.rig1", "difficulty-too-low")


def test_a_clean_job_makes_older_jobs_stale() -> None:
    job = make_job(job_id=1)
    s = ready_session(job)
    s.push_job(make_job(job_id=2))
    (reply,) = replies(submit(s, ["alice.rig1", "1", "00000000", f"{NTIME:08x}", find_share(s, job, True)]))
    assert error_code(reply) == 21


@pytest.mark.parametrize(
    ("params", "code"),
    [
        (["mallory", "1", "00000000", f"{NTIME:08x}", "00000000"], 24),
        (["alice.rig1", "99", "00000000", f"{NTIME:08x}", "00000000"], 21),
        (["alice.rig1", "1", "0000", f"{NTIME:08x}", "00000000"], 20),
        (["alice.rig1", "1", "zzzzzzzz", f"{NTIME:08x}", "00000000"], 20),
        (["alice.rig1", "1", "00000000", "xyz", "00000000"], 20),
        (["alice.rig1", "1", "00000000", f"{NTIME:08x}", "123456789"], 20),
        (["alice.rig1", "1", "00000000", f"{NTIME - 1:08x}", "00000000"], 20),
        (["alice.rig1", "1", "00000000", f"{NTIME + 7201:08x}", "00000000"], 20),
        (["alice.rig1", "1", "00000000", f"{NTIME:08x}", "00000000", "00002000"], 20),  # no configure
        (["alice.rig1", "1", "00000000"], -32602),
        (["alice.rig1", 1, "00000000", f"{NTIME:08x}", "00000000"], -32602),
    ],
)
def test_bad_submits_get_their_error(params: list[Any], code: int) -> None:
    s = ready_session()
    (reply,) = replies(submit(s, params))
    assert reply.id == 7 and reply.result is None and error_code(reply) == code


def test_submit_before_subscribe_is_not_subscribed() -> None:
    s = MinerSession(subscription_id="x")
    assert error_code(replies(submit(s, ["a", "1", "00", "00", "00"]))[0]) == 25


def test_version_rolling_bits_within_the_mask() -> None:
    job = make_job()
    s = ready_session(job)
    s.receive(Request(1, "mining.configure", [["version-rolling"], {"version-rolling.mask": "1fffe000"}]))
    base = ["alice.rig1", job.job_id, "00000000", f"{job.ntime:08x}"]
    events = submit(s, [*base, find_share(s, job, True, version=VERSION | 0x00FFE000), "00ffe000"])
    assert isinstance(events[1], ShareAccepted) and events[1].version == VERSION | 0x00FFE000
    full_version = VERSION | 0x00002000  # some miners send the full rolled version instead of the bits
    events = submit(s, [*base, find_share(s, job, True, version=full_version), f"{full_version:08x}"])
    assert isinstance(events[1], ShareAccepted) and events[1].version == full_version
    assert replies(submit(s, [*base, "00000002", "00000001"]))[0].error == [
        20,
        "version bits outside the negotiated mask",
        None,
    ]


def test_rolled_bits_on_a_job_that_forbids_rolling() -> None:
    job = make_job(rolling=False)
    s = ready_session(job)
    s.receive(Request(1, "mining.configure", [["version-rolling"], {}]))
    (reply,) = replies(
        submit(s, ["alice.rig1", job.job_id, "00000000", f"{job.ntime:08x}", "00000000", "00002000"])
    )
    assert reply.error == [20, "this job does not allow version rolling", None]


# --- the pool's own SV1 port: user names checked, shares answered by the service, set_extranonce ---------


def test_a_refused_user_name_gets_the_reason_and_others_still_authorize() -> None:
    s = MinerSession(
        subscription_id="ab", check_user=lambda u: None if u.startswith("02") else f"{u}: no key"
    )
    assert s.receive(Request(1, "mining.subscribe", [])) == [SubscribeRequested()]
    s.subscribed(b"\xaa\xbb", 4)
    (refused,) = replies(s.receive(Request(2, "mining.authorize", ["alice", "x"])))
    assert refused.error == [24, "alice: no key", None] and s.users == set() and not s.ready
    events = s.receive(Request(3, "mining.authorize", ["02ab.rig", "x"]))
    assert replies(events) == [Response(3, True, None)] and events[-1] == Ready()


def test_without_answer_shares_at_once_the_service_answers_each_share() -> None:
    job = make_job()
    s = MinerSession(subscription_id="ab", answer_shares_at_once=False)
    s.receive(Request(1, "mining.subscribe", []))
    s.subscribed(b"\xaa\xbb", 4)
    s.receive(Request(2, "mining.authorize", ["alice.rig1", "x"]))
    s.push_job(job)
    events = submit(
        s, ["alice.rig1", job.job_id, "00000000", f"{job.ntime:08x}", find_share(s, job, True)], 9
    )
    assert len(events) == 1 and isinstance(events[0], ShareAccepted) and events[0].request_id == 9
    duplicate = submit(
        s, ["alice.rig1", job.job_id, "00000000", f"{job.ntime:08x}", find_share(s, job, True)]
    )
    assert replies(duplicate)[0].error == [22, "duplicate share", None]  # refusals are still answered here


@pytest.mark.parametrize("how", ["extranonce.subscribe", "configure"])
def test_set_extranonce_goes_to_a_miner_that_subscribed_to_it_before_its_first_job(how: str) -> None:
    s = MinerSession(subscription_id="ab")
    subscribe = (
        Request(1, "mining.extranonce.subscribe", [])
        if how == "extranonce.subscribe"
        else Request(1, "mining.configure", [["subscribe-extranonce"], {}])
    )
    assert len(s.receive(subscribe)) == 1  # no extranonce yet: nothing to announce
    s.receive(Request(2, "mining.subscribe", []))
    events = s.subscribed(b"\xaa\xbb", 4)
    assert [type(e.message).__name__ if isinstance(e, Send) else type(e).__name__ for e in events] == [
        "Response",
        "Notification",
    ]
    assert events[1] == Send(Notification("mining.set_extranonce", ["aabb", 4]))
    late = MinerSession(subscription_id="cd")  # subscribed first, asks for extranonce changes after
    late.receive(Request(1, "mining.subscribe", []))
    late.subscribed(b"\xcc", 8)
    assert late.receive(Request(2, "mining.extranonce.subscribe", [])) == [
        Send(Response(2, True, None)),
        Send(Notification("mining.set_extranonce", ["cc", 8])),
    ]
    assert late.receive(Request(3, "mining.extranonce.subscribe", [])) == [Send(Response(3, True, None))]
