"""SV2 extended ecash channel → SV1 jobs: future jobs, prev hash, targets and keysets per job, refreshes."""

from __future__ import annotations

import pytest
from coincurve import PrivateKey

from nutx_cli.sv1.translator import ChannelTranslator, TranslatorError
from nutx_cli.sv2.ecash import EcashKeyset
from nutx_cli.sv2.messages import NewExtendedMiningJob, SetNewPrevHash

T236 = 2**236 - 1


def keyset(epoch: int) -> EcashKeyset:
    keys = [(1 << i, PrivateKey((i + epoch).to_bytes(32, "big")).public_key.format()) for i in range(64)]
    return EcashKeyset(keyset_id=bytes([1, epoch]) + bytes(31), unit="ehash", epoch=epoch, k_max=256, keys=keys)


def job(job_id: int, min_ntime: int | None = None) -> NewExtendedMiningJob:
    return NewExtendedMiningJob(channel_id=9, job_id=job_id, min_ntime=min_ntime, version=0x20000000,
                                version_rolling_allowed=True, merkle_path=[], coinbase_tx_prefix=b"\x01",
                                coinbase_tx_suffix=b"\x02")


def prev(job_id: int, ntime: int = 1000) -> SetNewPrevHash:
    return SetNewPrevHash(channel_id=9, job_id=job_id, prev_hash=bytes([job_id]) * 32, min_ntime=ntime, nbits=0x207FFFFF)


def translator() -> ChannelTranslator:
    return ChannelTranslator(channel_id=9, extranonce_prefix=b"\x00\x01", extranonce_size=8, target=T236, keyset=keyset(1))


def test_future_job_waits_for_its_prev_hash_then_is_clean() -> None:
    t = translator()
    assert t.current_job is None
    assert t.new_job(job(1)) is None
    sv1 = t.new_prev_hash(prev(1, ntime=1234))
    assert sv1.clean and sv1.job_id == "1" and sv1.ntime == 1234 and sv1.target == T236
    assert sv1.amount == 2**20 and sv1.keyset_id == keyset(1).keyset_id
    assert sv1.notify_params()[7] == f"{1234:08x}"


def test_job_with_min_ntime_is_an_extra_job_on_the_current_prev_hash() -> None:
    t = translator()
    t.new_job(job(1))
    t.new_prev_hash(prev(1))
    extra = t.new_job(job(2, min_ntime=1500))
    assert extra is not None and not extra.clean and extra.ntime == 1500 and extra.prev == prev(1)


def test_prev_hash_drops_the_other_future_jobs() -> None:
    t = translator()
    t.new_job(job(1))
    t.new_job(job(2))
    t.new_prev_hash(prev(2))
    with pytest.raises(TranslatorError):
        t.new_prev_hash(prev(1))


def test_protocol_violations_are_translator_errors() -> None:
    t = translator()
    with pytest.raises(TranslatorError):
        t.new_job(job(1, min_ntime=5))  # no prev hash yet
    with pytest.raises(TranslatorError):
        t.new_prev_hash(prev(7))  # never sent
    t.set_target(2**236)  # not a ladder target
    t.new_job(job(3))
    with pytest.raises(TranslatorError):
        t.new_prev_hash(prev(3))
    t.set_target(2**150 - 1)  # harder than k_max - 63
    t.new_job(job(4))
    with pytest.raises(TranslatorError):
        t.new_prev_hash(prev(4))


def test_set_target_applies_to_jobs_sent_after_it() -> None:
    t = translator()
    t.new_job(job(1))
    t.set_target(2**240 - 1)
    first = t.new_prev_hash(prev(1))
    assert first.target == T236 and first.amount == 2**20  # recorded when the job arrived
    second = t.new_job(job(2, min_ntime=1001))
    assert second is not None and second.target == 2**240 - 1 and second.amount == 2**16


def test_new_keyset_applies_to_the_jobs_its_prev_hash_activates() -> None:
    t = translator()
    t.new_job(job(1))
    t.new_prev_hash(prev(1))
    t.new_job(job(2))
    t.set_keyset(keyset(2))  # SetEcashKeyset precedes the SetNewPrevHash of the new epoch
    assert t.new_prev_hash(prev(2)).keyset_id == keyset(2).keyset_id


def test_refresh_reissues_the_newest_job_with_a_later_ntime() -> None:
    t = translator()
    assert t.refresh(5000) is None
    t.new_job(job(1))
    original = t.new_prev_hash(prev(1, ntime=1000))
    assert t.refresh(1000) is None
    fresh = t.refresh(1030)
    assert fresh is not None and fresh.job_id == "1.1" and fresh.ntime == 1030 and not fresh.clean
    assert (fresh.upstream, fresh.target, fresh.amount) == (original.upstream, original.target, original.amount)
    again = t.refresh(1060)
    assert again is not None and again.job_id == "1.2"
    current = t.current_job
    assert current is not None and current.clean and current.job_id == "1.2"
