"""The pool service in-process: a real node process and a real mint, a miner connection in memory.

`Pool.handle_connection` runs as it does behind the SV2 listener, without the socket and Noise: what
is tested is the pump (session actions performed), the share in flight with the epoch's header-hash
bookkeeping, and a block-finding share signed into the epoch it wins.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import replace
from fractions import Fraction
from pathlib import Path
from typing import TypeVar

import pytest
from coincurve import PrivateKey

from nutx_cli.core import bdhke
from nutx_cli.core.keysets import amount_split
from nutx_cli.core.targets import U256_MAX
from nutx_cli.core.vardiff import VardiffConfig
from nutx_cli.mint import Mint
from nutx_cli.node.client import NodeClient
from nutx_cli.pool.service import Pool
from nutx_cli.pool.settings import PoolSettings
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
    SubmitSharesEcashExtended,
    SubmitSharesEcashExtendedError,
    SubmitSharesEcashExtendedSuccess,
)
from nutx_cli.sv2.extensions import RequestExtensions
from nutx_cli.sv2.jobs import extended_header
from nutx_cli.sv2.messages import (
    Message,
    NewExtendedMiningJob,
    SetNewPrevHash,
    SetupConnection,
    SetupConnectionSuccess,
)
from nutx_cli.tui.stats import parse_stats
from tests.helpers.locks import locked_secret, pub, witness
from tests.helpers.mint import outputs, random_r
from tests.helpers.node import PAYOUT, running_node

M = TypeVar("M", bound=Message)
HARD = Fraction(1)  # network target 2^224: a level-256 share is a block once in 2^32
EASY = Fraction(1, 2**40)  # network target = regtest's nBits target: every other share is a block


class MemoryConnection:
    """A miner connection without a socket: the test queues messages, the pool's answers pile up."""

    peer = "memory"

    def __init__(self) -> None:
        self.sent: list[Message] = []
        self.closed = False
        self._inbox: asyncio.Queue[Message | None] = asyncio.Queue()
        self._arrived = asyncio.Event()

    def put(self, *messages: Message) -> None:
        for message in messages:
            self._inbox.put_nowait(message)

    def hang_up(self) -> None:
        self._inbox.put_nowait(None)

    async def send(self, message: Message) -> None:
        self.send_nowait(message)

    def send_nowait(self, message: Message) -> None:
        self.sent.append(message)
        self._arrived.set()

    def send_many_nowait(self, messages: list[Message]) -> None:
        self.sent.extend(messages)
        self._arrived.set()

    async def __aiter__(self) -> AsyncIterator[Message]:
        while (message := await self._inbox.get()) is not None:
            yield message

    async def wait_for(self, kind: type[M], where: Callable[[M], bool] = lambda m: True) -> M:
        """The first message of `kind` sent so far that satisfies `where` (waiting for it)."""

        async def find() -> M:
            while True:
                for message in self.sent:
                    if isinstance(message, kind) and where(message):
                        return message
                self._arrived.clear()
                await self._arrived.wait()

        return await asyncio.wait_for(find(), 20)


class Miner:
    """The miner's side of one ecash channel over a `MemoryConnection`."""

    def __init__(
        self, conn: MemoryConnection, opened: OpenExtendedEcashMiningChannelSuccess, network_target: int
    ) -> None:
        self.conn = conn
        self.opened = opened
        self.network_target = network_target
        self._seq = 0

    @property
    def keyset(self) -> EcashKeyset:
        announced = [m.keyset for m in self.conn.sent if isinstance(m, SetEcashKeyset)]
        return announced[-1] if announced else self.opened.keyset

    def work(self) -> tuple[NewExtendedMiningJob, SetNewPrevHash]:
        prev = [m for m in self.conn.sent if isinstance(m, SetNewPrevHash)][-1]
        job = next(
            m for m in self.conn.sent if isinstance(m, NewExtendedMiningJob) and m.job_id == prev.job_id
        )
        return job, prev

    def share(self, B_: bytes, *, block: bool = False, nonce: int = 0) -> SubmitSharesEcashExtended:
        """A level-256 share from `nonce` on (every hash is one); `block` picks a (non-)block hash."""
        job, prev = self.work()
        for n in range(nonce, nonce + 10_000):
            self._seq += 1
            message = SubmitSharesEcashExtended(
                channel_id=self.opened.channel_id,
                sequence_number=self._seq,
                job_id=job.job_id,
                nonce=n,
                ntime=prev.min_ntime,
                version=job.version,
                extranonce=bytes(self.opened.extranonce_size),
                blinded_message=BlindedMessage(amount=1, keyset_id=self.keyset.keyset_id, blinded_secret=B_),
            )
            header = extended_header(job, prev, self.opened.extranonce_prefix, message)
            if (int.from_bytes(header.hash(), "little") <= self.network_target) == block:
                return message
        raise AssertionError("no nonce found")

    async def submit(self, share: SubmitSharesEcashExtended) -> Message:
        self.conn.put(share)
        return await self.conn.wait_for(
            Message,
            lambda m: (
                isinstance(m, (SubmitSharesEcashExtendedSuccess, SubmitSharesEcashExtendedError))
                and m.sequence_number == share.sequence_number
            ),
        )


def blinded() -> bytes:
    """A fresh B_ (the test never unblinds: the DLEQ is what it checks)."""
    return bdhke.blind(secrets.token_hex(32), random_r())


def verified(answer: Message, B_: bytes, keyset: EcashKeyset) -> None:
    assert isinstance(answer, SubmitSharesEcashExtendedSuccess), answer
    sig = answer.signature
    assert bdhke.verify_blind_dleq(keyset.key_for(1), B_, sig.blinded_signature, sig.dleq_e, sig.dleq_s)


def code(answer: Message) -> str:
    assert isinstance(answer, SubmitSharesEcashExtendedError), answer
    return answer.error_code


@pytest.fixture
def node(tmp_path: Path) -> Iterator[NodeClient]:
    with running_node(tmp_path / "node", tmp_path / "node.log") as (_, client, _):
        yield client


@pytest.fixture
async def started(tmp_path: Path, node: NodeClient, request: pytest.FixtureRequest) -> AsyncIterator[Pool]:
    """A pool on the node at level 256 (every hash a share); `network_difficulty` from the param."""
    mint = Mint.open(tmp_path / "pool")
    settings = PoolSettings(
        network="regtest",
        payout_script=PAYOUT,
        network_difficulty=getattr(request, "param", HARD),
        maturity=2,
        vardiff=VardiffConfig(k_max=mint.k_max, shares_per_minute=60_000.0, start_level=256),
    )
    try:
        pool = await Pool.start(mint, node, settings)
        yield pool
        await pool.shares.wait()
    finally:
        mint.close()


async def connect(pool: Pool) -> tuple[Miner, asyncio.Task[None]]:
    conn = MemoryConnection()
    pump = asyncio.create_task(pool.handle_connection(conn))
    conn.put(
        SetupConnection(0, 2, 2, 0, "127.0.0.1", 34254, "test", "", "", ""),
        RequestExtensions(request_id=1, requested_extensions=[ECASH_EXTENSION]),
        OpenExtendedEcashMiningChannel(2, "alice", 0.0, U256_MAX, 4, "ehash"),
    )
    await conn.wait_for(SetupConnectionSuccess)
    opened = await conn.wait_for(OpenExtendedEcashMiningChannelSuccess)
    await conn.wait_for(SetNewPrevHash)
    return Miner(conn, opened, pool.current.template.network_target), pump


async def test_a_share_is_signed_once_and_the_channel_goes_with_its_connection(started: Pool) -> None:
    miner, pump = await connect(started)
    assert miner.opened.channel_id == 2 and len(started.channels) == 1
    B_ = blinded()
    share = miner.share(B_)
    verified(await miner.submit(share), B_, miner.keyset)
    again = replace(share, sequence_number=999)
    assert code(await miner.submit(again)) == "duplicate-share"
    assert started.mint.epoch(1).work == 1
    stats = parse_stats(json.loads(json.dumps(started.stats_json())))  # what the TUI reads
    assert [(c.id, c.user, c.accepted, c.rejected) for c in stats.channels] == [
        ("1", "alice", 1, {"duplicate-share": 1})
    ]
    assert stats.epoch is not None and (stats.epoch.epoch, stats.epoch.work) == (1, 1)
    miner.conn.hang_up()
    await pump
    assert len(started.channels) == 0


async def test_a_share_the_mint_refuses_may_be_sent_again(started: Pool) -> None:
    """Its header hash is released: not a point, a B_ signed before, then the same header is accepted."""
    miner, pump = await connect(started)
    signed_before = blinded()
    verified(await miner.submit(miner.share(signed_before, nonce=0)), signed_before, miner.keyset)
    retry = miner.share(b"\x02" + bytes(32), nonce=1)  # x = 0 is not on the curve
    assert code(await miner.submit(retry)) == "invalid-blinded-message"
    reused = replace(
        retry, sequence_number=1001, blinded_message=BlindedMessage(1, miner.keyset.keyset_id, signed_before)
    )
    assert code(await miner.submit(reused)) == "blinded-message-reused"
    fresh = blinded()
    accepted = replace(
        retry, sequence_number=1002, blinded_message=BlindedMessage(1, miner.keyset.keyset_id, fresh)
    )
    verified(await miner.submit(accepted), fresh, miner.keyset)
    assert started.mint.epoch(1).work == 2
    miner.conn.hang_up()
    await pump


@pytest.mark.parametrize("started", [EASY], indirect=True)
async def test_a_block_share_is_signed_into_the_epoch_it_wins(started: Pool) -> None:
    miner, pump = await connect(started)
    B_ = blinded()
    block_share = miner.share(B_, block=True)
    verified(await miner.submit(block_share), B_, miner.keyset)
    assert started.mint.epoch(1).work == 1  # durable in epoch 1 before anything moved
    await started.tip_watch.on_tip_change()
    won = started.mint.epoch(1)
    assert (won.status, won.height, started.current.number) == ("won", 1, 2)
    new_keyset = await miner.conn.wait_for(SetEcashKeyset)
    tail = miner.conn.sent[miner.conn.sent.index(new_keyset) :]
    assert [type(m) for m in tail] == [SetEcashKeyset, NewExtendedMiningJob, SetNewPrevHash]
    assert new_keyset.keyset.epoch == 2
    stale = replace(block_share, sequence_number=2000)
    assert code(await miner.submit(stale)) == "stale-share"  # its job went with epoch 1
    miner.conn.hang_up()
    await pump


@pytest.mark.parametrize("started", [EASY], indirect=True)
async def test_a_locked_share_is_redeemed_over_sv2_only_with_its_witness(
    started: Pool, node: NodeClient
) -> None:
    """RedeemSharesEcash goes through the mint's input checks: ehash locked to the miner's key (P2PK) is refused
    without the key's signature (`proof-invalid`) and paid with it."""
    miner, pump = await connect(started)
    owner = PrivateKey()
    secret = locked_secret("P2PK", pub(owner))
    r = random_r()
    answer = await miner.submit(miner.share(bdhke.blind(secret, r), block=True))
    assert isinstance(answer, SubmitSharesEcashExtendedSuccess), answer
    keyset = miner.keyset
    C = bdhke.unblind(answer.signature.blinded_signature, r, keyset.key_for(1))
    await started.tip_watch.on_tip_change()
    await asyncio.to_thread(node.generatetoaddress, 1, "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080")
    await started.tip_watch.on_tip_change()
    epoch = started.mint.epoch(1)
    assert epoch.status == "mature" and epoch.theta_c is not None
    sats = outputs(started.mint.sat_keyset.id, amount_split(epoch.theta_c)).messages
    sv2_outputs = [BlindedMessage(o.amount, bytes.fromhex(o.id), bytes.fromhex(o.B_)) for o in sats]

    async def redeem(request_id: int, witness_: str) -> Message:
        proof = Proof(1, keyset.keyset_id, secret.encode(), C, witness_.encode())
        miner.conn.put(RedeemSharesEcash(request_id, [proof], sv2_outputs))
        return await miner.conn.wait_for(
            Message,
            lambda m: (
                isinstance(m, (RedeemSharesEcashSuccess, RedeemSharesEcashError))
                and m.request_id == request_id
            ),
        )

    refused = await redeem(1, "")
    assert isinstance(refused, RedeemSharesEcashError) and refused.error_code == "proof-invalid", refused
    stranger = await redeem(2, witness(secret, PrivateKey()))
    assert isinstance(stranger, RedeemSharesEcashError) and stranger.error_code == "proof-invalid", stranger
    paid = await redeem(3, witness(secret, owner))
    assert isinstance(paid, RedeemSharesEcashSuccess), paid
    assert sum(s.amount for s in paid.signatures) == epoch.theta_c == started.mint.epoch(1).paid
    miner.conn.hang_up()
    await pump
