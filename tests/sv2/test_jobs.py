"""Coinbase/merkle/header assembly for extended channels (spec §5.5, §5.10) and version rolling (§5.8)."""

from __future__ import annotations

from nutx_cli.chain.hashes import dsha256
from nutx_cli.sv2.ecash import BlindedMessage, SubmitSharesEcashExtended
from nutx_cli.sv2.framing import decode_frame
from nutx_cli.sv2.jobs import (
    BIP320_VERSION_ROLLING_MASK,
    VERSION_ROLLING_MASK,
    extended_coinbase,
    extended_header,
    extended_merkle_root,
    hash_value,
    roll_version,
    version_error,
)
from nutx_cli.sv2.messages import NewExtendedMiningJob, SetNewPrevHash, SubmitSharesExtended
from tests.conftest import load_vectors

EXAMPLE = load_vectors("stratum")["block_100000_worked_example"]
FRAMES = EXAMPLE["sv2_frames_unencrypted"]
PREFIX = b"\x02"  # the channel's extranonce_prefix in the example


def frames() -> tuple[NewExtendedMiningJob, SetNewPrevHash, SubmitSharesExtended]:
    job = decode_frame(bytes.fromhex(FRAMES["NewExtendedMiningJob"]))
    prev = decode_frame(bytes.fromhex(FRAMES["SetNewPrevHash"]))
    share = decode_frame(bytes.fromhex(FRAMES["SubmitSharesExtended"]))
    assert isinstance(job, NewExtendedMiningJob)
    assert isinstance(prev, SetNewPrevHash)
    assert isinstance(share, SubmitSharesExtended)
    return job, prev, share


def test_block_100000_rebuilt_from_the_sv2_frames() -> None:
    job, prev, share = frames()
    sv1 = EXAMPLE["sv1"]
    coinbase = extended_coinbase(job, PREFIX, share.extranonce)
    assert dsha256(coinbase).hex() == sv1["coinbase_txid_internal"]
    assert extended_merkle_root(job, PREFIX, share.extranonce).hex() == sv1["merkle_root_header_order"]
    header = extended_header(job, prev, PREFIX, share)
    assert header.serialize().hex() == sv1["header_80_bytes"]
    assert header.hash().hex() == sv1["sha256d_header_raw"]
    assert header.hash_hex() == EXAMPLE["block_hash_display"]
    assert hash_value(header) <= 0x4864C * 2 ** (8 * (0x1B - 3))  # meets nBits 1b04864c


def test_ecash_share_builds_the_same_header() -> None:
    job, prev, share = frames()
    blinded = BlindedMessage(1, b"\x01" * 33, b"\x02" * 33)
    ecash = SubmitSharesEcashExtended(
        share.channel_id,
        share.sequence_number,
        share.job_id,
        share.nonce,
        share.ntime,
        share.version,
        share.extranonce,
        blinded,
    )
    assert extended_header(job, prev, PREFIX, ecash) == extended_header(job, prev, PREFIX, share)


def test_other_extranonce_changes_the_root() -> None:
    job, _, share = frames()
    assert extended_merkle_root(job, PREFIX, b"\x06\x03") != extended_merkle_root(
        job, PREFIX, share.extranonce
    )


def test_version_rolling_rules() -> None:
    base = 0x20000000
    assert version_error(base, base, rolling_allowed=False) is None
    assert version_error(base, base | 0x2000, rolling_allowed=False) == "version-rolling-not-allowed"
    assert version_error(base, base | 0x1FFFFFE0, rolling_allowed=True) is None  # every BIP323 bit
    assert version_error(base, base | 0x10, rolling_allowed=True) == "invalid-non-rollable-version-bit"
    assert version_error(base, base | 0x40000000, rolling_allowed=True) == "invalid-non-rollable-version-bit"
    assert (
        version_error(base, base | 0x20, True, mask=BIP320_VERSION_ROLLING_MASK)
        == "invalid-non-rollable-version-bit"
    )
    assert roll_version(base | 0x4, 0xFFFFFFFF) == base | 0x4 | VERSION_ROLLING_MASK
    assert roll_version(base, 0x12345678, BIP320_VERSION_ROLLING_MASK) == base | (0x12345678 & 0x1FFFE000)
