"""The pool's pure parts: templates, the job registry, share checks, epoch decisions, statistics."""

from __future__ import annotations

import itertools
import os
from fractions import Fraction

import pytest

from nutx_cli.chain.block import Block, witness_commitment_script
from nutx_cli.chain.hashes import to_display_hex
from nutx_cli.core.bdhke import blind
from nutx_cli.core.epoch_status import EpochStatus
from nutx_cli.core.share_stats import ShareStats
from nutx_cli.core.targets import T_MAX, target_of_difficulty, target_of_level
from nutx_cli.errors import NutxError
from nutx_cli.pool.epochs import Tip, decide_outcome, maturity_update, tip_changed
from nutx_cli.pool.jobs import ChannelJobs
from nutx_cli.pool.settings import FrontEnd
from nutx_cli.pool.shares import ShareRejected, Submission, check_share
from nutx_cli.pool.stats import levels
from nutx_cli.pool.template import EXTRANONCE_SIZE, Template, TemplateError, template_from_gbt
from nutx_cli.sv2.ecash import BlindedMessage, SubmitSharesEcashExtended

K_MAX = 256
KEYSET = "01" + "ab" * 32
OTHER_KEYSET = "01" + "cd" * 32
NOW = 1_700_000_000
PAYOUT = bytes.fromhex("0014") + bytes(20)


def gbt(prev: bytes | None = None, height: int = 101) -> dict[str, object]:
    return {
        "version": 0x20000000,
        "previousblockhash": to_display_hex(prev or os.urandom(32)),
        "transactions": [],
        "coinbasevalue": 50_0000_0000,
        "bits": "207fffff",
        "curtime": NOW,
        "mintime": NOW - 600,
        "height": height,
        "default_witness_commitment": witness_commitment_script([]).hex(),
        "longpollid": "x",
    }


def make_template(difficulty: Fraction | None = None, template_id: int = 1) -> Template:
    return template_from_gbt(gbt(), template_id, PAYOUT, simulated_difficulty=difficulty)


def make_channel(template: Template, level: int = 252) -> ChannelJobs:
    jobs = ChannelJobs(b"\x00\x00\x00\x07")
    job = jobs.new_job(7, template, level, 3, KEYSET, future=True)
    jobs.activate(job)
    return jobs


def blinded(amount: int, keyset: str = KEYSET) -> BlindedMessage:
    return BlindedMessage(
        amount=amount,
        keyset_id=bytes.fromhex(keyset),
        blinded_secret=blind(os.urandom(32).hex(), os.urandom(31) + b"\x01"),
    )


def find_share(
    jobs: ChannelJobs, job_id: int, target: int, amount: int, *, miss: bool = False, **over: object
) -> SubmitSharesEcashExtended:
    """Grind nonces until the header hash meets `target` (or misses it when `miss`)."""
    job = jobs.lookup(job_id)
    prev = jobs.prev_hash
    assert prev is not None
    for nonce in range(1_000_000):
        share = SubmitSharesEcashExtended(
            channel_id=7,
            sequence_number=nonce,
            job_id=job_id,
            nonce=nonce,
            ntime=NOW,
            version=job.message.version,
            extranonce=b"\x01" * EXTRANONCE_SIZE,
            blinded_message=blinded(amount),
        )
        try:
            checked = check_share(
                Submission.of_ecash(share),
                jobs,
                extranonce_size=EXTRANONCE_SIZE,
                k_max=K_MAX,
                known_keysets={KEYSET},
                seen=set(),
                now=NOW,
            )
            ok = checked.hash_int <= target
        except ShareRejected as exc:
            assert exc.code == "difficulty-too-low"
            ok = False
        if ok != miss:
            fields = {f: getattr(share, f) for f in share.__dataclass_fields__} | over
            return SubmitSharesEcashExtended(**fields)  # type: ignore[arg-type]
    raise AssertionError("no share found")


def check(share: SubmitSharesEcashExtended, jobs: ChannelJobs, seen: set[bytes] | None = None) -> object:
    return check_share(
        Submission.of_ecash(share),
        jobs,
        extranonce_size=EXTRANONCE_SIZE,
        k_max=K_MAX,
        known_keysets={KEYSET, OTHER_KEYSET},
        seen=seen or set(),
        now=NOW,
    )


def rejected(share: SubmitSharesEcashExtended, jobs: ChannelJobs, seen: set[bytes] | None = None) -> str:
    with pytest.raises(ShareRejected) as info:
        check(share, jobs, seen)
    return info.value.code


def test_template_from_gbt_builds_a_valid_coinbase() -> None:
    t = make_template(Fraction(1, 1000))
    assert t.height == 101 and t.coinbase_value == 50_0000_0000 and t.merkle_path == ()
    assert t.network_target == target_of_difficulty(Fraction(1, 1000)) < 2**255
    assert make_template().network_target == 0x7FFFFF << (8 * 29)
    with pytest.raises(TemplateError):
        template_from_gbt({"height": 1}, 1, PAYOUT)


def test_valid_share_amount_level_and_block_detection() -> None:
    template = make_template(
        Fraction(1, 2**30)
    )  # network target ≈ 2^254: about every fourth share is a block
    jobs = make_channel(template, level=255)
    share = find_share(jobs, 1, target_of_level(255), amount=2)
    checked = check(share, jobs)
    assert checked.amount == 2 and checked.level == 255  # type: ignore[attr-defined]
    assert checked.is_block == (checked.hash_int <= template.network_target)  # type: ignore[attr-defined]
    block_share = find_share(jobs, 1, template.network_target, amount=2)
    found = check(block_share, jobs)
    assert found.is_block  # type: ignore[attr-defined]
    raw = template.block(found.header, found.coinbase)  # type: ignore[attr-defined]
    block = Block.parse(raw)
    assert block.hash() == found.hash and block.computed_merkle_root() == found.header.merkle_root  # type: ignore[attr-defined]
    assert block.txs[0].has_witness()


def test_share_errors_by_name() -> None:
    template = make_template()
    jobs = make_channel(template, level=252)
    good = find_share(jobs, 1, target_of_level(252), amount=16)
    assert (
        rejected(find_share(jobs, 1, target_of_level(252), amount=16, miss=True), jobs)
        == "difficulty-too-low"
    )
    assert rejected(good, jobs, {check(good, jobs).hash}) == "duplicate-share"  # type: ignore[attr-defined]
    assert rejected(replace(good, job_id=99), jobs) == "invalid-job-id"
    assert rejected(replace(good, extranonce=b"\x01"), jobs) == "bad-extranonce-size"
    assert (
        rejected(replace(good, version=good.version | 0x80000000), jobs) == "invalid-non-rollable-version-bit"
    )
    assert rejected(replace(good, ntime=NOW - 10_000), jobs) == "invalid-timestamp"
    assert rejected(replace(good, blinded_message=blinded(8)), jobs) == "amount-mismatch"
    assert rejected(replace(good, blinded_message=blinded(16, OTHER_KEYSET)), jobs) == "inactive-keyset"
    assert rejected(replace(good, blinded_message=blinded(16, "01" + "ee" * 32)), jobs) == "unknown-keyset"
    # a new prev hash makes the old job stale
    jobs.activate(jobs.new_job(7, make_template(template_id=2), 252, 4, OTHER_KEYSET, future=True))
    assert rejected(good, jobs) == "stale-share"


def test_a_claimed_share_is_worth_its_level_and_carries_no_ecash_fields() -> None:
    """A share of a claim channel (SV1, standard or plain extended SV2) has the same checks but no keyset or
    amount to get wrong: its amount comes from its job's level."""
    template = make_template()
    jobs = make_channel(template, level=252)
    good = find_share(jobs, 1, target_of_level(252), amount=16)
    fields = {f: getattr(good, f) for f in good.__dataclass_fields__ if f != "blinded_message"}
    claimed = Submission(**fields, claimant="02" + "ab" * 32)
    checked = check_share(
        claimed, jobs, extranonce_size=EXTRANONCE_SIZE, k_max=K_MAX, known_keysets=set(), seen=set(), now=NOW
    )
    assert (checked.amount, checked.level, checked.hash) == (16, 252, check(good, jobs).hash)  # type: ignore[attr-defined]
    with pytest.raises(ShareRejected, match="duplicate-share"):
        check_share(
            claimed,
            jobs,
            extranonce_size=EXTRANONCE_SIZE,
            k_max=K_MAX,
            known_keysets=set(),
            seen={checked.hash},
            now=NOW,
        )


def test_job_level_is_recorded_when_sent() -> None:
    template = make_template()
    jobs = make_channel(template, level=252)
    later = jobs.new_job(7, template, 250, 3, KEYSET, future=False)  # after a SetTarget to level 250
    assert later.message.min_ntime == NOW and later.job_id == 2
    old = find_share(jobs, 1, target_of_level(252), amount=16)
    assert check(old, jobs).amount == 16  # type: ignore[attr-defined]  # in-flight work keeps the old level
    new = find_share(jobs, 2, target_of_level(250), amount=64)
    assert check(new, jobs).amount == 64  # type: ignore[attr-defined]
    assert rejected(replace(new, blinded_message=blinded(16)), jobs) == "amount-mismatch"
    jobs.invalidate()
    assert rejected(new, jobs) == "stale-share"


def test_epoch_decisions() -> None:
    start = Tip("aa" * 32, 100)
    assert not tip_changed(start, Tip("aa" * 32, 100))
    assert tip_changed(start, Tip("bb" * 32, 100))  # same height, other block: a reorg ends it too
    assert decide_outcome(start, "cc" * 32, {"cc" * 32}).status == "won"
    won = decide_outcome(start, "cc" * 32, {"cc" * 32})
    assert (won.height, won.block_hash) == (101, "cc" * 32)
    assert decide_outcome(start, "dd" * 32, {"cc" * 32}).status == "lost"  # someone else's block at h+1
    assert decide_outcome(start, None, {"cc" * 32}).status == "lost"  # the new chain is shorter
    assert maturity_update(1, EpochStatus.LOST, 5, None) is None
    assert maturity_update(1, EpochStatus.WON, 3, 2) == maturity_update(1, EpochStatus.WON, 3, None)
    assert maturity_update(1, EpochStatus.WON, 3, 3) is None
    assert maturity_update(1, EpochStatus.MATURE, -1, 120).action == "orphaned"  # type: ignore[union-attr]


def test_channel_stats() -> None:
    s = ShareStats(id=1, user="alice", level=256, opened_at=NOW)
    for i in range(60):
        s.record_accepted(256, T_MAX * 4, NOW + i)
    s.record_rejected("stale-share")
    j = s.summary(NOW + 60).to_json()
    assert j["accepted"] == 60 and j["rejected"] == {"stale-share": 1} and j["last_share"] == NOW + 59
    d = Fraction(T_MAX, 2**256 - 1)
    assert j["difficulty"] == f"{d.numerator}/{d.denominator}"
    expected = 60 * 2**32 * T_MAX / (2**256 - 1) / 60
    assert j["hashrate"]["1m"] == pytest.approx(expected, rel=0.2)
    assert j["hashrate"]["1d"] == pytest.approx(expected, rel=0.05)  # averaged over the channel's age
    assert j["best_share"] == pytest.approx(0.25)
    assert levels([s, ShareStats(2, "bob", 256, NOW), ShareStats(3, "c", 250, NOW)]) == {250: 1, 256: 2}


def replace(share: SubmitSharesEcashExtended, **over: object) -> SubmitSharesEcashExtended:
    fields = {f: getattr(share, f) for f in share.__dataclass_fields__} | over
    return SubmitSharesEcashExtended(**fields)  # type: ignore[arg-type]


def test_front_ends_split_the_extranonce_prefixes() -> None:
    thirds = [FrontEnd.parse(f"{i}/3").prefixes for i in (1, 2, 3)]
    assert thirds[0].start == 0 and thirds[-1].stop <= 1 << 32
    assert all(a.stop == b.start for a, b in itertools.pairwise(thirds))  # disjoint, in order
    assert FrontEnd.parse("1/1").prefixes == range(1 << 32) == FrontEnd().prefixes
    for bad in ("2", "0/2", "3/2", "a/b", "1/2/3", "1/300"):
        with pytest.raises(NutxError, match="--frontend"):
            FrontEnd.parse(bad)
