"""The worked SV1 example of spec/stratum.md §7.7 (mainnet block 100000), end to end through the cores:
SV2 frames → translator → `mining.notify`; the miner's `mining.submit` → header → block hash → the SV2
submission fields of the same block's SubmitSharesExtended frame."""

from __future__ import annotations

from typing import Any

from nutx_cli.core import keysets
from nutx_cli.sv1.protocol import Notification, Request, encode, parse_line
from nutx_cli.sv1.session import MinerSession, Ready, Send, ShareAccepted
from nutx_cli.sv1.translator import JobTranslator
from nutx_cli.sv2.ecash import EcashKeyset
from nutx_cli.sv2.messages import NewExtendedMiningJob, SetNewPrevHash, SubmitSharesExtended
from nutx_cli.sv2.types import decode_record
from tests.conftest import load_vectors

EXAMPLE = load_vectors("stratum")["block_100000_worked_example"]
FRAMES = EXAMPLE["sv2_frames_unencrypted"]
SV1 = EXAMPLE["sv1"]


def payload(name: str) -> bytes:
    return bytes.fromhex(FRAMES[name])[6:]  # drop the 6-byte frame header


def keyset(epoch: int = 3, k_max: int = 256) -> EcashKeyset:
    ks = keysets.derive_keyset(b"\x09" * 32, "ehash", epoch)
    return EcashKeyset(
        keyset_id=bytes.fromhex(ks.id),
        unit="ehash",
        epoch=epoch,
        k_max=k_max,
        keys=[(a, ks.public_keys[a]) for a in keysets.EHASH_AMOUNTS],
    )


def sent(events: list[Any]) -> list[Any]:
    return [e.message for e in events if isinstance(e, Send)]


def run_example(target: int) -> tuple[MinerSession, list[Any]]:
    """Channel 1 with extranonce_prefix 02 and extranonce_size 2, job 7 activated by its SetNewPrevHash."""
    job = JobTranslator().activate(
        decode_record(NewExtendedMiningJob, payload("NewExtendedMiningJob")),
        decode_record(SetNewPrevHash, payload("SetNewPrevHash")),
        target,
        keyset(),
    )
    session = MinerSession(subscription_id="1")
    session.receive(Request(1, "mining.subscribe", ["cpuminer/2.5.1"]))
    subscribe = sent(session.subscribed(b"\x02", 2))
    events = session.receive(Request(2, "mining.authorize", ["worker", "x"]))
    assert isinstance(events[-1], Ready)
    pushed = sent(session.push_job(job))
    return session, [subscribe, pushed]


def test_subscribe_result_and_notify_params_match_the_vector() -> None:
    _, (subscribe, pushed) = run_example(target=2**256 - 1)
    assert subscribe[0].result == SV1["subscribe_result"]
    set_difficulty, notify = pushed
    assert set_difficulty.method == "mining.set_difficulty"  # difficulty always before notify
    assert notify == Notification("mining.notify", SV1["notify_params"])
    assert parse_line(encode(notify).rstrip()) == notify


def test_submit_rebuilds_the_real_block_and_maps_to_the_sv2_submission() -> None:
    session, _ = run_example(target=2**210 - 1)
    events = session.receive(Request(4, "mining.submit", SV1["submit_params"]))
    assert sent(events)[0].result is True
    accepted = events[1]
    assert isinstance(accepted, ShareAccepted)
    header = accepted.job.header(
        b"\x02", accepted.extranonce2, accepted.ntime, accepted.nonce, accepted.version
    )
    assert header.serialize().hex() == SV1["header_80_bytes"]
    assert accepted.header_hash.hex() == SV1["sha256d_header_raw"]
    assert header.hash_hex() == EXAMPLE["block_hash_display"]

    # what the proxy forwards upstream is exactly this block's SubmitSharesExtended (plus the blinded message)
    expected = decode_record(SubmitSharesExtended, payload("SubmitSharesExtended"))
    assert accepted.job.upstream.job_id == expected.job_id
    assert (accepted.nonce, accepted.ntime, accepted.version) == (
        expected.nonce,
        expected.ntime,
        expected.version,
    )
    assert accepted.extranonce2 == expected.extranonce
    assert accepted.job.amount == 1 << (256 - 210) and accepted.job.keyset == keyset()


def test_the_block_hash_does_not_meet_one_level_harder() -> None:
    session, _ = run_example(target=2**209 - 1)
    events = session.receive(Request(4, "mining.submit", SV1["submit_params"]))
    assert sent(events)[0].error == [23, "low difficulty share", None]
