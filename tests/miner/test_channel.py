"""The miner's ecash channel client and hashing processes against a scripted SV2 pool on loopback."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from nutx_cli.chain.hashes import dsha256
from nutx_cli.core import bdhke, keysets
from nutx_cli.core.targets import target_of_level
from nutx_cli.miner.channel import ChannelError, EcashChannel, RedeemRefused
from nutx_cli.miner.hashers import FoundShare, Hashers, HashJob
from nutx_cli.sv2.connection import Connection, serve
from nutx_cli.sv2.ecash import (
    BlindSignature,
    EcashKeyset,
    OpenExtendedEcashMiningChannel,
    OpenExtendedEcashMiningChannelSuccess,
    RedeemSharesEcash,
    RedeemSharesEcashError,
    SetEcashKeyset,
    SetEcashMint,
    SubmitSharesEcashExtended,
    SubmitSharesEcashExtendedError,
    SubmitSharesEcashExtendedSuccess,
)
from nutx_cli.sv2.extensions import RequestExtensions, RequestExtensionsSuccess
from nutx_cli.sv2.messages import (
    NewExtendedMiningJob,
    OpenExtendedMiningChannel,
    OpenExtendedMiningChannelSuccess,
    OpenMiningChannelError,
    SetNewPrevHash,
    SetTarget,
    SetupConnection,
    SetupConnectionSuccess,
    SubmitSharesError,
    SubmitSharesExtended,
    SubmitSharesSuccess,
)
from nutx_cli.sv2.noise import new_secret
from tests.helpers.waits import until, until_async

K_MAX = 256


def _ecash_keyset(epoch: int) -> tuple[keysets.Keyset, EcashKeyset]:
    ks = keysets.derive_keyset(b"\x07" * 32, "ehash", epoch)
    wire = EcashKeyset(
        keyset_id=bytes.fromhex(ks.id),
        unit="ehash",
        epoch=epoch,
        k_max=K_MAX,
        keys=[(amount, ks.public_keys[amount]) for amount in keysets.EHASH_AMOUNTS],
    )
    return ks, wire


def _job(job_id: int, future: bool) -> NewExtendedMiningJob:
    return NewExtendedMiningJob(
        channel_id=1,
        job_id=job_id,
        min_ntime=None if future else 1_700_000_000,
        version=0x20000000,
        version_rolling_allowed=True,
        merkle_path=[],
        coinbase_tx_prefix=b"\x01" * 42,
        coinbase_tx_suffix=b"\x02" * 40,
    )


async def _scripted_pool(conn: Connection, refuse: bool = False) -> None:
    """Answer setup, negotiation and open; send a future job + prev hash; sign every share."""
    ks0, wire0 = _ecash_keyset(0)
    ks1, wire1 = _ecash_keyset(1)
    assert isinstance(await conn.recv(), SetupConnection)
    await conn.send(SetupConnectionSuccess(used_version=2, flags=0))
    assert isinstance(await conn.recv(), RequestExtensions)
    await conn.send(RequestExtensionsSuccess(request_id=1, supported_extensions=[0x4CA5]))
    opened = await conn.recv()
    assert isinstance(opened, OpenExtendedEcashMiningChannel) and opened.unit == "ehash"
    if refuse:
        await conn.send(
            OpenMiningChannelError(request_id=opened.request_id, error_code="max-target-out-of-range")
        )
        return
    await conn.send(
        OpenExtendedEcashMiningChannelSuccess(
            request_id=opened.request_id,
            channel_id=1,
            target=target_of_level(250),
            extranonce_size=8,
            extranonce_prefix=b"\xaa\xbb",
            group_channel_id=0,
            keyset=wire0,
        )
    )
    await conn.send(_job(5, future=True))
    await conn.send(
        SetNewPrevHash(channel_id=1, job_id=5, prev_hash=bytes(32), min_ntime=1_700_000_000, nbits=0x207FFFFF)
    )
    current = ks0
    async for msg in conn:
        if not isinstance(msg, SubmitSharesEcashExtended):
            continue
        bm = msg.blinded_message
        if bm.keyset_id.hex() != current.id:
            await conn.send(
                SubmitSharesEcashExtendedError(
                    channel_id=1, sequence_number=msg.sequence_number, error_code="inactive-keyset"
                )
            )
            continue
        sig = bdhke.sign(current.private_keys[bm.amount], bm.blinded_secret)
        await conn.send(
            SubmitSharesEcashExtendedSuccess(
                channel_id=1,
                sequence_number=msg.sequence_number,
                signature=BlindSignature.of(sig, bm.amount, bm.keyset_id.hex()),
            )
        )
        if msg.sequence_number == 2:  # new epoch: keyset first, then a harder target, a job and the prev hash
            current = ks1
            await conn.send(SetEcashKeyset(channel_id=1, keyset=wire1))
            await conn.send(SetTarget(channel_id=1, maximum_target=target_of_level(248)))
            await conn.send(_job(6, future=True))
            await conn.send(
                SetNewPrevHash(
                    channel_id=1, job_id=6, prev_hash=b"\x11" * 32, min_ntime=1_700_000_001, nbits=0x207FFFFF
                )
            )


async def test_channel_submits_and_follows_epochs() -> None:
    authority = new_secret()
    server = await serve(
        "127.0.0.1", 0, on_connection=_scripted_pool, static_secret=new_secret(), authority_secret=authority
    )
    async with server:
        channel = await EcashChannel.open(
            "127.0.0.1", server.port, server.authority_pubkey or b"", user="alice"
        )
        try:
            work = await channel.wait_for_work(timeout=5)
            assert work.amount == 2**6 and work.epoch == 0 and work.extranonce_prefix == b"\xaa\xbb"
            for seq in (1, 2):
                secret = f"secret-{seq}"
                r = (seq + 10).to_bytes(32, "big")
                reply = await channel.submit(
                    work,
                    nonce=seq,
                    ntime=work.prev.min_ntime,
                    version=work.job.version,
                    extranonce=bytes(8),
                    B_=bdhke.blind(secret, r),
                )
                assert isinstance(reply, SubmitSharesEcashExtendedSuccess)
                sig = reply.signature
                key = work.ecash_keyset.key_for(sig.amount)
                assert bdhke.verify_blind_dleq(
                    key, bdhke.blind(secret, r), sig.blinded_signature, sig.dleq_e, sig.dleq_s
                )
            await until_async(
                lambda: channel.work is not None and channel.work.epoch == 1, "the work of epoch 1"
            )
            new_work = channel.work
            assert new_work is not None
            assert new_work.job.job_id == 6 and new_work.amount == 2**8  # level 248, recorded with the job
            stale = await channel.submit(
                work,
                nonce=3,
                ntime=0,
                version=0,
                extranonce=bytes(8),
                B_=bdhke.blind("x", (99).to_bytes(32, "big")),
            )
            assert isinstance(stale, SubmitSharesEcashExtendedError) and stale.error_code == "inactive-keyset"
        finally:
            await channel.close()


async def test_refused_channel_is_a_channel_error() -> None:
    async def refuse(conn: Connection) -> None:
        await _scripted_pool(conn, refuse=True)

    server = await serve(
        "127.0.0.1", 0, on_connection=refuse, static_secret=new_secret(), authority_secret=new_secret()
    )
    async with server:
        with pytest.raises(ChannelError, match="max-target-out-of-range"):
            await EcashChannel.open("127.0.0.1", server.port, server.authority_pubkey or b"", user="bob")


async def _claim_pool(conn: Connection) -> None:
    """A pool with the extension that says where its mint is, opens a plain extended channel, answers two
    shares with one batched core Success and a third with an error, and refuses a redeem."""
    assert isinstance(await conn.recv(), SetupConnection)
    await conn.send(SetupConnectionSuccess(used_version=2, flags=0))
    assert isinstance(await conn.recv(), RequestExtensions)
    await conn.send(RequestExtensionsSuccess(request_id=1, supported_extensions=[0x4CA5]))
    await conn.send(SetEcashMint(mint_url="http://10.0.0.7:3338"))
    opened = await conn.recv()
    assert isinstance(opened, OpenExtendedMiningChannel) and opened.user_identity == "02ab.rig"
    await conn.send(
        OpenExtendedMiningChannelSuccess(opened.request_id, 4, target_of_level(250), 8, b"\xcc", 1)
    )
    await conn.send(_job(5, future=True))
    await conn.send(
        SetNewPrevHash(channel_id=4, job_id=5, prev_hash=bytes(32), min_ntime=1_700_000_000, nbits=1)
    )
    shares: list[SubmitSharesExtended] = []
    async for msg in conn:
        if isinstance(msg, SubmitSharesExtended):
            shares.append(msg)
            if len(shares) == 2:  # SV2 may batch successes: one for both
                await conn.send(SubmitSharesSuccess(4, shares[1].sequence_number, 2, 128))
            elif len(shares) == 3:
                await conn.send(SubmitSharesError(4, msg.sequence_number, "stale-share"))
        elif isinstance(msg, RedeemSharesEcash):
            await conn.send(RedeemSharesEcashError(msg.request_id, "epoch-not-redeemable", []))


async def test_a_claim_channel_takes_batched_core_successes_and_knows_the_mint() -> None:
    server = await serve(
        "127.0.0.1", 0, on_connection=_claim_pool, static_secret=new_secret(), authority_secret=new_secret()
    )
    async with server:
        channel = await EcashChannel.open(
            "127.0.0.1", server.port, server.authority_pubkey or b"", user="02ab.rig", claim=True
        )
        try:
            assert channel.keyset is None and channel.mint_url == "http://10.0.0.7:3338"
            work = await channel.wait_for_work(timeout=5)
            assert work.keyset is None and work.target == target_of_level(250)
            with pytest.raises(ChannelError, match="no epoch keyset"):
                _ = work.amount
            first, second = await asyncio.gather(
                *(
                    channel.submit_claim(work, nonce=n, ntime=0, version=0, extranonce=bytes(8))
                    for n in (1, 2)
                )
            )
            assert first == second == SubmitSharesSuccess(4, 2, 2, 128)
            third = await channel.submit_claim(work, nonce=3, ntime=0, version=0, extranonce=bytes(8))
            assert third == SubmitSharesError(4, 3, "stale-share")
            with pytest.raises(RedeemRefused) as refused:
                await channel.redeem([], [])
            assert refused.value.code == "epoch-not-redeemable"
        finally:
            await channel.close()


def test_hashers_find_valid_shares_and_switch_jobs() -> None:
    hashers = Hashers(2)
    try:
        job = HashJob(
            1,
            b"\x01" * 40,
            b"\x02" * 30,
            8,
            (),
            0x20000000,
            bytes(32),
            1_700_000_000,
            0x207FFFFF,
            target_of_level(248),
        )
        hashers.set_job(job)
        found: list[FoundShare] = []

        def three_found() -> bool:
            found.extend(hashers.drain_found())
            return len(found) >= 3

        until(three_found, "three shares of the first job")
        for share in found:
            header = job.header76(share.extranonce) + share.nonce.to_bytes(4, "little")
            assert dsha256(header) == share.hash
            assert int.from_bytes(share.hash, "little") <= job.target
        assert len({share.extranonce for share in found}) >= 1
        hashers.set_job(
            HashJob(
                2,
                b"\x03" * 40,
                b"\x02" * 30,
                8,
                (),
                0x20000000,
                bytes(32),
                1_700_000_000,
                0x207FFFFF,
                target_of_level(248),
            )
        )
        # Each worker's shares arrive in order (one queue, FIFO per producer): once a worker has
        # sent a share of the new job, it never sends one of the old job again. Worker i rolls
        # extranonces i, i + 2, …, so the extranonce tells whose share it is.
        switched: set[int] = set()

        def both_switched() -> bool:
            for share in hashers.drain_found():
                worker = int.from_bytes(share.extranonce, "little") % 2
                if share.generation == 2:
                    switched.add(worker)
                else:
                    assert worker not in switched, "a worker went back to the old job"
            return switched == {0, 1}

        until(both_switched, "a share of the new job from each worker")
        assert hashers.hashes_done() > 0
    finally:
        hashers.stop()


def _status(pid: int) -> str | None:
    """/proc/PID/status, or None once the process has ended (a zombie has: only its reaping is left)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return None
    return None if "\nState:\tZ" in status else status


def _alive(pid: int) -> bool:
    return _status(pid) is not None


def _ignores_sigint(pid: int) -> bool:
    status = _status(pid)
    assert status is not None, f"process {pid} ended"
    (mask,) = [line.split()[1] for line in status.splitlines() if line.startswith("SigIgn:")]
    return bool(int(mask, 16) & (1 << (signal.SIGINT - 1)))


@pytest.mark.parametrize(
    ("target", "hashes"),
    [(1, 1), (2**248 - 1, 2**20)],
    ids=["no-shares", "shares-fill-the-pipe"],
)
def test_hashers_end_when_their_parent_is_killed(tmp_path: Path, target: int, hashes: int) -> None:
    """A SIGKILLed miner cannot stop its hashing processes; they notice and end on their own.

    With an easy target the found-shares pipe fills up once nobody reads it; a hashing process
    must still exit then (it once hung at exit, waiting to flush that pipe). The parent is killed
    once its hashers have done `hashes`: at level 248, 2^20 hashes are ~4,000 unread shares of
    ~120 bytes, seven times what a 64 KiB pipe holds.
    """
    script = (
        "import sys, time\n"
        "from nutx_cli.miner.hashers import Hashers, HashJob\n"
        "if __name__ == '__main__':\n"
        "    h = Hashers(2)\n"
        f"    h.set_job(HashJob(1, b'x' * 40, b'y' * 30, 8, (), 1, bytes(32), 0, 0x207FFFFF, {target}))\n"
        "    deadline = time.monotonic() + 60\n"
        f"    while h.hashes_done() < {hashes} and time.monotonic() < deadline:\n"
        "        time.sleep(0.01)\n"
        "    print(h.hashes_done(), *h.pids, flush=True)\n"
        "    time.sleep(60)\n"
    )
    path = tmp_path / "parent.py"
    path.write_text(script)
    parent = subprocess.Popen([sys.executable, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        done, *pids = [int(p) for p in parent.stdout.readline().split()]
        assert done >= hashes and len(pids) == 2 and all(_alive(p) for p in pids)
        parent.kill()
        parent.wait(5)
        until(lambda: not any(_alive(p) for p in pids), "the hashing processes to end after their parent")
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait(5)


def test_ctrl_c_on_the_process_group_stops_hashers_without_tracebacks(tmp_path: Path) -> None:
    """A terminal's Ctrl-C signals every process of the group; only the miner reacts (and stops its hashers)."""
    script = (
        "import time\n"
        "from nutx_cli.miner.hashers import Hashers, HashJob\n"
        "if __name__ == '__main__':\n"
        "    h = Hashers(2)\n"
        "    h.set_job(HashJob(1, b'x' * 40, b'y' * 30, 8, (), 1, bytes(32), 0, 0x207FFFFF, 2**248 - 1))\n"
        "    print(*h.pids, flush=True)\n"
        "    try:\n"
        "        time.sleep(60)\n"
        "    except KeyboardInterrupt:\n"
        "        h.stop()\n"
        "        print('stopped', flush=True)\n"
    )
    path = tmp_path / "parent.py"
    path.write_text(script)
    parent = subprocess.Popen(
        [sys.executable, str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert parent.stdout is not None
        pids = [int(p) for p in parent.stdout.readline().split()]
        # a hasher still starting up has not yet set SIGINT aside for its parent to handle
        until(lambda: all(_ignores_sigint(p) for p in pids), "the hashers to ignore SIGINT")
        os.killpg(parent.pid, signal.SIGINT)
        out, err = parent.communicate(timeout=20)
        assert parent.returncode == 0 and "stopped" in out
        assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
        assert not any(_alive(p) for p in pids)
    finally:
        if parent.poll() is None:
            os.killpg(parent.pid, signal.SIGKILL)
            parent.wait(5)
