"""Activated SV2 jobs → SV1 jobs: clean on a new prev hash, ntime, amount per recorded level, refreshes."""

from __future__ import annotations

import pytest

from nutx_cli.core import keysets
from nutx_cli.sv1.translator import JobTranslator, TranslatorError
from nutx_cli.sv2.ecash import EcashKeyset
from nutx_cli.sv2.messages import NewExtendedMiningJob, SetNewPrevHash

T236 = 2**236 - 1


def keyset(epoch: int = 1) -> EcashKeyset:
    ks = keysets.derive_keyset(b"\x09" * 32, "ehash", epoch)
    return EcashKeyset(
        keyset_id=bytes.fromhex(ks.id),
        unit="ehash",
        epoch=epoch,
        k_max=256,
        keys=[(a, ks.public_keys[a]) for a in keysets.EHASH_AMOUNTS],
    )


def job(job_id: int, min_ntime: int | None = None) -> NewExtendedMiningJob:
    return NewExtendedMiningJob(
        channel_id=9,
        job_id=job_id,
        min_ntime=min_ntime,
        version=0x20000000,
        version_rolling_allowed=True,
        merkle_path=[],
        coinbase_tx_prefix=b"\x01",
        coinbase_tx_suffix=b"\x02",
    )


def prev(job_id: int, ntime: int = 1000) -> SetNewPrevHash:
    return SetNewPrevHash(
        channel_id=9, job_id=job_id, prev_hash=bytes([job_id]) * 32, min_ntime=ntime, nbits=0x207FFFFF
    )


def test_a_job_on_a_new_prev_hash_is_clean_and_takes_its_ntime() -> None:
    t = JobTranslator()
    assert t.current_job is None
    sv1 = t.activate(job(1), prev(1, ntime=1234), T236, keyset())
    assert sv1.clean and sv1.job_id == "1" and sv1.ntime == 1234 and sv1.target == T236
    assert sv1.amount == 2**20 and sv1.keyset == keyset()
    assert sv1.notify_params()[7] == f"{1234:08x}" and sv1.notify_params()[8] is True


def test_a_job_with_min_ntime_on_the_same_prev_hash_is_an_extra_job() -> None:
    t = JobTranslator()
    t.activate(job(1), prev(1), T236, keyset())
    extra = t.activate(job(2, min_ntime=1500), prev(1), 2**240 - 1, keyset())
    assert not extra.clean and extra.ntime == 1500 and extra.amount == 2**16
    assert t.activate(job(3), prev(3), T236, keyset(2)).clean


@pytest.mark.parametrize("target", [2**236, 2**150 - 1, 2**257 - 1])
def test_targets_the_keyset_cannot_pay_are_refused(target: int) -> None:
    with pytest.raises(TranslatorError):
        JobTranslator().activate(job(1), prev(1), target, keyset())


def test_refresh_reissues_the_newest_job_with_a_later_ntime() -> None:
    t = JobTranslator()
    assert t.refresh(5000) is None
    original = t.activate(job(1), prev(1, ntime=1000), T236, keyset())
    assert t.refresh(1000) is None
    fresh = t.refresh(1030)
    assert fresh is not None and fresh.job_id == "1.1" and fresh.ntime == 1030 and not fresh.clean
    assert (fresh.upstream, fresh.prev, fresh.target, fresh.amount) == (
        original.upstream,
        original.prev,
        original.target,
        original.amount,
    )
    again = t.refresh(1060)
    assert again is not None and again.job_id == "1.2"
    current = t.current_job
    assert current is not None and current.clean and current.job_id == "1.2"
    assert not t.activate(job(2, min_ntime=1070), prev(1, ntime=1000), T236, keyset()).clean


def test_a_keyset_whose_id_does_not_match_its_keys_is_refused() -> None:
    good = keyset()
    forged = EcashKeyset(
        keyset_id=bytes.fromhex("01" + "00" * 32), unit="ehash", epoch=1, k_max=256, keys=good.keys
    )
    with pytest.raises(TranslatorError, match="does not match its keys"):
        JobTranslator().activate(job(1), prev(1), T236, forged)
