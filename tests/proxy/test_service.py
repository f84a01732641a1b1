"""The proxy service in-process: a real SV1 client over TCP → proxy → a scripted SV2 ecash pool over Noise.

Bad input on the SV1 port (malformed JSON, a 1 MB line, unknown methods, submits for unknown jobs) gets
JSON-RPC errors; the connection survives all but the oversized line, and the proxy survives everything.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import struct
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, cast

from nutx_cli.core import bdhke, keysets
from nutx_cli.core.targets import target_of_level
from nutx_cli.proxy.service import Proxy, ShareWallet, Upstream
from nutx_cli.sv1.difficulty import difficulty_of_level
from nutx_cli.sv2.certificate import authority_key_to_text
from nutx_cli.sv2.connection import Connection, serve
from nutx_cli.sv2.ecash import (
    BlindSignature,
    EcashKeyset,
    OpenExtendedEcashMiningChannel,
    OpenExtendedEcashMiningChannelSuccess,
    SubmitSharesEcashExtended,
    SubmitSharesEcashExtendedError,
    SubmitSharesEcashExtendedSuccess,
)
from nutx_cli.sv2.extensions import RequestExtensions, RequestExtensionsSuccess
from nutx_cli.sv2.jobs import extended_header, hash_value, version_error
from nutx_cli.sv2.messages import (
    NewExtendedMiningJob,
    SetNewPrevHash,
    SetupConnection,
    SetupConnectionSuccess,
)
from nutx_cli.sv2.noise import new_secret
from nutx_cli.wallet.balance import balance_of
from nutx_cli.wallet.wallet import Wallet
from tests.helpers.procs import free_port


def sha256d(data: bytes) -> bytes:
    return hashlib.sha256(hashlib.sha256(data).digest()).digest()


LEVEL = 255
NTIME = 1_700_000_000
KEYSET = keysets.derive_keyset(b"\x05" * 32, "ehash", 0)
WIRE_KEYSET = EcashKeyset(
    keyset_id=bytes.fromhex(KEYSET.id),
    unit="ehash",
    epoch=0,
    k_max=256,
    keys=[(a, KEYSET.public_keys[a]) for a in keysets.EHASH_AMOUNTS],
)


JOB = NewExtendedMiningJob(
    channel_id=3,
    job_id=5,
    min_ntime=None,
    version=0x20000000,
    version_rolling_allowed=True,
    merkle_path=[b"\x33" * 32],
    coinbase_tx_prefix=b"\x01" * 41,
    coinbase_tx_suffix=b"\x02" * 30,
)
PREV = SetNewPrevHash(channel_id=3, job_id=5, prev_hash=b"\x44" * 32, min_ntime=NTIME, nbits=0x207FFFFF)


async def scripted_pool(conn: Connection, hang_up_at: int | None = None, cheat: bool = False) -> None:
    """Setup, extension, open (level 255, extranonce 2+4 bytes), one job on a prev hash; check and sign shares.

    With `hang_up_at` the pool closes the connection on receiving the share with that sequence number; a
    `cheat`ing pool signs with another amount's key than the one it published for the share's amount.
    """
    assert isinstance(await conn.recv(), SetupConnection)
    await conn.send(SetupConnectionSuccess(used_version=2, flags=0))
    assert isinstance(await conn.recv(), RequestExtensions)
    await conn.send(RequestExtensionsSuccess(request_id=1, supported_extensions=[0x4CA5]))
    opened = await conn.recv()
    assert isinstance(opened, OpenExtendedEcashMiningChannel)
    await conn.send(
        OpenExtendedEcashMiningChannelSuccess(
            request_id=opened.request_id,
            channel_id=3,
            target=target_of_level(LEVEL),
            extranonce_size=4,
            extranonce_prefix=b"\xca\xfe",
            group_channel_id=0,
            keyset=WIRE_KEYSET,
        )
    )
    await conn.send(JOB)
    await conn.send(PREV)
    async for msg in conn:
        if isinstance(msg, SubmitSharesEcashExtended):
            header = extended_header(JOB, PREV, b"\xca\xfe", msg)
            if hash_value(header) > target_of_level(LEVEL) or version_error(JOB.version, msg.version, True):
                await conn.send(
                    SubmitSharesEcashExtendedError(
                        channel_id=3, sequence_number=msg.sequence_number, error_code="difficulty-too-low"
                    )
                )
                continue
            if msg.sequence_number == hang_up_at:
                await conn.close()
                return
            bm = msg.blinded_message
            sig = bdhke.sign(KEYSET.private_keys[bm.amount * 2 if cheat else bm.amount], bm.blinded_secret)
            await conn.send(
                SubmitSharesEcashExtendedSuccess(
                    channel_id=3,
                    sequence_number=msg.sequence_number,
                    signature=BlindSignature.of(sig, bm.amount, bm.keyset_id.hex()),
                )
            )


class Sv1Client:
    """A minimal SV1 miner: requests with ids, and every notification seen so far."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.notifications: list[dict[str, Any]] = []

    async def send_raw(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def read(self) -> dict[str, Any] | None:
        async with asyncio.timeout(10):
            line = await self.reader.readline()
        if not line:
            return None
        msg: dict[str, Any] = json.loads(line)
        if msg.get("method"):
            self.notifications.append(msg)
        return msg

    async def response(self, request_id: Any) -> dict[str, Any]:
        while True:
            msg = await self.read()
            assert msg is not None, "connection closed"
            if "method" not in msg and msg.get("id") == request_id:
                return msg

    async def call(self, request_id: Any, method: str, params: list[Any]) -> dict[str, Any]:
        await self.send_raw(
            json.dumps({"id": request_id, "method": method, "params": params}).encode() + b"\n"
        )
        return await self.response(request_id)

    async def notification(self, method: str) -> dict[str, Any]:
        while True:
            for i, msg in enumerate(self.notifications):
                if msg["method"] == method:
                    return self.notifications.pop(i)
            assert await self.read() is not None, "connection closed"


@asynccontextmanager
async def running_proxy(
    wallet: ShareWallet | None = None,
    pool_port: int | None = None,
    hang_up_at: int | None = None,
    cheat: bool = False,
) -> AsyncIterator[tuple[Proxy, int]]:
    async def pool_connection(conn: Connection) -> None:
        await scripted_pool(conn, hang_up_at, cheat)

    pool = await serve(
        "127.0.0.1",
        0,
        on_connection=pool_connection,
        static_secret=new_secret(),
        authority_secret=new_secret(),
    )
    async with pool:
        key = authority_key_to_text(pool.authority_pubkey or b"")
        proxy = Proxy(Upstream("127.0.0.1", pool_port or pool.port, key), cast(ShareWallet, wallet))
        server = await asyncio.start_server(proxy.handle_connection, "127.0.0.1", 0)
        try:
            yield proxy, server.sockets[0].getsockname()[1]
        finally:
            server.close()
            await proxy.close()
            await server.wait_closed()


@asynccontextmanager
async def miner(port: int) -> AsyncIterator[Sv1Client]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        yield Sv1Client(reader, writer)
    finally:
        writer.close()


async def subscribe_and_authorize(client: Sv1Client) -> list[Any]:
    """The usual order; returns the subscribe result."""
    sub = await client.call(0, "mining.subscribe", ["test-miner/1.0"])
    assert sub["error"] is None
    assert (await client.call(1, "mining.authorize", ["alice.rig1", "x"]))["result"] is True
    return cast(list[Any], sub["result"])


async def test_subscribe_gets_the_channel_extranonce_then_difficulty_before_notify() -> None:
    async with running_proxy() as (_, port), miner(port) as client:
        assert (
            await client.call(
                7, "mining.configure", [["version-rolling"], {"version-rolling.mask": "ffffffff"}]
            )
        )["result"] == {"version-rolling": True, "version-rolling.mask": "1fffe000"}
        result = await subscribe_and_authorize(client)
        assert result[1:] == ["cafe", 4]
        while not any(n["method"] == "mining.notify" for n in client.notifications):
            assert await client.read() is not None
        difficulty, notify = client.notifications
        assert difficulty == {
            "id": None,
            "method": "mining.set_difficulty",
            "params": [difficulty_of_level(LEVEL)],
        }
        assert (
            notify["method"] == "mining.notify" and notify["params"][0] == "5" and notify["params"][8] is True
        )


async def test_bad_input_gets_json_rpc_errors_and_the_connection_survives() -> None:
    async with running_proxy() as (_, port), miner(port) as client:
        await subscribe_and_authorize(client)
        await client.send_raw(b"{this is not json\n")
        assert (await client.response(None))["error"][0] == -32700
        assert (await client.call(0, "mining.get_transactions", []))["error"][0] == -32601
        unknown_job = await client.call(
            2, "mining.submit", ["alice.rig1", "999", "00000000", f"{NTIME:08x}", "00000000"]
        )
        assert unknown_job["result"] is None and unknown_job["error"][0] == 21
        assert (await client.call(3, "mining.submit", ["alice.rig1"]))["error"][0] == -32602
        assert (await client.call(4, "mining.submit", ["bob", "5", "00000000", f"{NTIME:08x}", "0"]))[
            "error"
        ][0] == 24
        assert (await client.call(5, "mining.suggest_difficulty", ["lots"]))["error"][0] == -32602
        assert (await client.call(7, "mining.suggest_difficulty", ["1e9999999"]))["error"][0] == -32602
        assert (await client.call(6, "mining.extranonce.subscribe", []))["result"] is True  # still alive


async def test_a_megabyte_line_closes_that_connection_only() -> None:
    async with running_proxy() as (_, port):
        async with miner(port) as bystander:
            await subscribe_and_authorize(bystander)
            async with miner(port) as attacker:
                attacker.writer.write(b"x" * (1 << 20))
                msg = await attacker.read()
                assert msg is not None and msg["error"][0] == -32600
                while await attacker.read() is not None:
                    pass  # the proxy closes the connection
            assert (await bystander.call(9, "mining.extranonce.subscribe", []))["result"] is True
        async with miner(port) as newcomer:
            assert (await subscribe_and_authorize(newcomer))[1] == "cafe"


async def test_quiet_chain_gets_a_fresh_job_id() -> None:
    async with running_proxy() as (proxy, port), miner(port) as client:
        await subscribe_and_authorize(client)
        first = await client.notification("mining.notify")
        assert first["params"][0] == "5" and first["params"][8] is True
        (downstream,) = proxy.miners
        downstream.refresh(monotonic_now=1e12, now=NTIME + 45)
        fresh = await client.notification("mining.notify")
        assert (
            fresh["params"][0] == "5.1"
            and fresh["params"][7] == f"{NTIME + 45:08x}"
            and fresh["params"][8] is False
        )


def grind(notify: list[Any], extranonce1: str, en2: bytes, version: int) -> str:
    """A nonce (hex) meeting level 255 for this notify, hashed here with hashlib from the SV1 fields."""
    _, prevhash, coinb1, coinb2, branch, _, nbits, ntime, _ = notify
    root = sha256d(bytes.fromhex(coinb1 + extranonce1) + en2 + bytes.fromhex(coinb2))
    for node in branch:
        root = sha256d(root + bytes.fromhex(node))
    prev = b"".join(bytes.fromhex(prevhash)[i : i + 4][::-1] for i in range(0, 32, 4))
    head = struct.pack("<I", version) + prev + root + struct.pack("<II", int(ntime, 16), int(nbits, 16))
    nonce = next(
        n
        for n in range(1 << 16)
        if int.from_bytes(sha256d(head + struct.pack("<I", n)), "little") <= target_of_level(LEVEL)
    )
    return f"{nonce:08x}"


async def test_shares_with_rolled_versions_become_ehash_in_a_real_wallet(tmp_path: Path) -> None:
    wallet = Wallet.open(tmp_path / "wallet", mint_url="http://127.0.0.1:1")  # shares need no mint
    try:
        async with running_proxy(wallet) as (proxy, port), miner(port) as client:
            await client.call(
                0, "mining.configure", [["version-rolling"], {"version-rolling.mask": "1fffe000"}]
            )
            _, extranonce1, size = await subscribe_and_authorize(client)
            notify = (await client.notification("mining.notify"))["params"]
            for i, bits in enumerate([0, 0x00002000, 0x1FFFE000]):
                en2 = i.to_bytes(size, "big")
                nonce = grind(notify, extranonce1, en2, 0x20000000 | bits)
                params = ["alice.rig1", notify[0], en2.hex(), notify[7], nonce, f"{bits:08x}"]
                assert (await client.call(10 + i, "mining.submit", params))["result"] is True
            async with asyncio.timeout(10):
                while proxy.workers["alice.rig1"].accepted < 3:
                    await asyncio.sleep(0.02)
            assert dict(proxy.workers["alice.rig1"].rejected) == {}
            stats = proxy.stats_json()
            (worker,) = stats["workers"]
            assert {"user", "difficulty", "hashrate", "accepted", "rejected", "last_share"} <= set(
                worker
            )  # DESIGN §5
            assert worker["user"] == "alice.rig1" and worker["accepted"] == 3 and worker["level"] == LEVEL
            assert worker["sv1_difficulty"] == difficulty_of_level(LEVEL)
            assert stats["upstream"]["channels"] == 1 and stats["upstream"]["epoch"] == 0
        balance = balance_of(wallet.store)
        assert balance.ehash_by_epoch == {0: 3 * 2 ** (256 - LEVEL)} and balance.pending_shares == 0
    finally:
        wallet.close()


async def test_upstream_down_answers_subscribe_with_an_error_and_keeps_the_miner() -> None:
    async with running_proxy(pool_port=free_port()) as (_, port), miner(port) as client:
        reply = await client.call(0, "mining.subscribe", [])
        assert reply["result"] is None and reply["error"][0] == 20 and "upstream" in reply["error"][1]
        assert (await client.call(1, "mining.authorize", ["alice"]))["result"] is True


async def test_upstream_hang_up_disconnects_the_miner_and_fails_the_share(tmp_path: Path) -> None:
    wallet = Wallet.open(tmp_path / "wallet", mint_url="http://127.0.0.1:1")
    try:
        async with running_proxy(wallet, hang_up_at=1) as (proxy, port), miner(port) as client:
            _, extranonce1, size = await subscribe_and_authorize(client)
            notify = (await client.notification("mining.notify"))["params"]
            nonce = grind(notify, extranonce1, bytes(size), 0x20000000)
            params = ["alice.rig1", notify[0], bytes(size).hex(), notify[7], nonce]
            assert (await client.call(5, "mining.submit", params))[
                "result"
            ] is True  # answered locally at once
            while await client.read() is not None:
                pass  # the proxy disconnects the miner once its channel is gone
            async with asyncio.timeout(10):
                while not proxy.workers["alice.rig1"].rejected:
                    await asyncio.sleep(0.02)
            assert dict(proxy.workers["alice.rig1"].rejected) == {"upstream-closed": 1}
            async with miner(port) as again:  # a reconnecting miner gets a fresh channel
                assert (await subscribe_and_authorize(again))[1] == "cafe"
        assert balance_of(wallet.store).pending_shares == 1  # kept until the epoch closes (recover_pending)
    finally:
        wallet.close()


async def test_a_signature_failing_its_dleq_is_reported_and_not_stored(tmp_path: Path) -> None:
    wallet = Wallet.open(tmp_path / "wallet", mint_url="http://127.0.0.1:1")
    try:
        async with running_proxy(wallet, cheat=True) as (proxy, port), miner(port) as client:
            _, extranonce1, size = await subscribe_and_authorize(client)
            notify = (await client.notification("mining.notify"))["params"]
            nonce = grind(notify, extranonce1, bytes(size), 0x20000000)
            params = ["alice.rig1", notify[0], bytes(size).hex(), notify[7], nonce]
            assert (await client.call(5, "mining.submit", params))["result"] is True
            async with asyncio.timeout(10):
                while not proxy.workers["alice.rig1"].rejected:
                    await asyncio.sleep(0.02)
            assert dict(proxy.workers["alice.rig1"].rejected) == {"dleq-failure": 1}
            assert proxy.workers["alice.rig1"].accepted == 0
        assert balance_of(wallet.store).ehash == 0
    finally:
        wallet.close()
