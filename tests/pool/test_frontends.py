"""Two pool front ends (`nutx pool start --frontend 1/2` and `2/2`) on one PostgreSQL mint, end to end.

A real node, a real PostgreSQL server, two real pool processes and the scripted SV2 ecash client of
`test_e2e`: one epoch and keyset for both, closed once at a tip change seen by both; a blinded
message signed once whichever front ends it is sent to; a redeem paid once; a front end SIGKILLed
under load loses no work (W_e = Σ stored share signatures ≥ Σ signatures the clients received).
"""

from __future__ import annotations

import asyncio
import signal
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from nutx_cli.core.targets import target_of_difficulty
from nutx_cli.local import read_pool_json
from nutx_cli.mint.store import MintStore
from nutx_cli.node.client import NodeClient
from nutx_cli.sv2.ecash import (
    BlindedMessage,
    RedeemSharesEcashSuccess,
    SetEcashKeyset,
    SubmitSharesEcashExtendedError,
)
from nutx_cli.sv2.messages import SetNewPrevHash
from tests.helpers.procs import NutxProcess, free_port, port_open
from tests.helpers.stack import node
from tests.pool.test_e2e import (
    LEVEL,
    NETWORK_DIFFICULTY,
    EcashClient,
    load_until_closed,
    mine_shares,
    redeem_http,
    sat_outputs,
)

pytestmark = pytest.mark.e2e


@dataclass
class FrontEnds:
    tmp: Path
    database: str
    node_rpc: str
    pools: list[NutxProcess | None] = field(default_factory=lambda: [None, None])
    args: list[list[str]] = field(default_factory=list)
    info: list[dict[str, Any]] = field(default_factory=list)
    starts: int = 0

    @property
    def rpc(self) -> NodeClient:
        return NodeClient(self.node_rpc)

    def start(self, i: int) -> None:
        self.starts += 1
        admin = int(self.args[i][self.args[i].index("--admin-port") + 1])
        pool = NutxProcess(["pool", "start", *self.args[i]], self.tmp / f"pool{i + 1}.{self.starts}.log")
        self.pools[i] = pool
        pool.wait_until(lambda: port_open(admin) and (self.tmp / f"pool{i + 1}" / "pool.json").exists(), 60)
        self.info[i] = read_pool_json(self.tmp / f"pool{i + 1}").to_json()

    def stop(self, i: int, sig: signal.Signals = signal.SIGTERM) -> None:
        pool = self.pools[i]
        if pool is not None:
            pool.stop(sig)
            self.pools[i] = None

    async def client(self, i: int, user: str = "alice") -> EcashClient:
        sv2 = int(self.info[i]["sv2"].rsplit(":", 1)[1])
        return await EcashClient.open(sv2, self.info[i]["authority_key"], user)

    def http(self, i: int) -> str:
        return str(self.info[i]["http"])

    def epochs(self, i: int = 0) -> list[dict[str, Any]]:
        return list(httpx.get(self.http(i) + "/v1/mining/epochs", timeout=10).json()["epochs"])

    def epoch(self, i: int, n: int) -> dict[str, Any]:
        return dict(httpx.get(f"{self.http(i)}/v1/mining/epochs/{n}", timeout=10).json())

    def log(self, i: int) -> str:
        return "".join(p.read_text() for p in sorted(self.tmp.glob(f"pool{i + 1}.*.log")))

    def store(self) -> MintStore:
        return MintStore.open(self.tmp, self.database)


async def at_epoch(clients: list[EcashClient], n: int) -> None:
    """Until every client has epoch `n`'s keyset and the SetNewPrevHash sent after it."""

    def there(c: EcashClient) -> bool:
        kinds = [type(m) for m in c.log]
        return (
            c.keyset is not None
            and c.keyset.epoch == n
            and SetNewPrevHash in kinds[len(kinds) - kinds[::-1].index(SetEcashKeyset) :]
        )

    for client in clients:
        await client.wait_for(lambda c=client: there(c))


@pytest.fixture
def frontends(tmp_path: Path, pg_url: str) -> Iterator[FrontEnds]:
    """A node and two pool front ends on one fresh PostgreSQL database, on free ports."""
    with node(tmp_path) as stack:
        fe = FrontEnds(tmp_path, pg_url, stack.node_rpc)
        for i in range(2):
            fe.args.append(
                [
                    *("--data-dir", str(tmp_path / f"pool{i + 1}"), "--node-rpc", stack.node_rpc),
                    *("--sv2-port", str(free_port()), "--http-port", str(free_port())),
                    *("--admin-port", str(free_port()), "--start-level", str(LEVEL)),
                    *(
                        "--network-difficulty",
                        f"{NETWORK_DIFFICULTY.numerator}/{NETWORK_DIFFICULTY.denominator}",
                    ),
                    *("--maturity", "2", "--shares-per-minute", "60000"),
                    *("--database", pg_url, "--frontend", f"{i + 1}/2"),
                ]
            )
            fe.info.append({})
        fe.start(0)
        fe.start(1)
        try:
            yield fe
        finally:
            fe.stop(0)
            fe.stop(1)


async def test_one_epoch_for_both_closed_once_at_each_tip_change_then_one_redeem_pays(
    frontends: FrontEnds,
) -> None:
    fe = frontends
    first, second = await fe.client(0), await fe.client(1, "bob")
    try:
        assert first.keyset is not None and second.keyset is not None
        assert first.keyset.keyset_id == second.keyset.keyset_id and first.keyset.epoch == 1
        assert first.prefix[0] < 0x80 <= second.prefix[0]  # each front end's half of the prefixes
        await mine_shares(first, 3)
        await mine_shares(second, 3)

        # another miner's block: both front ends see the tip change, the epoch is closed once
        fe.rpc.generatetoaddress(1, "bcrt1qw49pau7kzqzzgspve4rs4nv5s4s3ta5chnrmke")
        await at_epoch([first, second], 2)
        assert first.keyset.keyset_id == second.keyset.keyset_id
        assert [(e["epoch"], e["status"], e["work"]) for e in fe.epochs(1)] == [
            (2, "open", 0),
            (1, "lost", 6 * 64),
        ]
        closes = [fe.log(i).count("epoch 1 lost") for i in range(2)]
        assert sorted(closes) == [0, 1], closes

        # a block found through the second front end is the pool's for the first one too
        proofs = await mine_shares(first, 2) + await mine_shares(second, 2)
        block_share = second.make_share(meet=target_of_difficulty(NETWORK_DIFFICULTY), avoid_block=False)
        proofs.append(second.proof(block_share, await second.submit(block_share)))
        await at_epoch([first, second], 3)
        won = fe.epoch(0, 2)
        assert (won["epoch"], won["status"], won["work"]) == (2, "won", 5 * 64)
        assert won["block_hash"] == fe.rpc.call("getblockhash", 2)

        fe.rpc.generatetoaddress(1, "bcrt1qw49pau7kzqzzgspve4rs4nv5s4s3ta5chnrmke")
        for _ in range(200):
            if fe.epoch(1, 2)["status"] == "mature":
                break
            await asyncio.sleep(0.1)
        mature = fe.epoch(1, 2)
        assert mature["status"] == "mature", mature
        value = sum(p["amount"] for p in proofs) * mature["theta_c"] // mature["work"]

        # the same proofs redeemed at once through both front ends, over HTTP and SV2: one pays
        outputs, _ = sat_outputs(fe.http(0), value)
        sv2_outputs = [
            BlindedMessage(
                amount=o["amount"], keyset_id=bytes.fromhex(o["id"]), blinded_secret=bytes.fromhex(o["B_"])
            )
            for o in outputs
        ]
        answers = await asyncio.gather(
            asyncio.to_thread(redeem_http, fe.http(0), proofs, value),
            asyncio.to_thread(redeem_http, fe.http(1), proofs, value),
            first.redeem_sv2(proofs, sv2_outputs),
            second.redeem_sv2(proofs, sv2_outputs),
        )
        paid = [a.status_code == 200 for a in answers[:2]] + [
            isinstance(a, RedeemSharesEcashSuccess) for a in answers[2:]
        ]
        assert sum(paid) == 1, answers
        assert fe.epoch(0, 2)["paid"] == value
    finally:
        await first.close()
        await second.close()


async def test_the_same_blinded_message_sent_to_both_at_once_is_signed_once(frontends: FrontEnds) -> None:
    first, second = await frontends.client(0), await frontends.client(1, "bob")
    try:
        for _ in range(20):
            one = first.make_share()
            two = second.make_share(secret=one.secret, r=one.r)  # another header, the same B_
            answers = await asyncio.gather(first.submit(one), second.submit(two))
            kinds = sorted(type(a).__name__ for a in answers)
            assert kinds == ["SubmitSharesEcashExtendedError", "SubmitSharesEcashExtendedSuccess"], answers
            refused = next(a for a in answers if isinstance(a, SubmitSharesEcashExtendedError))
            assert refused.error_code == "blinded-message-reused"
    finally:
        await first.close()
        await second.close()
    store = frontends.store()
    try:
        assert store.share_signature_work(frontends.epochs()[0]["keyset_id"]) == 20 * 64
    finally:
        store.close()


async def test_sigkill_of_one_front_end_under_load_loses_no_work(frontends: FrontEnds) -> None:
    """Load on both; the first is SIGKILLed three times (once across a tip change), the second keeps
    signing: per epoch, W_e = Σ stored share signatures ≥ Σ signatures the clients received."""
    fe = frontends
    received: Counter[str] = Counter()

    survivor = [await fe.client(1, f"s{i}") for i in range(2)]
    steady = [asyncio.create_task(load_until_closed(c, received)) for c in survivor for _ in range(3)]
    try:
        for round_ in range(3):
            if round_:
                fe.start(0)
            victims = [await fe.client(0, f"v{i}") for i in range(2)]
            tasks = [asyncio.create_task(load_until_closed(c, received)) for c in victims for _ in range(3)]
            await asyncio.sleep(0.7)
            if round_ == 1:
                fe.rpc.generatetoaddress(1, "bcrt1qw49pau7kzqzzgspve4rs4nv5s4s3ta5chnrmke")
                await asyncio.sleep(0.7)
            await asyncio.to_thread(fe.stop, 0, signal.SIGKILL)
            await asyncio.gather(*tasks)
            for c in victims:
                await c.close()
        before = sum(received.values())
        await asyncio.sleep(0.5)
        assert sum(received.values()) > before  # the second front end kept signing all along
    finally:
        for c in survivor:
            await c.close()
        await asyncio.gather(*steady)
    fe.stop(1)
    store = fe.store()
    try:
        epochs = [e for e in store.epoch_rows()]
        assert [e.status for e in epochs] == ["open", "lost"]
        for e in epochs:
            stored = store.share_signature_work(e.keyset_id)
            ledger = sum(a * n for a, n in store.work_counts(e.epoch).items())
            assert ledger == stored >= received[e.keyset_id] > 0, (e, received)
    finally:
        store.close()
