"""The jobs one channel was sent, and which of them a share may still name (stratum.md §5.4, §6.5).

Job ids grow monotonically per channel, so an id below the next one that is no longer valid was
sent once and invalidated by a newer prev hash: `stale-share`. An id never sent is `invalid-job-id`.
Each job records the channel's level when it was sent; a share is checked and credited at that
level (§6.5.2), and belongs to the epoch and keyset that were current then.
"""

from __future__ import annotations

from dataclasses import dataclass

from nutx_cli.core.targets import target_of_level
from nutx_cli.pool.template import Template
from nutx_cli.sv2.messages import NewExtendedMiningJob, SetNewPrevHash

MAX_JOBS_PER_PREVHASH = 64
"""Refreshed templates on one tip keep older jobs valid; beyond this many the oldest go stale."""


@dataclass(frozen=True, slots=True)
class Job:
    """A job as sent to one channel."""

    job_id: int
    template: Template
    message: NewExtendedMiningJob
    extranonce_prefix: bytes
    level: int
    epoch: int
    keyset_id: str

    @property
    def target(self) -> int:
        return target_of_level(self.level)


class JobLookupError(Exception):
    """A share names a job it may not: `code` is the SV2 error name."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class ChannelJobs:
    """The job registry of one extended channel."""

    def __init__(self, extranonce_prefix: bytes, version_rolling: bool = True) -> None:
        self.extranonce_prefix = extranonce_prefix
        self.version_rolling = version_rolling
        self._next_id = 1
        self._valid: dict[int, Job] = {}
        self.prev_hash: SetNewPrevHash | None = None

    def new_job(
        self, channel_id: int, template: Template, level: int, epoch: int, keyset_id: str, *, future: bool
    ) -> Job:
        """Create the next job for `template`; a future job waits for its SetNewPrevHash."""
        job_id = self._next_id
        self._next_id += 1
        message = NewExtendedMiningJob(
            channel_id=channel_id,
            job_id=job_id,
            min_ntime=None if future else template.curtime,
            version=template.version,
            version_rolling_allowed=self.version_rolling,
            merkle_path=list(template.merkle_path),
            coinbase_tx_prefix=template.coinbase.prefix,
            coinbase_tx_suffix=template.coinbase.suffix,
        )
        job = Job(job_id, template, message, self.extranonce_prefix, level, epoch, keyset_id)
        if not future:
            self._add(job)
        return job

    def activate(self, job: Job) -> SetNewPrevHash:
        """The SetNewPrevHash that makes future `job` current; every other job of the channel goes stale."""
        self._valid = {}
        self._add(job)
        self.prev_hash = SetNewPrevHash(
            channel_id=job.message.channel_id,
            job_id=job.job_id,
            prev_hash=job.template.prev_hash,
            min_ntime=job.template.curtime,
            nbits=job.template.bits,
        )
        return self.prev_hash

    def _add(self, job: Job) -> None:
        self._valid[job.job_id] = job
        if len(self._valid) > MAX_JOBS_PER_PREVHASH:
            del self._valid[min(self._valid)]

    def lookup(self, job_id: int) -> Job:
        """The valid job `job_id`, or JobLookupError("stale-share" / "invalid-job-id")."""
        job = self._valid.get(job_id)
        if job is not None:
            return job
        raise JobLookupError("stale-share" if 0 < job_id < self._next_id else "invalid-job-id")

    def invalidate(self) -> None:
        """Make every job stale (the epoch closed: nothing more is signed for it)."""
        self._valid = {}
