"""Coinbase, merkle root and header of a share on an extended channel (spec §5.5), and version rolling (§5.8).

Both sides need the same arithmetic: the miner to hash, the pool to check a submitted share.
The tree and header themselves live in `nutx_cli.chain`.
"""

from __future__ import annotations

from nutx_cli.chain.hashes import dsha256
from nutx_cli.chain.header import BlockHeader
from nutx_cli.chain.merkle import root_from_path
from nutx_cli.sv2.ecash import SubmitSharesEcashExtended
from nutx_cli.sv2.messages import NewExtendedMiningJob, SetNewPrevHash, SubmitSharesExtended

VERSION_ROLLING_MASK = 0x1FFFFFE0
"""BIP323 general-purpose version bits 5–28 (SRI's VERSION_ROLLING_MASK)."""
BIP320_VERSION_ROLLING_MASK = 0x1FFFE000
"""Bits 13–28, what Stratum V1 miners roll."""


def extended_coinbase(job: NewExtendedMiningJob, extranonce_prefix: bytes, extranonce: bytes) -> bytes:
    """coinbase_tx_prefix ‖ extranonce_prefix ‖ extranonce ‖ coinbase_tx_suffix (non-witness form)."""
    return job.coinbase_tx_prefix + extranonce_prefix + extranonce + job.coinbase_tx_suffix


def extended_merkle_root(job: NewExtendedMiningJob, extranonce_prefix: bytes, extranonce: bytes) -> bytes:
    """The merkle root (internal byte order) for one extranonce of this job."""
    return root_from_path(dsha256(extended_coinbase(job, extranonce_prefix, extranonce)), job.merkle_path)


def extended_header(
    job: NewExtendedMiningJob,
    prev: SetNewPrevHash,
    extranonce_prefix: bytes,
    share: SubmitSharesExtended | SubmitSharesEcashExtended,
) -> BlockHeader:
    """The header a submitted share claims; its `hash()` read little-endian is compared with targets."""
    root = extended_merkle_root(job, extranonce_prefix, share.extranonce)
    return BlockHeader(share.version, prev.prev_hash, root, share.ntime, prev.nbits, share.nonce)


def hash_value(header: BlockHeader) -> int:
    """sha256d(header) as the little-endian integer every target is compared with (spec §0)."""
    return int.from_bytes(header.hash(), "little")


def version_error(
    job_version: int, submitted: int, rolling_allowed: bool, mask: int = VERSION_ROLLING_MASK
) -> str | None:
    """The SV2 error code for a submitted nVersion, or None if the job allows it (§5.8)."""
    if submitted == job_version:
        return None
    if not rolling_allowed:
        return "version-rolling-not-allowed"
    if (submitted & ~mask) != (job_version & ~mask):
        return "invalid-non-rollable-version-bit"
    return None


def roll_version(job_version: int, bits: int, mask: int = VERSION_ROLLING_MASK) -> int:
    """The job's version with the rollable bits replaced by `bits` (only the bits inside `mask` count)."""
    return (job_version & ~mask) | (bits & mask)
