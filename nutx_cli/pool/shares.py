"""Checking one submitted share (stratum.md §5.9 and §6.4): accepted with its level and amount, or a named error.

Every kind of channel submits a `Submission`: an ecash share carries its blinded message, a claimed
share (SV1, standard and plain extended SV2 channels) the pubkey its amount is credited to.
Pure: the caller passes the channel's jobs, the keysets the mint knows, the set of header hashes
already accepted in this epoch, and the clock. Order: job, extranonce size, version, ntime, the
ecash fields, proof of work, duplicate. Signing is the mint's, and so are the checks that need its
key material or ledger: B_ is a point (`invalid-blinded-message`, parsed once, where it is
multiplied) and was never signed (`blinded-message-reused`).
"""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass

from nutx_cli.chain.hashes import dsha256
from nutx_cli.chain.header import BlockHeader
from nutx_cli.chain.merkle import root_from_path
from nutx_cli.core.targets import amount_of_level
from nutx_cli.pool.jobs import ChannelJobs, Job, JobLookupError
from nutx_cli.sv2.ecash import BlindedMessage, SubmitSharesEcashExtended
from nutx_cli.sv2.jobs import extended_coinbase, version_error
from nutx_cli.sv2.messages import SubmitSharesExtended, SubmitSharesStandard

MAX_FUTURE_NTIME = 7200
"""Bitcoin accepts headers up to two hours ahead of the clock."""


class ShareRejected(Exception):
    """A share that is not signed; `code` is the SV2 error name sent back."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True, slots=True)
class Submission:
    """A share as any kind of channel submits it; `extranonce` is empty on a standard channel."""

    channel_id: int
    sequence_number: int
    job_id: int
    nonce: int
    ntime: int
    version: int
    extranonce: bytes
    blinded_message: BlindedMessage | None = None
    """An ecash share's blinded message, signed once the share is durable."""
    claimant: str | None = None
    """A claimed share's pubkey (hex), whose claim its amount goes to."""

    @classmethod
    def of_ecash(cls, m: SubmitSharesEcashExtended) -> Submission:
        return cls(
            m.channel_id,
            m.sequence_number,
            m.job_id,
            m.nonce,
            m.ntime,
            m.version,
            m.extranonce,
            m.blinded_message,
        )

    @classmethod
    def of_core(cls, m: SubmitSharesExtended | SubmitSharesStandard, claimant: str) -> Submission:
        """A core share of a claim channel (a standard one rolls no extranonce)."""
        extranonce = m.extranonce if isinstance(m, SubmitSharesExtended) else b""
        return cls(
            m.channel_id, m.sequence_number, m.job_id, m.nonce, m.ntime, m.version, extranonce, None, claimant
        )


@dataclass(frozen=True, slots=True)
class CheckedShare:
    """A share that passed every check the pool makes before asking the mint to sign."""

    job: Job
    header: BlockHeader
    hash: bytes  # sha256d of the header, internal order
    coinbase: bytes  # non-witness coinbase of this share
    amount: int
    is_block: bool

    @property
    def level(self) -> int:
        return self.job.level

    @property
    def hash_int(self) -> int:
        return int.from_bytes(self.hash, "little")


def check_share(
    share: Submission,
    jobs: ChannelJobs,
    *,
    extranonce_size: int,
    k_max: int,
    known_keysets: Container[str],
    seen: Container[bytes],
    now: int,
) -> CheckedShare:
    """Validate `share` against the job it names; raises ShareRejected with the SV2 error name."""
    try:
        job = jobs.lookup(share.job_id)
    except JobLookupError as exc:
        raise ShareRejected(exc.code) from None
    if len(share.extranonce) != extranonce_size:
        raise ShareRejected("bad-extranonce-size")
    bad_version = version_error(job.message.version, share.version, job.message.version_rolling_allowed)
    if bad_version is not None:
        raise ShareRejected(bad_version)
    prev = jobs.prev_hash
    if prev is None:
        raise ShareRejected("stale-share")
    if share.ntime < prev.min_ntime or share.ntime > now + MAX_FUTURE_NTIME:
        raise ShareRejected("invalid-timestamp")
    amount = amount_of_level(job.level, k_max)
    blinded = share.blinded_message
    if blinded is not None:
        keyset_id = blinded.keyset_id.hex()
        if keyset_id != job.keyset_id:
            raise ShareRejected("inactive-keyset" if keyset_id in known_keysets else "unknown-keyset")
        if blinded.amount != amount:
            raise ShareRejected("amount-mismatch")
    coinbase = extended_coinbase(job.message, job.extranonce_prefix, share.extranonce)
    root = root_from_path(dsha256(coinbase), job.message.merkle_path)
    header = BlockHeader(share.version, prev.prev_hash, root, share.ntime, prev.nbits, share.nonce)
    digest = header.hash()
    value = int.from_bytes(digest, "little")
    if value > job.target:
        raise ShareRejected("difficulty-too-low")
    if digest in seen:
        raise ShareRejected("duplicate-share")
    return CheckedShare(job, header, digest, coinbase, amount, value <= job.template.network_target)
