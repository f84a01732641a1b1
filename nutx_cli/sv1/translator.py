"""SV2 extended ecash channel → SV1 jobs, and accepted SV1 shares → SV2 submissions (spec §7.8), sans-IO.

The proxy opens one upstream SV2 extended ecash channel per downstream SV1 miner (not one
aggregated channel): the channel's `extranonce_prefix` is the miner's extranonce1 and its
`extranonce_size` the miner's extranonce2_size, so a submission's extranonce is exactly the miner's
extranonce2 and no local extranonce bytes are needed. Each miner gets its own target from the
pool's vardiff (one share rate per device rather than a blend), a stalled or misbehaving miner
costs only its own channel, and every share still carries a blinded message from the proxy's one
wallet, so the pool learns no more than one channel per device.

Job lifecycle (§5.4): a job without `min_ntime` waits until a `SetNewPrevHash` names it and then
becomes a clean `notify`; a job with `min_ntime` is an extra job on the current prev hash. Each job
records the channel target and the epoch keyset in force when it was sent (§6.5.2), which fix the
share's target and ehash amount. `refresh(now)` re-issues the newest job with a later ntime under a
new SV1 job id, because SV1 miners stop hashing when no new job id arrives for about two minutes.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from nutx_cli.errors import NutxError
from nutx_cli.sv1.job import Sv1Job
from nutx_cli.sv1.session import ShareAccepted
from nutx_cli.sv2.ecash import BlindedMessage, EcashKeyset, SubmitSharesEcashExtended, share_amount
from nutx_cli.sv2.errors import FrameError
from nutx_cli.sv2.messages import NewExtendedMiningJob, SetNewPrevHash

REFRESH_SECONDS = 30
"""A fresh job at least this often on a quiet chain (§7.9: 30–60 s)."""


class TranslatorError(NutxError):
    """The upstream channel sent something a SV1 miner cannot be given (an off-ladder target, an unknown job)."""


@dataclass(frozen=True, slots=True)
class _PendingJob:
    job: NewExtendedMiningJob
    target: int


@dataclass
class ChannelTranslator:
    """One upstream extended ecash channel and the SV1 jobs made from it."""

    channel_id: int
    extranonce_prefix: bytes
    extranonce_size: int
    target: int
    keyset: EcashKeyset
    _future: dict[int, _PendingJob] = field(default_factory=dict)
    _prev: SetNewPrevHash | None = None
    _latest: Sv1Job | None = None
    _refreshes: int = 0

    @property
    def current_job(self) -> Sv1Job | None:
        """The newest job as a clean job, for a miner that just became ready."""
        return None if self._latest is None else replace(self._latest, clean=True)

    def set_target(self, target: int) -> None:
        """SetTarget: applies to jobs received after it (§6.5.2)."""
        self.target = target

    def set_keyset(self, keyset: EcashKeyset) -> None:
        """SetEcashKeyset: the keyset of jobs activated from now on (it precedes the epoch's SetNewPrevHash)."""
        self.keyset = keyset

    def new_job(self, job: NewExtendedMiningJob) -> Sv1Job | None:
        """A future job is held back; a job with min_ntime is active at once on the current prev hash."""
        pending = _PendingJob(job, self.target)
        if job.min_ntime is None:
            self._future[job.job_id] = pending
            return None
        if self._prev is None:
            raise TranslatorError(f"job {job.job_id} has min_ntime but no SetNewPrevHash came before it")
        return self._issue(pending, self._prev, job.min_ntime, clean=False)

    def new_prev_hash(self, prev: SetNewPrevHash) -> Sv1Job:
        """Activate the named future job and drop every other one."""
        pending = self._future.pop(prev.job_id, None)
        if pending is None:
            raise TranslatorError(f"SetNewPrevHash names job {prev.job_id}, which was never sent as a future job")
        self._future.clear()
        self._prev = prev
        return self._issue(pending, prev, prev.min_ntime, clean=True)

    def refresh(self, now: int) -> Sv1Job | None:
        """The newest job again with ntime = now under a new job id, if `now` is past its ntime."""
        latest = self._latest
        if latest is None or now <= latest.ntime:
            return None
        self._refreshes += 1
        job = Sv1Job(
            job_id=f"{latest.upstream.job_id}.{self._refreshes}",
            upstream=latest.upstream,
            prev=latest.prev,
            ntime=now,
            clean=False,
            target=latest.target,
            keyset_id=latest.keyset_id,
            amount=latest.amount,
        )
        self._latest = job
        return job

    def _issue(self, pending: _PendingJob, prev: SetNewPrevHash, ntime: int, clean: bool) -> Sv1Job:
        try:
            amount = share_amount(pending.target, self.keyset.k_max)
        except FrameError as exc:
            raise TranslatorError(f"channel {self.channel_id}: {exc}") from None
        job = Sv1Job(
            job_id=str(pending.job.job_id),
            upstream=pending.job,
            prev=prev,
            ntime=ntime,
            clean=clean,
            target=pending.target,
            keyset_id=self.keyset.keyset_id,
            amount=amount,
        )
        self._latest = job
        return job

    def submission(self, share: ShareAccepted, sequence_number: int, blinded_secret: bytes) -> SubmitSharesEcashExtended:
        """The upstream submission of a locally accepted share, carrying the wallet's blinded message."""
        job = share.job
        return SubmitSharesEcashExtended(
            channel_id=self.channel_id,
            sequence_number=sequence_number,
            job_id=job.upstream.job_id,
            nonce=share.nonce,
            ntime=share.ntime,
            version=share.version,
            extranonce=share.extranonce2,
            blinded_message=BlindedMessage(amount=job.amount, keyset_id=job.keyset_id, blinded_secret=blinded_secret),
        )
