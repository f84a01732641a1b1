"""End to end, claimed ehash (issue 13): real `nutx node start` and `nutx pool start --sv1-port` processes.

- SV1 miners written in the tests (`tests.helpers.sv1_miner`, no nutx code) mine straight to the pool's SV1
  port under wallets' pubkeys; the pool wins the epoch; `nutx wallet claim` then `redeem` pays
  floor(work × price); a second claim gets nothing; 50 concurrent claims of one (pubkey, epoch): exactly
  one pays; a lost epoch's claim is worth nothing; a clean shutdown tells the miner `client.reconnect`.
- SIGKILL of the pool under SV1 load loses no acknowledged work: claimed ≥ Σ acknowledged, and
  W_e == Σ signed + Σ claimed.
- Standard SV2: a plain extended channel opened with the project's SV2 client code (no extension) gets
  jobs and core SubmitShares.Success; a standard channel of a REQUIRES_STANDARD_JOBS connection gets
  NewMiningJob and its shares are credited.
- `nutx mine --cpu --pool H:P --authority-key K` (no --mint, no pool.json) and `nutx mine --cpu --claim` on
  the same pool: each wallet finds the mint the pool names, `nutx wallet redeem` goes over SV2, and every
  mature epoch's work is exactly the first wallet's ehash plus the second's claim.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path
from typing import Any

import httpx
import pytest

from nutx_cli.chain.header import BlockHeader
from nutx_cli.core import bdhke
from nutx_cli.core.accounting import parse_price, redeem_value
from nutx_cli.core.claims import claim_amounts, claim_pubkey, sign_claim
from nutx_cli.core.models import BlindedMessage
from nutx_cli.core.targets import target_of_difficulty, target_of_level
from nutx_cli.local import read_pool_json
from nutx_cli.miner.channel import EcashChannel
from nutx_cli.mint.store import MintStore
from nutx_cli.sv2.connection import Connection
from nutx_cli.sv2.jobs import extended_header, hash_value
from nutx_cli.sv2.messages import (
    REQUIRES_STANDARD_JOBS,
    NewMiningJob,
    OpenExtendedMiningChannel,
    OpenMiningChannelError,
    OpenStandardMiningChannel,
    OpenStandardMiningChannelSuccess,
    SetNewPrevHash,
    SetupConnection,
    SetupConnectionSuccess,
    SubmitSharesError,
    SubmitSharesExtended,
    SubmitSharesStandard,
    SubmitSharesSuccess,
)
from nutx_cli.wallet import Wallet
from tests.helpers.mint import random_r
from tests.helpers.procs import NutxProcess, free_port, nutx_process, port_open
from tests.helpers.stack import Stack, node
from tests.helpers.sv1_miner import DIFF1, Sv1Miner, mine_one

pytestmark = pytest.mark.e2e

LEVEL = 250  # a share is worth 2^(256-250) = 64 ehash and takes ~64 hashes in Python
NETWORK = Fraction(1, 2**22)  # network target ≈ 2^246: one level-250 share in 16 would be a block
THETA = 50 * 100_000_000


def nutx(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nutx_cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "HOME": str(home)},
    )


def ok(home: Path, *args: str) -> str:
    done = nutx(home, *args)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stdout + done.stderr
    return done.stdout + done.stderr


@contextmanager
def sv1_pool(stack: Stack, sv1: int, *flags: str) -> Iterator[NutxProcess]:
    with nutx_process(
        stack.pool_args("--sv1-port", str(sv1), *flags),
        stack.tmp / "pool.log",
        env=stack.env,
        ready=lambda: (stack.pool_dir / "pool.json").exists() and port_open(stack.admin) and port_open(sv1),
    ) as pool:
        yield pool


def epoch(stack: Stack, n: int) -> dict[str, Any]:
    return dict(httpx.get(f"{stack.mint_url}/v1/mining/epochs/{n}", timeout=10).json())


def wait_epoch(stack: Stack, n: int, status: str) -> dict[str, Any]:
    for _ in range(400):
        e = epoch(stack, n)
        if e["status"] == status:
            return e
        threading.Event().wait(0.05)
    raise AssertionError(f"epoch {n} never {status}: {epoch(stack, n)}")


def claims(stack: Stack, pubkey: str) -> list[dict[str, Any]]:
    return list(httpx.get(f"{stack.mint_url}/v1/mining/claims/{pubkey}", timeout=10).json()["claims"])


def claim_body(stack: Stack, secret: bytes, n: int, amount: int) -> dict[str, Any]:
    """A claim request by the test's own key, with fresh blinded outputs in the epoch's keyset."""
    keyset = epoch(stack, n)["keyset_id"]
    outputs = [
        {"amount": a, "id": keyset, "B_": bdhke.blind(secrets.token_hex(32), random_r()).hex()}
        for a in claim_amounts(amount)
    ]
    signature = sign_claim(secret, n, [BlindedMessage.from_json(o) for o in outputs])
    return {"pubkey": claim_pubkey(secret), "epoch": n, "outputs": outputs, "signature": signature}


class Worker:
    """One SV1 connection subscribed, suggesting difficulty 2^(224 - level), and authorized as `users`."""

    def __init__(self, port: int, users: list[str], level: int = LEVEL) -> None:
        self.miner = Sv1Miner(port)
        configured = self.miner.call(
            "mining.configure", [["version-rolling"], {"version-rolling.mask": "1fffe000"}]
        )
        assert configured["result"]["version-rolling"] is True
        _, self.extranonce1, self.size = self.miner.call("mining.subscribe", ["test-miner/1.0"])["result"]
        assert self.miner.call("mining.suggest_difficulty", [2.0 ** (224 - level)])["result"] is True
        for user in users:
            assert self.miner.call("mining.authorize", [user, "x"])["result"] is True, user
        difficulty = self.miner.notification("mining.set_difficulty")["params"][0]
        assert difficulty == 2.0 ** (224 - level)  # a power of two: the level's difficulty exactly
        self.target = int(DIFF1 / Fraction(difficulty))
        assert self.target <= target_of_level(level)  # every share the miner sends is valid at the level
        self.notify = self.miner.notification("mining.notify")["params"]
        self.counter = 0
        self.last: list[str] = []

    def share(self, user: str, *, target: int | None = None, miss: int | None = None) -> dict[str, Any]:
        self.counter += 1
        self.last = mine_one(
            self.notify, self.extranonce1, self.size, target or self.target, self.counter, miss=miss
        )
        return self.miner.call("mining.submit", [user, *self.last])

    def next_tip(self) -> None:
        self.notify, _ = self.miner.next_clean_job(self.notify[1], 0.0)


def test_sv1_miners_straight_to_the_pool_claim_then_redeem(tmp_path: Path) -> None:
    home = tmp_path / "home"
    sv1 = free_port()
    block = target_of_difficulty(NETWORK)
    with node(tmp_path, env={"HOME": str(home)}) as stack:
        pool_flags = ("--start-level", str(LEVEL), "--network-difficulty", "1/4194304", "--maturity", "2")
        with sv1_pool(stack, sv1, *pool_flags, "--shares-per-minute", "60000") as pool:
            wallets = {name: tmp_path / name for name in ("alice", "bob")}
            keys = {
                name: ok(home, "wallet", "pubkey", "--wallet-dir", str(d), "--mint", stack.mint_url).strip()
                for name, d in wallets.items()
            }
            carol = secrets.token_bytes(32)  # the test's own key, for requests it signs itself
            keys["carol"] = claim_pubkey(carol)
            users = {name: f"{key}.rig-{name}" for name, key in keys.items()}

            refused = Sv1Miner(sv1)
            try:
                refused.call("mining.subscribe", [])
                answer = refused.call("mining.authorize", ["alice.rig1", "x"])
                assert answer["error"][0] == 24 and "nutx wallet pubkey" in answer["error"][1]
            finally:
                refused.close()

            worker = Worker(sv1, list(users.values()))
            try:
                acked: Counter[str] = Counter()
                for name, n in (("alice", 6), ("bob", 5), ("carol", 3)):
                    for _ in range(n):
                        assert worker.share(users[name], miss=block)["result"] is True
                        acked[name] += 64
                duplicate = worker.miner.call("mining.submit", [users["carol"], *worker.last])
                assert duplicate["error"][0] == 22  # the same share again
                assert [
                    (c["epoch"], c["amount"], c["status"], c["paid"]) for c in claims(stack, keys["alice"])
                ] == [(1, 384, "open", False)]
                assert "nothing to claim" in ok(
                    home, "wallet", "claim", "--wallet-dir", str(wallets["alice"])
                )

                assert (
                    worker.share(users["alice"], target=block)["result"] is True
                )  # a block: credited in epoch 1
                acked["alice"] += 64
                won = wait_epoch(stack, 1, "won")
                assert won["work"] == sum(acked.values()) == 960 and won["theta_b"] == THETA
                worker.next_tip()  # a clean job on the new tip
                assert worker.share(users["carol"], miss=block)["result"] is True  # epoch 2's, soon lost
                ok(home, "regtest", "generate", "1", "--node-rpc", stack.node_rpc)  # matures 1, loses 2
                wait_epoch(stack, 1, "mature")
                wait_epoch(stack, 2, "lost")

                lost = httpx.post(
                    f"{stack.mint_url}/v1/mining/claim", json=claim_body(stack, carol, 2, 64), timeout=10
                )
                assert lost.status_code == 400 and lost.json()["code"] == 41003  # epoch-lost: worth nothing

                async def fifty() -> list[httpx.Response]:
                    async with httpx.AsyncClient(timeout=30) as client:
                        bodies = [claim_body(stack, carol, 1, acked["carol"]) for _ in range(50)]
                        return await asyncio.gather(
                            *(client.post(f"{stack.mint_url}/v1/mining/claim", json=b) for b in bodies)
                        )

                answers = asyncio.run(fifty())
                paid = [a for a in answers if a.status_code == 200]
                assert len(paid) == 1 and sum(s["amount"] for s in paid[0].json()["signatures"]) == 192
                assert {(a.status_code, a.json()["code"]) for a in answers if a not in paid} == {(400, 41019)}

                price = Fraction(epoch(stack, 1)["price"])
                assert price == Fraction(THETA, 960)
                for name, held in (("alice", 448), ("bob", 320)):
                    wallet_dir = str(wallets[name])
                    assert f"claimed: {held} ehash of epoch 1" in ok(
                        home, "wallet", "claim", "--wallet-dir", wallet_dir
                    )
                    assert "nothing to claim" in ok(
                        home, "wallet", "claim", "--wallet-dir", wallet_dir
                    )  # paid once
                    redeemed = ok(home, "wallet", "redeem", "--wallet-dir", wallet_dir)
                    assert f"redeemed: +{redeem_value([held], price)} sats" in redeemed, redeemed
                assert epoch(stack, 1)["paid"] == redeem_value([448], price) + redeem_value([320], price)

                assert pool.stop() == 0  # a clean shutdown: the miner is told to come back
                reconnect = worker.miner.notification("client.reconnect")
                assert reconnect["params"] == ["127.0.0.1", sv1, 5]
            finally:
                worker.miner.close()


def test_sigkill_under_sv1_load_loses_no_acknowledged_work(tmp_path: Path) -> None:
    """Three SIGKILLs while four SV1 connections submit level-256 shares: every share answered `true` is in
    its key's claim, and W_e == Σ share signatures + Σ claims."""
    sv1 = free_port()
    keys = [claim_pubkey(secrets.token_bytes(32)) for _ in range(4)]
    acked: Counter[str] = Counter()
    with node(tmp_path) as stack:
        flags = ("--start-level", "256", "--network-difficulty", "1", "--shares-per-minute", "60000")
        for round_ in range(3):
            with sv1_pool(stack, sv1, *flags) as pool:
                stop = threading.Event()

                def load(key: str, stop: threading.Event = stop) -> None:
                    try:
                        worker = Worker(sv1, [f"{key}.w"], level=256)
                        while not stop.is_set():
                            if worker.share(f"{key}.w").get("result") is True:
                                acked[key] += 1
                    except (OSError, AssertionError, ValueError):  # the pool was killed mid-answer
                        return

                threads = [threading.Thread(target=load, args=(k,)) for k in keys]
                for t in threads:
                    t.start()
                before = sum(acked.values())
                deadline = threading.Event()
                for _ in range(200):  # until this round acknowledged some work
                    if sum(acked.values()) - before >= 40:
                        break
                    deadline.wait(0.05)
                pool.stop(signal.SIGKILL)
                stop.set()
                for t in threads:
                    t.join(30)
        assert sum(acked.values()) >= 120
        with sv1_pool(stack, sv1, *flags):
            for key in keys:
                (claim,) = claims(stack, key)
                assert claim["epoch"] == 1 and claim["amount"] >= acked[key], (key, claim, acked[key])
            work = epoch(stack, 1)["work"]
        store = MintStore.in_dir(stack.pool_dir)
        try:
            keyset = epoch_keyset(store)
            claimed = store.claimed_work(1)
            assert claimed == sum(
                sum(a * n for a, n in r.work_by_amount.items()) for k in keys for r in store.claims_of(k)
            )
            assert work == store.share_signature_work(keyset) + claimed  # no ecash channel: all of it claimed
            assert claimed >= sum(acked.values())
        finally:
            store.close()


def epoch_keyset(store: MintStore) -> str:
    row = store.epoch_row(1)
    assert row is not None
    return row.keyset_id


def grind(
    job: Any, prev: SetNewPrevHash, prefix: bytes, target: int, *, miss: bool = False
) -> SubmitSharesExtended:
    for nonce in range(1_000_000):
        share = SubmitSharesExtended(0, 0, job.job_id, nonce, prev.min_ntime, job.version, bytes(8))
        if (hash_value(extended_header(job, prev, prefix, share)) <= target) != miss:
            return share
    raise AssertionError("no nonce found")


async def test_standard_sv2_channels_get_jobs_and_core_successes(tmp_path: Path) -> None:
    pubkey = claim_pubkey(secrets.token_bytes(32))
    with node(tmp_path) as stack:
        pool_flags = (
            "--start-level",
            str(LEVEL),
            "--network-difficulty",
            "1",
            "--shares-per-minute",
            "60000",
        )
        with stack.pool(*pool_flags):
            info = read_pool_json(stack.pool_dir)
            # a plain extended channel, opened by the project's SV2 client code without the extension
            channel = await EcashChannel.open(
                "127.0.0.1",
                stack.sv2,
                info.authority_key,
                user=f"{pubkey}.ext",
                max_target=target_of_level(LEVEL),
                claim=True,
                ecash_extension=False,
            )
            try:
                assert channel.keyset is None and channel.mint_url is None  # no extension, nothing told
                work = await channel.wait_for_work(20)
                assert work.target == target_of_level(LEVEL) and work.extranonce_size == 8
                good = grind(work.job, work.prev, work.extranonce_prefix, work.target)
                answer = await channel.submit_claim(
                    work, nonce=good.nonce, ntime=good.ntime, version=good.version, extranonce=good.extranonce
                )
                assert isinstance(answer, SubmitSharesSuccess)
                assert (answer.new_submits_accepted_count, answer.new_shares_sum) == (1, 64)
                bad = grind(work.job, work.prev, work.extranonce_prefix, work.target, miss=True)
                refused = await channel.submit_claim(
                    work, nonce=bad.nonce, ntime=bad.ntime, version=bad.version, extranonce=bad.extranonce
                )
                assert isinstance(refused, SubmitSharesError) and refused.error_code == "difficulty-too-low"
            finally:
                await channel.close()

            # a device that can only take standard jobs: NewMiningJob with the merkle root made for it
            conn = await Connection.connect("127.0.0.1", stack.sv2, info.authority_key)
            try:
                await conn.send(
                    SetupConnection(
                        0, 2, 2, REQUIRES_STANDARD_JOBS, "127.0.0.1", stack.sv2, "dev", "", "", ""
                    )
                )
                assert isinstance(await conn.recv(), SetupConnectionSuccess)
                await conn.send(OpenExtendedMiningChannel(1, f"{pubkey}.dev", 0.0, target_of_level(LEVEL), 4))
                no = await conn.recv()
                assert isinstance(no, OpenMiningChannelError)
                assert no.error_code == "extended-channels-not-supported-for-standard-jobs"
                await conn.send(OpenStandardMiningChannel(2, f"{pubkey}.dev", 0.0, target_of_level(LEVEL)))
                opened = await conn.recv()
                assert (
                    isinstance(opened, OpenStandardMiningChannelSuccess)
                    and len(opened.extranonce_prefix) == 12
                )
                new_job, prev = await conn.recv(), await conn.recv()
                assert isinstance(new_job, NewMiningJob) and new_job.min_ntime is None
                assert isinstance(prev, SetNewPrevHash) and prev.job_id == new_job.job_id
                for nonce in range(1_000_000):
                    header = BlockHeader(
                        new_job.version,
                        prev.prev_hash,
                        new_job.merkle_root,
                        prev.min_ntime,
                        prev.nbits,
                        nonce,
                    )
                    if hash_value(header) <= opened.target:
                        break
                await conn.send(
                    SubmitSharesStandard(
                        opened.channel_id, 9, new_job.job_id, nonce, prev.min_ntime, new_job.version
                    )
                )
                success = await conn.recv()
                assert success == SubmitSharesSuccess(opened.channel_id, 9, 1, 64)
            finally:
                await conn.close()
            assert [(c["epoch"], c["amount"]) for c in claims(stack, pubkey)] == [(1, 128)]


def test_cpu_miners_find_their_mint_and_redeem_over_sv2_one_by_ecash_one_by_claims(tmp_path: Path) -> None:
    home = tmp_path / "home"  # no pool.json here: the miners get the pool by flags, the mint from the pool
    signed, claimed = tmp_path / "signed", tmp_path / "claimed"
    flags = ("--start-level", "240", "--network-difficulty", "1/4096", "--maturity", "2")
    with node(tmp_path) as stack, stack.pool(*flags):
        key = read_pool_json(stack.pool_dir).authority_key
        address = ("--pool", f"127.0.0.1:{stack.sv2}", "--authority-key", key)
        miners = [
            NutxProcess(
                ["mine", "--cpu", "--threads", "1", "--wallet-dir", str(signed), *address],
                tmp_path / "m1.log",
                {"HOME": str(home)},
            ),
            NutxProcess(
                ["mine", "--cpu", "--claim", "--threads", "1", "--wallet-dir", str(claimed), *address],
                tmp_path / "m2.log",
                {"HOME": str(home)},
            ),
        ]
        try:
            pubkey = ok(home, "wallet", "pubkey", "--wallet-dir", str(claimed)).strip()

            def mature_with_both() -> bool:
                for e in httpx.get(f"{stack.mint_url}/v1/mining/epochs", timeout=10).json()["epochs"]:
                    mine = [c for c in claims(stack, pubkey) if c["epoch"] == e["epoch"]]
                    if e["status"] == "mature" and mine and 0 < mine[0]["amount"] < e["work"]:
                        return True
                return False

            miners[1].wait_until(mature_with_both, 120, "done (a mature epoch with both miners' work)")
        finally:
            for m in miners:
                m.stop()
        epochs = {
            e["epoch"]: e
            for e in httpx.get(f"{stack.mint_url}/v1/mining/epochs", timeout=10).json()["epochs"]
        }
        ok(home, "wallet", "balance", "--wallet-dir", str(signed))  # settles shares left pending by the stop
        held = ehash(signed)
        by_claim = {c["epoch"]: c["amount"] for c in claims(stack, pubkey)}
        mature = {n: e for n, e in epochs.items() if e["status"] == "mature"}
        for n, e in mature.items():  # every unit of work: the first wallet's ehash or the second's claim
            assert held.get(n, 0) + by_claim.get(n, 0) == e["work"], (n, e, held, by_claim)
        expected_signed = sum(
            redeem_value([held[n]], parse_price(e["price"]) or Fraction(0))
            for n, e in mature.items()
            if held.get(n)
        )
        out = ok(home, "--log-level", "info", "wallet", "redeem", "--wallet-dir", str(signed))
        assert f"redeemed: +{expected_signed} sats" in out and "over SV2" in out, out
        expected_claimed = sum(
            redeem_value([by_claim[n]], parse_price(e["price"]) or Fraction(0))
            for n, e in mature.items()
            if by_claim.get(n)
        )
        assert "claimed:" in ok(home, "wallet", "claim", "--wallet-dir", str(claimed))
        out = ok(home, "--log-level", "info", "wallet", "redeem", "--wallet-dir", str(claimed))
        assert f"redeemed: +{expected_claimed} sats" in out and "over SV2" in out, out


def ehash(wallet_dir: Path) -> dict[int, int]:
    wallet = Wallet.open(wallet_dir)
    try:
        return wallet.balance().ehash_by_epoch
    finally:
        wallet.close()
