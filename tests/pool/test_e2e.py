"""End to end: a real `nutx node start` and `nutx pool start`, and a scripted SV2 ecash client.

The client is written here against the SV2 library and the Cashu cores: it blinds its own secrets,
grinds nonces in Python at easy levels (250+), checks every DLEQ and unblinds the signatures.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import httpx
import pytest

from nutx_cli.chain.address import address_to_script
from nutx_cli.chain.hashes import dsha256
from nutx_cli.chain.header import BlockHeader
from nutx_cli.chain.merkle import root_from_path
from nutx_cli.core import bdhke
from nutx_cli.core.targets import nbits_to_target, target_of_difficulty, target_of_level
from nutx_cli.local import read_pool_json
from nutx_cli.mint.store import MintStore
from nutx_cli.node.client import NodeClient
from nutx_cli.pool.template import template_from_gbt
from nutx_cli.sv2.connection import Connection
from nutx_cli.sv2.ecash import (
    ECASH_EXTENSION,
    BlindedMessage,
    EcashKeyset,
    OpenExtendedEcashMiningChannel,
    OpenExtendedEcashMiningChannelSuccess,
    Proof,
    RedeemSharesEcash,
    RedeemSharesEcashError,
    RedeemSharesEcashSuccess,
    SetEcashKeyset,
    SetEcashMint,
    SubmitSharesEcashExtended,
    SubmitSharesEcashExtendedError,
    SubmitSharesEcashExtendedSuccess,
)
from nutx_cli.sv2.errors import ConnectionClosed, Sv2Error
from nutx_cli.sv2.extensions import RequestExtensions, RequestExtensionsError, RequestExtensionsSuccess
from nutx_cli.sv2.jobs import extended_header
from nutx_cli.sv2.messages import (
    Message,
    NewExtendedMiningJob,
    OpenExtendedMiningChannel,
    OpenMiningChannelError,
    SetNewPrevHash,
    SetTarget,
    SetupConnection,
    SetupConnectionError,
    SetupConnectionSuccess,
    UpdateChannel,
    UpdateChannelError,
)
from tests.helpers.procs import NutxProcess, free_port, port_open

pytestmark = pytest.mark.e2e

LEVEL = 250
NETWORK_DIFFICULTY = Fraction(1, 2**22)  # network target ≈ 2^246: one level-250 share in 16 would be a block
K_MAX = 256


# -- processes ----------------------------------------------------------------------------------------------


@dataclass
class Stack:
    tmp: Path
    node: NutxProcess
    node_rpc: str
    pool_args: list[str]
    pool: NutxProcess | None = None
    pool_json: dict[str, Any] = field(default_factory=dict)
    starts: int = 0

    @property
    def rpc(self) -> NodeClient:
        return NodeClient(self.node_rpc)

    def start_pool(self) -> NutxProcess:
        self.starts += 1
        admin = int(self.pool_args[self.pool_args.index("--admin-port") + 1])
        self.pool = NutxProcess(["pool", "start", *self.pool_args], self.tmp / f"pool{self.starts}.log")
        self.pool.wait_until(
            lambda: port_open(admin) and (self.tmp / "pool" / "pool.json").exists(), 60, "listening"
        )
        info = read_pool_json(self.tmp / "pool")
        self.pool_json = info.to_json()
        return self.pool

    @property
    def sv2_port(self) -> int:
        return int(self.pool_json["sv2"].rsplit(":", 1)[1])

    def nutx(self, *args: str) -> str:
        """Run a one-shot `nutx` command (e.g. `regtest generate 1`) against this stack's node."""
        done = subprocess.run(
            [sys.executable, "-m", "nutx_cli", *args], check=False, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    def stats(self) -> dict[str, Any]:
        return dict(httpx.get(self.pool_json["admin"] + "/v1/pool/stats", timeout=10).json())

    def epoch(self, n: int) -> dict[str, Any]:
        return dict(httpx.get(f"{self.pool_json['http']}/v1/mining/epochs/{n}", timeout=10).json())

    def wait_epoch(self, n: int, status: str, timeout: float = 20.0) -> dict[str, Any]:
        import time

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            e = self.epoch(n)
            if e.get("status") == status:
                return e
            time.sleep(0.1)
        raise AssertionError(f"epoch {n} not {status}: {self.epoch(n)}")


@pytest.fixture
def stack(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Stack]:
    """Node + pool on free ports; `@pytest.mark.parametrize("stack", [[extra pool flags]], indirect=True)`."""
    extra: list[str] = getattr(request, "param", [])
    rpc_port = free_port()
    node = NutxProcess(
        ["node", "start", "--data-dir", str(tmp_path / "node"), "--rpc-port", str(rpc_port)],
        tmp_path / "node.log",
    )
    try:
        node.wait_until(lambda: port_open(rpc_port) and (tmp_path / "node" / ".cookie").exists(), 60)
        node_rpc = f"http://{(tmp_path / 'node' / '.cookie').read_text().strip()}@127.0.0.1:{rpc_port}"
        args = [
            "--data-dir",
            str(tmp_path / "pool"),
            "--node-rpc",
            node_rpc,
            "--sv2-port",
            str(free_port()),
            "--http-port",
            str(free_port()),
            "--admin-port",
            str(free_port()),
            "--start-level",
            str(LEVEL),
            "--network-difficulty",
            f"{NETWORK_DIFFICULTY.numerator}/{NETWORK_DIFFICULTY.denominator}",
            "--maturity",
            "2",
            "--shares-per-minute",
            "60000",
            "--max-messages-per-second",  # the scripted clients submit as fast as the pool answers
            "0",
            *extra,
        ]
        s = Stack(tmp_path, node, node_rpc, args)
        s.start_pool()
        try:
            yield s
        finally:
            if s.pool is not None:
                s.pool.stop()
    finally:
        node.stop()


# -- the scripted ecash client -------------------------------------------------------------------------------


@dataclass
class Share:
    message: SubmitSharesEcashExtended
    secret: str
    r: bytes
    hash_int: int


class EcashClient:
    """One SV2 connection with one ecash channel; a reader task sorts what the pool sends."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.jobs: dict[int, tuple[NewExtendedMiningJob, int]] = {}  # job id → (job, level when received)
        self.prev: SetNewPrevHash | None = None
        self.level = 0
        self.keyset: EcashKeyset | None = None
        self.keysets: dict[str, EcashKeyset] = {}
        self.channel_id = 0
        self.prefix = b""
        self.extranonce_size = 0
        self.log: list[Message] = []
        self.answers: dict[int, asyncio.Future[Message]] = {}
        self.changed = asyncio.Event()
        self._seq = 0
        self._reader: asyncio.Task[None] | None = None

    @classmethod
    async def open(
        cls, port: int, authority: str, user: str = "alice", max_target: int = target_of_level(LEVEL)
    ) -> EcashClient:
        """Connect and open a channel; with the pool aiming at 1000 shares/s and `max_target` = T_250
        vardiff holds the channel at level 250, where Python finds a share in ~64 hashes."""
        conn = await Connection.connect("127.0.0.1", port, authority)
        client = cls(conn)
        await conn.send(
            SetupConnection(
                protocol=0,
                min_version=2,
                max_version=2,
                flags=0,
                endpoint_host="127.0.0.1",
                endpoint_port=port,
                vendor="test",
                hardware_version="",
                firmware="",
                device_id="",
            )
        )
        assert isinstance(await conn.recv(), SetupConnectionSuccess)
        await conn.send(RequestExtensions(request_id=1, requested_extensions=[ECASH_EXTENSION]))
        assert isinstance(await conn.recv(), RequestExtensionsSuccess)
        told = await conn.recv()  # then where the mint is
        assert isinstance(told, SetEcashMint) and told.mint_url.startswith("http://127.0.0.1:"), told
        await conn.send(
            OpenExtendedEcashMiningChannel(
                request_id=2,
                user_identity=user,
                nominal_hash_rate=0.0,
                max_target=max_target,
                min_extranonce_size=4,
                unit="ehash",
            )
        )
        ok = await conn.recv()
        assert isinstance(ok, OpenExtendedEcashMiningChannelSuccess), ok
        client.channel_id, client.prefix, client.extranonce_size = (
            ok.channel_id,
            ok.extranonce_prefix,
            ok.extranonce_size,
        )
        client.level = (ok.target + 1).bit_length() - 1
        client._set_keyset(ok.keyset)
        client._reader = asyncio.create_task(client._read())
        await client.wait_for(lambda: client.prev is not None)
        return client

    def _set_keyset(self, keyset: EcashKeyset) -> None:
        self.keyset = keyset
        self.keysets[keyset.keyset_id.hex()] = keyset

    async def _read(self) -> None:
        try:
            await self._read_messages()
        finally:
            for future in self.answers.values():
                if not future.done():
                    future.set_exception(ConnectionClosed("the pool went away"))
            self.answers.clear()
            self.changed.set()

    async def _read_messages(self) -> None:
        async for msg in self.conn:
            self.log.append(msg)
            if isinstance(msg, NewExtendedMiningJob):
                self.jobs[msg.job_id] = (msg, self.level)
            elif isinstance(msg, SetNewPrevHash):
                self.prev = msg
                self.jobs = {msg.job_id: self.jobs[msg.job_id]}
            elif isinstance(msg, SetTarget):
                self.level = (msg.maximum_target + 1).bit_length() - 1
            elif isinstance(msg, SetEcashKeyset):
                self._set_keyset(msg.keyset)
            elif isinstance(msg, (SubmitSharesEcashExtendedSuccess, SubmitSharesEcashExtendedError)):
                future = self.answers.pop(msg.sequence_number, None)
                if future is not None and not future.done():
                    future.set_result(msg)
            elif isinstance(msg, (RedeemSharesEcashSuccess, RedeemSharesEcashError)):
                future = self.answers.pop(-msg.request_id, None)
                if future is not None:
                    future.set_result(msg)
            self.changed.set()

    async def wait_for(self, condition: Any, timeout: float = 20.0) -> None:
        async def loop() -> None:
            while not condition():
                self.changed.clear()
                await self.changed.wait()

        await asyncio.wait_for(loop(), timeout)

    @property
    def job_id(self) -> int:
        return max(self.jobs)

    def make_share(
        self,
        *,
        job_id: int | None = None,
        meet: int | None = None,
        miss: int | None = None,
        avoid_block: bool = True,
        keyset: EcashKeyset | None = None,
        amount: int | None = None,
        secret: str | None = None,
        r: bytes | None = None,
    ) -> Share:
        """Grind a share for a job: its hash meets `meet` (default: the job's level) and misses `miss`."""
        job_id = self.job_id if job_id is None else job_id
        job, level = self.jobs[job_id]
        assert self.prev is not None
        target = target_of_level(level) if meet is None else meet
        block_target = target_of_difficulty(NETWORK_DIFFICULTY)
        keyset = keyset or self.keyset
        assert keyset is not None
        amount = 1 << (K_MAX - level) if amount is None else amount
        secret = secret or secrets.token_hex(32)
        r = r or bdhke_scalar()
        B_ = bdhke.blind(secret, r)
        extranonce = os.urandom(self.extranonce_size)
        for nonce in range(10_000_000):
            self._seq += 1
            msg = SubmitSharesEcashExtended(
                channel_id=self.channel_id,
                sequence_number=self._seq,
                job_id=job_id,
                nonce=nonce,
                ntime=self.prev.min_ntime,
                version=job.version,
                extranonce=extranonce,
                blinded_message=BlindedMessage(amount=amount, keyset_id=keyset.keyset_id, blinded_secret=B_),
            )
            h = int.from_bytes(extended_header(job, self.prev, self.prefix, msg).hash(), "little")
            if h > target or (miss is not None and h <= miss) or (avoid_block and h <= block_target):
                continue
            return Share(msg, secret, r, h)
        raise AssertionError("no nonce found")

    async def submit(self, share: Share | SubmitSharesEcashExtended) -> Message:
        msg = share.message if isinstance(share, Share) else share
        future: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self.answers[msg.sequence_number] = future
        await self.conn.send(msg)
        return await asyncio.wait_for(future, 20)

    def proof(self, share: Share, answer: Message) -> dict[str, Any]:
        """Check the DLEQ against the published key, unblind, and return the Cashu proof JSON."""
        assert isinstance(answer, SubmitSharesEcashExtendedSuccess), answer
        sig = answer.signature
        keyset = self.keysets[sig.keyset_id.hex()]
        K = keyset.key_for(sig.amount)
        assert bdhke.verify_blind_dleq(
            K, share.message.blinded_message.blinded_secret, sig.blinded_signature, sig.dleq_e, sig.dleq_s
        )
        C = bdhke.unblind(sig.blinded_signature, share.r, K)
        return {"amount": sig.amount, "id": sig.keyset_id.hex(), "secret": share.secret, "C": C.hex()}

    async def redeem_sv2(self, proofs: list[dict[str, Any]], outputs: list[BlindedMessage]) -> Message:
        future: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self.answers[-7] = future
        await self.conn.send(
            RedeemSharesEcash(
                request_id=7,
                proofs=[
                    Proof(
                        amount=p["amount"],
                        keyset_id=bytes.fromhex(p["id"]),
                        secret=p["secret"].encode(),
                        signature=bytes.fromhex(p["C"]),
                        witness=b"",
                    )
                    for p in proofs
                ],
                outputs=outputs,
            )
        )
        return await asyncio.wait_for(future, 20)

    async def close(self) -> None:
        await self.conn.close()
        if self._reader is not None:
            self._reader.cancel()


def bdhke_scalar() -> bytes:
    while True:
        r = os.urandom(32)
        if 0 < int.from_bytes(r, "big") < bdhke.CURVE_ORDER:
            return r


def code(answer: Message) -> str:
    assert isinstance(answer, SubmitSharesEcashExtendedError), answer
    return answer.error_code


async def mine_shares(client: EcashClient, n: int) -> list[dict[str, Any]]:
    proofs = []
    for _ in range(n):
        share = client.make_share()
        proofs.append(client.proof(share, await client.submit(share)))
    return proofs


async def load_until_closed(client: EcashClient, received: Counter[str]) -> None:
    """Submit shares as fast as they are answered until the pool goes away; what each signature is worth
    goes into `received` (by keyset id) once it arrived."""
    with contextlib.suppress(Sv2Error, TimeoutError, OSError):
        while True:
            answer = await client.submit(client.make_share())
            if isinstance(answer, SubmitSharesEcashExtendedSuccess):
                received[answer.signature.keyset_id.hex()] += answer.signature.amount


def sat_outputs(http: str, total: int) -> tuple[list[dict[str, Any]], list[tuple[str, bytes, int]]]:
    """Blinded sat outputs worth `total` (binary split) in the mint's active sat keyset."""
    keys = httpx.get(http + "/v1/keys", timeout=10).json()["keysets"][0]
    outputs, blinding = [], []
    for i in range(total.bit_length()):
        if total >> i & 1:
            secret, r = secrets.token_hex(32), bdhke_scalar()
            outputs.append({"amount": 1 << i, "id": keys["id"], "B_": bdhke.blind(secret, r).hex()})
            blinding.append((secret, r, 1 << i))
    return outputs, blinding


def redeem_http(http: str, proofs: list[dict[str, Any]], total: int) -> httpx.Response:
    outputs, _ = sat_outputs(http, total)
    return httpx.post(http + "/v1/mining/redeem", json={"inputs": proofs, "outputs": outputs}, timeout=20)


# -- tests -------------------------------------------------------------------------------------------------


async def test_shares_errors_and_lost_epoch(stack: Stack) -> None:
    client = await EcashClient.open(stack.sv2_port, stack.pool_json["authority_key"])
    try:
        assert client.level == LEVEL and client.keyset is not None and client.keyset.epoch == 1
        proofs = await mine_shares(client, 4)
        assert all(p["amount"] == 64 for p in proofs)

        good = client.make_share()
        assert isinstance(await client.submit(good), SubmitSharesEcashExtendedSuccess)
        again = client.make_share()  # the same header again, with a fresh B_
        dup = replace(
            good.message,
            sequence_number=again.message.sequence_number,
            blinded_message=again.message.blinded_message,
        )
        assert code(await client.submit(dup)) == "duplicate-share"
        assert (
            code(await client.submit(client.make_share(meet=2**256 - 1, miss=target_of_level(LEVEL))))
            == "difficulty-too-low"
        )
        reused = client.make_share(secret=good.secret, r=good.r)  # a new header, an already signed B_
        assert code(await client.submit(reused)) == "blinded-message-reused"
        assert code(await client.submit(client.make_share(amount=32))) == "amount-mismatch"
        foreign = EcashKeyset(
            keyset_id=bytes.fromhex("01" + "ab" * 32),
            unit="ehash",
            epoch=9,
            k_max=256,
            keys=client.keyset.keys,
        )
        assert code(await client.submit(client.make_share(keyset=foreign))) == "unknown-keyset"
        bad_point = client.make_share()
        bad = replace(
            bad_point.message,
            blinded_message=BlindedMessage(
                amount=64, keyset_id=client.keyset.keyset_id, blinded_secret=b"\x02" + b"\xff" * 32
            ),
        )
        assert code(await client.submit(bad)) == "invalid-blinded-message"

        # a plain extended channel's shares are claimed by a key: a user name that is none is refused
        await client.conn.send(
            OpenExtendedMiningChannel(
                request_id=9,
                user_identity="x",
                nominal_hash_rate=0.0,
                max_target=2**256 - 1,
                min_extranonce_size=4,
            )
        )
        await client.wait_for(lambda: any(isinstance(m, OpenMiningChannelError) for m in client.log))
        assert (
            next(m for m in client.log if isinstance(m, OpenMiningChannelError)).error_code
            == "invalid-user-identity"
        )

        stats = stack.stats()
        assert stats["pool"]["channels"] == 1 and stats["pool"]["network"] == "regtest"
        channel = stats["channels"][0]
        assert channel["user"] == "alice" and channel["level"] == LEVEL and channel["accepted"] == 5
        assert channel["rejected"] == {
            "duplicate-share": 1,
            "difficulty-too-low": 1,
            "blinded-message-reused": 1,
            "amount-mismatch": 1,
            "unknown-keyset": 1,
            "invalid-blinded-message": 1,
        }
        assert stats["levels"] == {str(LEVEL): {"channels": 1}}
        assert stats["epoch"]["epoch"] == 1 and stats["epoch"]["work"] == 5 * 64
        assert set(channel["hashrate"]) == {"1m", "5m", "1h", "1d"}

        # someone else finds a block: epoch 1 is lost, the keyset rotates before the new prev hash
        old_job, old_keyset = client.job_id, client.keyset
        stale = client.make_share()
        before = len(client.log)
        await asyncio.to_thread(stack.nutx, "regtest", "generate", "1", "--node-rpc", stack.node_rpc)
        await client.wait_for(lambda: client.keyset is not old_keyset and client.job_id != old_job)
        kinds = [type(m).__name__ for m in client.log[before:]]
        assert kinds.index("SetEcashKeyset") < kinds.index("SetNewPrevHash")
        assert client.keyset.epoch == 2
        assert stack.wait_epoch(1, "lost")["height"] == 1
        assert code(await client.submit(stale)) == "stale-share"
        assert code(await client.submit(client.make_share(keyset=old_keyset))) == "inactive-keyset"
        assert isinstance(await client.submit(client.make_share()), SubmitSharesEcashExtendedSuccess)
        # ehash of a lost epoch is worth nothing
        refused = redeem_http(stack.pool_json["http"], proofs[:1], 1)
        assert refused.status_code == 400 and refused.json()["code"] == 41003
    finally:
        await client.close()


async def test_block_won_mature_redeem_then_reorg_after_maturity(stack: Stack) -> None:
    http = stack.pool_json["http"]
    client = await EcashClient.open(stack.sv2_port, stack.pool_json["authority_key"])
    try:
        proofs = await mine_shares(client, 6)
        block_target = target_of_difficulty(NETWORK_DIFFICULTY)
        block_share = client.make_share(meet=block_target, avoid_block=False)
        proofs.append(
            client.proof(block_share, await client.submit(block_share))
        )  # signed into the epoch it won
        won = stack.wait_epoch(1, "won")
        tip = stack.rpc.getbestblockhash()
        assert won["block_hash"] == tip and won["height"] == 1
        assert won["theta_b"] == 50 * 100_000_000 and won["work"] == 7 * 64
        assert won["price"] == str(Fraction(50 * 100_000_000, 7 * 64))
        await client.wait_for(lambda: client.keyset is not None and client.keyset.epoch == 2)
        assert (
            code(await client.submit(client.make_share(keyset=client.keysets[won["keyset_id"]])))
            == "inactive-keyset"
        )
        early = redeem_http(http, proofs[:1], 1)
        assert early.status_code == 400 and early.json()["code"] == 41001  # not mature yet

        stack.nutx("regtest", "generate", "1", "--node-rpc", stack.node_rpc)
        mature = stack.wait_epoch(1, "mature")
        assert mature["confirmations"] == 2
        price = Fraction(mature["price"])
        value = int(3 * 64 * price)
        paid = redeem_http(http, proofs[:3], value)
        assert paid.status_code == 200, paid.text
        assert sum(s["amount"] for s in paid.json()["signatures"]) == value
        over = redeem_http(http, proofs[3:4], int(64 * price) + 1)
        assert over.status_code == 400 and over.json()["code"] == 41004
        # the same over SV2, with the exact value
        outputs, _ = sat_outputs(http, int(64 * price))
        answer = await client.redeem_sv2(
            proofs[3:4],
            [
                BlindedMessage(
                    amount=o["amount"],
                    keyset_id=bytes.fromhex(o["id"]),
                    blinded_secret=bytes.fromhex(o["B_"]),
                )
                for o in outputs
            ],
        )
        assert isinstance(answer, RedeemSharesEcashSuccess), answer
        assert stack.epoch(1)["paid"] == value + int(64 * price)

        # a reorg after maturity: what was paid stays paid, further redeems are refused
        stack.nutx("regtest", "reorg", "--depth", "2", "--node-rpc", stack.node_rpc)  # our block and the next
        orphaned = stack.wait_epoch(1, "orphaned")
        assert orphaned["paid"] == value + int(64 * price)
        info = stack.nutx("mint", "info", "--data-dir", str(stack.tmp / "pool"))
        assert (
            f"paid out for orphaned epochs {value + int(64 * price)} sat" in info
        )  # shown as the mint's loss
        late = redeem_http(http, proofs[4:5], int(64 * price))
        assert late.status_code == 400 and late.json()["code"] == 41002
        stats = stack.stats()
        assert stats["pool"]["blocks_found"] == 1
        assert (
            stats["blocks"][0]["hash"] == won["block_hash"]
            and stats["blocks"][0]["theta_b"] == won["theta_b"]
        )
        assert [e["epoch"] for e in stats["epochs"]] == sorted(
            (e["epoch"] for e in stats["epochs"]), reverse=True
        )
    finally:
        await client.close()


@pytest.mark.parametrize("stack", [["--maturity", "5"]], indirect=True)
async def test_reorg_before_maturity_orphans_the_epoch(stack: Stack) -> None:
    client = await EcashClient.open(stack.sv2_port, stack.pool_json["authority_key"])
    try:
        proofs = await mine_shares(client, 2)
        block_share = client.make_share(meet=target_of_difficulty(NETWORK_DIFFICULTY), avoid_block=False)
        proofs.append(client.proof(block_share, await client.submit(block_share)))
        assert stack.wait_epoch(1, "won")["confirmations"] == 1
        stack.nutx("regtest", "reorg", "--depth", "1", "--node-rpc", stack.node_rpc)
        stack.wait_epoch(1, "orphaned")
        refused = redeem_http(stack.pool_json["http"], proofs, 1)
        assert refused.status_code == 400 and refused.json()["code"] == 41002
        await client.wait_for(lambda: client.keyset is not None and client.keyset.epoch >= 2)
        assert stack.epoch(2)["status"] == "lost" or stack.epoch(2)["status"] == "open"
    finally:
        await client.close()


async def test_sigkill_under_load_never_loses_the_ledger(stack: Stack) -> None:
    """Five SIGKILLs during share load: W_e == Σ stored share signatures ≥ Σ signatures clients received."""
    received: Counter[str] = Counter()

    for round_ in range(5):
        if round_:
            stack.start_pool()
        clients = [
            await EcashClient.open(stack.sv2_port, stack.pool_json["authority_key"], f"m{i}")
            for i in range(3)
        ]
        tasks = [asyncio.create_task(load_until_closed(c, received)) for c in clients for _ in range(4)]
        await asyncio.sleep(0.7)
        assert stack.pool is not None
        await asyncio.to_thread(stack.pool.stop, signal.SIGKILL)
        await asyncio.gather(*tasks)
        for c in clients:
            await c.close()
        if round_ == 2:  # the chain moves while the pool is down: one close, on restart
            stack.rpc.generatetoaddress(2, "bcrt1qw49pau7kzqzzgspve4rs4nv5s4s3ta5chnrmke")

    stack.start_pool()  # a clean restart resumes the same epoch and keyset
    before = stack.stats()["epoch"]
    assert stack.pool is not None
    stack.pool.stop()
    stack.start_pool()
    after = stack.stats()["epoch"]
    assert (after["epoch"], after["keyset_id"], after["work"]) == (
        before["epoch"],
        before["keyset_id"],
        before["work"],
    )
    epochs = stack.stats()["epochs"]
    stack.pool.stop()
    assert [e["status"] for e in epochs] == [
        "open",
        "lost",
    ]  # two blocks while down: one lost epoch, no empty ones
    assert epochs[1]["height"] == 1

    store = MintStore.in_dir(stack.tmp / "pool")
    try:
        for e in epochs:
            stored = store.share_signature_work(e["keyset_id"])
            ledger = sum(int(a) * n for a, n in store.work_counts(e["epoch"]).items())
            assert ledger == stored >= received[e["keyset_id"]], (e, received)
        assert sum(received.values()) > 0
    finally:
        store.close()


async def test_vardiff_set_target_keeps_in_flight_jobs_at_their_level(stack: Stack) -> None:
    """The pool aims at 1000 shares/s, so a slow Python client is moved to easier levels (stratum.md §6.5.2)."""
    client = await EcashClient.open(stack.sv2_port, stack.pool_json["authority_key"], max_target=2**256 - 1)
    try:
        old_job = client.job_id
        old = client.make_share()
        while not any(isinstance(m, SetTarget) for m in client.log):
            await client.submit(client.make_share())
        await client.wait_for(lambda: client.job_id != old_job)
        assert LEVEL < client.level <= 256
        kinds = [type(m).__name__ for m in client.log]
        assert kinds.index("SetTarget") < len(kinds) - 1 - kinds[::-1].index("NewExtendedMiningJob")
        answer = await client.submit(old)  # sent before the SetTarget: credited at the old level
        assert client.proof(old, answer)["amount"] == 64
        new = client.make_share()
        # credited at the level of its own (newer, easier) job
        assert (
            client.proof(new, await client.submit(new))["amount"] == new.message.blinded_message.amount < 64
        )
        for _ in range(50):  # a last SetTarget may still be on its way to the client
            if stack.stats()["channels"][0]["level"] == client.level:
                break
            await asyncio.sleep(0.1)
        assert stack.stats()["channels"][0]["level"] == client.level
    finally:
        await client.close()


async def test_setup_negotiation_errors_and_garbage(stack: Stack) -> None:
    port, authority = stack.sv2_port, stack.pool_json["authority_key"]

    async def setup(flags: int = 0) -> tuple[Connection, Message]:
        conn = await Connection.connect("127.0.0.1", port, authority)
        await conn.send(
            SetupConnection(
                protocol=0,
                min_version=2,
                max_version=2,
                flags=flags,
                endpoint_host="127.0.0.1",
                endpoint_port=port,
                vendor="t",
                hardware_version="",
                firmware="",
                device_id="",
            )
        )
        return conn, await conn.recv()

    conn, answer = await setup(flags=0b10)  # job declaration is not supported
    assert isinstance(answer, SetupConnectionError) and answer.error_code == "unsupported-feature-flags"
    await conn.close()

    conn, answer = await setup()
    assert isinstance(answer, SetupConnectionSuccess)
    await conn.send(RequestExtensions(request_id=1, requested_extensions=[0x0002]))
    refused = await conn.recv()
    assert isinstance(refused, RequestExtensionsError) and refused.required_extensions == []
    open_msg = OpenExtendedEcashMiningChannel(
        request_id=3,
        user_identity="x",
        nominal_hash_rate=0.0,
        max_target=2**256 - 1,
        min_extranonce_size=4,
        unit="ehash",
    )
    await conn.send(open_msg)  # the extension was not negotiated
    error = await conn.recv()
    assert isinstance(error, OpenMiningChannelError) and error.error_code == "ecash-required"
    await conn.send(RequestExtensions(request_id=2, requested_extensions=[ECASH_EXTENSION]))
    assert isinstance(await conn.recv(), RequestExtensionsSuccess)
    assert isinstance(await conn.recv(), SetEcashMint)
    await conn.send(replace_open(open_msg, min_extranonce_size=9))
    error = await conn.recv()
    assert isinstance(error, OpenMiningChannelError) and error.error_code == "min-extranonce-size-too-large"
    await conn.send(replace_open(open_msg, unit="sat"))
    error = await conn.recv()
    assert isinstance(error, OpenMiningChannelError) and error.error_code == "unsupported-unit"
    await conn.send(
        SubmitSharesEcashExtended(
            channel_id=42,
            sequence_number=5,
            job_id=1,
            nonce=0,
            ntime=0,
            version=0,
            extranonce=bytes(8),
            blinded_message=BlindedMessage(amount=1, keyset_id=bytes(33), blinded_secret=b"\x02" * 33),
        )
    )
    error = await conn.recv()
    assert isinstance(error, SubmitSharesEcashExtendedError) and error.error_code == "invalid-channel-id"
    await conn.close()

    # garbage after the handshake ends that connection only
    conn, _ = await setup()
    conn._writer.write(os.urandom(200))
    with pytest.raises(Sv2Error):
        await asyncio.wait_for(conn.recv(), 10)
    await conn.close()
    client = await EcashClient.open(port, authority)
    try:
        assert len(await mine_shares(client, 1)) == 1
    finally:
        await client.close()


async def test_max_target_zero_is_refused_and_the_connection_lives_on(stack: Stack) -> None:
    """A max_target no level can meet (0) gets the open/update error message, not a dropped connection."""
    client = await EcashClient.open(stack.sv2_port, stack.pool_json["authority_key"])
    try:
        await client.conn.send(
            OpenExtendedEcashMiningChannel(
                request_id=5,
                user_identity="zero",
                nominal_hash_rate=0.0,
                max_target=0,
                min_extranonce_size=4,
                unit="ehash",
            )
        )
        await client.wait_for(lambda: any(isinstance(m, OpenMiningChannelError) for m in client.log))
        refused = next(m for m in client.log if isinstance(m, OpenMiningChannelError))
        assert (refused.request_id, refused.error_code) == (5, "max-target-out-of-range")
        await client.conn.send(
            UpdateChannel(channel_id=client.channel_id, nominal_hash_rate=0.0, maximum_target=0)
        )
        await client.wait_for(lambda: any(isinstance(m, UpdateChannelError) for m in client.log))
        update = next(m for m in client.log if isinstance(m, UpdateChannelError))
        assert (update.channel_id, update.error_code) == (client.channel_id, "max-target-out-of-range")
        assert [p["amount"] for p in await mine_shares(client, 1)] == [64]  # same connection, same channel
        assert stack.stats()["channels"][0]["level"] == LEVEL
    finally:
        await client.close()
    assert stack.pool is not None and "Traceback" not in stack.pool.output()


def replace_open(msg: OpenExtendedEcashMiningChannel, **over: Any) -> OpenExtendedEcashMiningChannel:
    fields = {f: getattr(msg, f) for f in msg.__dataclass_fields__} | over
    return OpenExtendedEcashMiningChannel(**fields)


def test_block_found_while_the_pool_was_down_is_won_on_restart(stack: Stack) -> None:
    """The pool submitted its block and died before it saw the tip change: on restart the epoch is won,
    recognised by the coinbase (the pool's payout script and its /nutx/ tag)."""
    assert stack.pool is not None
    payout = next(
        line.split()[1] for line in stack.pool.output().splitlines() if line.strip().startswith("payout")
    )
    stack.pool.stop(signal.SIGKILL)
    template = template_from_gbt(stack.rpc.getblocktemplate(), 1, address_to_script(payout, "regtest"))
    coinbase = template.coinbase.with_extranonce(bytes(12))
    root = root_from_path(dsha256(coinbase), list(template.merkle_path))
    header = next(
        h
        for nonce in range(1000)
        if (
            h := BlockHeader(
                template.version, template.prev_hash, root, template.curtime, template.bits, nonce
            )
        ).hash()[::-1]
        <= nbits_to_target(template.bits).to_bytes(32, "big")
    )
    assert stack.rpc.submitblock(template.block(header, coinbase)) is None
    stack.start_pool()
    won = stack.epoch(1)
    assert won["status"] == "won" and won["height"] == 1 and won["theta_b"] == template.coinbase_value
    assert won["block_hash"] == stack.rpc.getbestblockhash() == header.hash_hex()
    assert stack.stats()["epoch"]["epoch"] == 2


async def test_admin_events_stream(stack: Stack) -> None:
    import websockets

    url = stack.pool_json["admin"].replace("http://", "ws://") + "/v1/pool/events"
    async with websockets.connect(url) as ws:
        client = await EcashClient.open(stack.sv2_port, stack.pool_json["authority_key"], "bob")
        try:
            await mine_shares(client, 1)
            assert code(await client.submit(client.make_share(amount=1))) == "amount-mismatch"
            events = [json.loads(await asyncio.wait_for(ws.recv(), 10)) for _ in range(3)]
        finally:
            await client.close()
    assert events[0]["type"] == "channel" and events[0]["user"] == "bob" and events[0]["level"] == LEVEL
    assert {k: events[1][k] for k in ("type", "level", "amount", "accepted", "reason")} == {
        "type": "share",
        "level": LEVEL,
        "amount": 64,
        "accepted": True,
        "reason": None,
    }
    assert events[2]["accepted"] is False and events[2]["reason"] == "amount-mismatch"
    assert events[1]["channel"] == events[0]["id"]


def replace(msg: SubmitSharesEcashExtended, **over: Any) -> SubmitSharesEcashExtended:
    fields = {f: getattr(msg, f) for f in msg.__dataclass_fields__} | over
    return SubmitSharesEcashExtended(**fields)
