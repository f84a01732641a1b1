"""Active SV2 extended jobs → SV1 jobs for one downstream miner (spec §7.8), sans-IO.

The proxy opens one upstream SV2 extended ecash channel per downstream SV1 miner (not one
aggregated channel): the channel's `extranonce_prefix` is the miner's extranonce1 and its
`extranonce_size` the miner's extranonce2_size, so a submission's extranonce is exactly the miner's
extranonce2 and no local extranonce bytes are needed. Each miner gets its own target from the pool's
vardiff (one share rate per device rather than a blend), a stalled or misbehaving miner costs only its
own channel, and every share still carries a blinded message from the proxy's one wallet, which holds
all the ehash; the pool learns nothing about a device it would not learn from the device itself.

The channel client (`nutx_cli.miner.channel.EcashChannel`, shared with the CPU miner) keeps the SV2
job book: a future job waits for its `SetNewPrevHash`, a job with `min_ntime` is active at once, and
each active job carries the channel target and epoch keyset recorded for it (§6.5.2). This module
turns each activated job into an `Sv1Job`: clean when its prev hash is new, `ntime = job.min_ntime or
prev.min_ntime` (SRI's `build_sv1_notify_from_sv2`), and `refresh(now)` re-issues the newest job with a
later ntime under a new job id, because SV1 miners stop hashing when no new job id arrives for about
two minutes (§7.9).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from nutx_cli.errors import NutxError
from nutx_cli.sv1.job import Sv1Job
from nutx_cli.sv2.ecash import EcashKeyset, share_amount
from nutx_cli.sv2.errors import FrameError
from nutx_cli.sv2.messages import NewExtendedMiningJob, SetNewPrevHash

REFRESH_SECONDS = 30
"""A fresh job at least this often on a quiet chain (§7.9: 30–60 s)."""


class TranslatorError(NutxError):
    """An upstream job a SV1 miner cannot be given (its target is not a ladder level the keyset pays, or its
    keyset's id does not match its keys)."""


@dataclass
class JobTranslator:
    """The SV1 job ids issued to one miner and the prev hash they build on."""

    _prev: SetNewPrevHash | None = None
    _latest: Sv1Job | None = None
    _refreshes: int = 0
    _verified_keysets: set[bytes] = field(default_factory=set)

    @property
    def current_job(self) -> Sv1Job | None:
        """The newest job as a clean job, for a miner that just became ready."""
        return None if self._latest is None else replace(self._latest, clean=True)

    def activate(
        self, job: NewExtendedMiningJob, prev: SetNewPrevHash, target: int, keyset: EcashKeyset
    ) -> Sv1Job:
        """The SV1 job for an upstream job that became active on `prev` at the recorded `target`."""
        try:
            if keyset.keyset_id not in self._verified_keysets:
                keyset.verify_id()  # §6.5.3: a keyset whose id does not match its keys is refused
                self._verified_keysets.add(keyset.keyset_id)
            amount = share_amount(target, keyset.k_max)
        except FrameError as exc:
            raise TranslatorError(f"job {job.job_id}: {exc}") from None
        clean = prev != self._prev
        self._prev = prev
        self._latest = Sv1Job(
            job_id=str(job.job_id),
            upstream=job,
            prev=prev,
            ntime=job.min_ntime if job.min_ntime is not None else prev.min_ntime,
            clean=clean,
            target=target,
            keyset=keyset,
            amount=amount,
        )
        return self._latest

    def refresh(self, now: int) -> Sv1Job | None:
        """The newest job again with ntime = now under a new job id, if `now` is past its ntime."""
        latest = self._latest
        if latest is None or now <= latest.ntime:
            return None
        self._refreshes += 1
        self._latest = replace(
            latest, job_id=f"{latest.upstream.job_id}.{self._refreshes}", ntime=now, clean=False
        )
        return self._latest
