"""Pool throughput: N concurrent SV2 ecash channels (N = 1, 10, 100) on loopback submit valid precomputed
shares as fast as the pool acknowledges (a load generator in its own process; blinded messages made
before the timed window). Prints accepted shares/s, p50/p99 ack latency, the pool's RSS, and the
crypto limit (bare coincurve work of one share's signature + DLEQ proof on one core, measured before and after
the runs, mean) with the ratio, and the pool's CPU time per share (steadier than the rate on shared cores).
Then memory and fds (`pool_memory`): the pool's RSS with 1,000 idle connections and with 1,000 open channels,
and its fd count before and after 2,000 connect/disconnect cycles, on lines of their own.
The pool runs without the per-IP connection cap and the message rate (every client is on 127.0.0.1, and one
channel sends thousands of shares a second): this measures the pool, not its limits.
Last line: "pool: channels=N shares_per_s=X p99_ms=L rss_mb=M crypto_limit_per_s=Z ratio=R" (largest N).
Options: --channels 1,10,100  --shares 12000 (per run, split over the channels)  --connections 1000
--cycles 2000 (--connections 0 skips the memory part)
--sv1: the same over the pool's own Stratum V1 port (`--sv1-port`): N SV1 connections under Cashu pubkeys,
level-256 shares claimed (no signature; one claim row per batch), each answered `true` once durable.
Last line then: "pool_sv1: connections=N shares_per_s=X p99_ms=L rss_mb=M".
--database postgresql://… also runs the largest N on that PostgreSQL mint with one front end, then two
(`--frontend 1/2`, `2/2`; the channels and shares split between them, one load generator each), and prints
their figures on lines of their own ("postgres_1: …", "postgres_2: …") before the last line.
"""

import argparse
import asyncio
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from coincurve import PrivateKey, PublicKey

from benchmarks import pool_memory, sv2_miner
from nutx_cli.core import bdhke
from nutx_cli.listener import raise_fd_limit
from nutx_cli.up.children import ChildProcess, free_port, port_open


def crypto_limit(seconds: float = 2.0) -> float:
    """Shares/s one core can sign at best: the coincurve calls of one signature and its DLEQ proof."""
    k = PrivateKey().secret
    A = PublicKey.from_valid_secret(k)
    blinded = [bdhke.blind(secrets.token_hex(32), PrivateKey().secret) for _ in range(256)]
    nonces = [PrivateKey().secret for _ in range(256)]
    n, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        for B_, p in zip(blinded, nonces):
            B = PublicKey(B_)
            C = B.multiply(k)  # C_ = k·B_
            R1 = PublicKey.from_valid_secret(p)  # DLEQ: R1 = p·G
            R2 = B.multiply(p)  #       R2 = p·B_
            for point in (R1, R2, A, C):  #       e = hash(R1, R2, A, C_) needs the points serialised
                point.format(compressed=False)
            C.format()
        n += len(blinded)
    return n / elapsed


# -- the load generator (its own process) -----------------------------------------------------------------


async def load(port: int, authority: str, channels: int, shares: int, window: int) -> dict:
    from nutx_cli.sv2.connection import Connection
    from nutx_cli.sv2.ecash import (
        BlindedMessage,
        SubmitSharesEcashExtended,
        SubmitSharesEcashExtendedError,
        SubmitSharesEcashExtendedSuccess,
    )

    async def open_channel(i: int) -> tuple[Connection, list[SubmitSharesEcashExtended]]:
        conn = await sv2_miner.set_up(port, authority)
        ok, job, prev = await sv2_miner.open_channel(conn, i)
        level = (ok.target + 1).bit_length() - 1
        assert level == 256, f"the bench needs level 256 (every hash a share), got {level}"
        prepared: list[SubmitSharesEcashExtended] = []
        for seq in range(shares):  # the crypto (blinding) happens here, before the timed window
            B_ = bdhke.blind(secrets.token_hex(32), PrivateKey().secret)
            prepared.append(
                SubmitSharesEcashExtended(
                    channel_id=ok.channel_id,
                    sequence_number=seq,
                    job_id=job.job_id,
                    nonce=seq,
                    ntime=prev.min_ntime,
                    version=job.version,
                    extranonce=i.to_bytes(8, "big"),
                    blinded_message=BlindedMessage(
                        amount=1, keyset_id=ok.keyset.keyset_id, blinded_secret=B_
                    ),
                )
            )
        return conn, prepared

    opened = await asyncio.gather(*(open_channel(i) for i in range(channels)))
    latencies: list[float] = []
    errors: dict[str, int] = {}

    async def run(conn: Connection, prepared: list[SubmitSharesEcashExtended]) -> None:
        sent: dict[int, float] = {}
        next_i = 0

        async def send_more() -> None:
            nonlocal next_i
            batch = []
            while next_i < len(prepared) and len(sent) < window:
                msg = prepared[next_i]
                sent[msg.sequence_number] = time.perf_counter()
                batch.append(msg)
                next_i += 1
            if batch:
                await conn.send_many(batch)

        await send_more()
        while sent:
            msg = await conn.recv()
            if isinstance(msg, (SubmitSharesEcashExtendedSuccess, SubmitSharesEcashExtendedError)):
                latencies.append(time.perf_counter() - sent.pop(msg.sequence_number))
                if isinstance(msg, SubmitSharesEcashExtendedError):
                    errors[msg.error_code] = errors.get(msg.error_code, 0) + 1
                await send_more()

    start = time.perf_counter()
    await asyncio.gather(*(run(conn, prepared) for conn, prepared in opened))
    elapsed = time.perf_counter() - start
    for conn, _ in opened:
        await conn.close()
    latencies.sort()
    accepted = len(latencies) - sum(errors.values())
    return {
        "accepted": accepted,
        "errors": errors,
        "seconds": elapsed,
        "p50_ms": 1000 * latencies[len(latencies) // 2],
        "p99_ms": 1000 * latencies[int(len(latencies) * 0.99)],
    }


async def load_sv1(port: int, connections: int, shares: int, window: int) -> dict:
    """N SV1 connections at level 256 (difficulty 2^-32), shares found before the timed window."""
    import hashlib
    import struct

    def sha256d(data: bytes) -> bytes:
        return hashlib.sha256(hashlib.sha256(data).digest()).digest()

    async def call(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, i: int, method: str, params: list
    ) -> dict:
        writer.write(json.dumps({"id": i, "method": method, "params": params}).encode() + b"\n")
        while True:
            msg = json.loads(await reader.readline())
            if msg.get("id") == i:
                return msg

    async def open_connection(
        n: int,
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, str, list[list[str]]]:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        _, extranonce1, size = (await call(reader, writer, 1, "mining.subscribe", ["bench"]))["result"]
        await call(reader, writer, 2, "mining.suggest_difficulty", [2.0**-32])
        user = PublicKey.from_valid_secret(PrivateKey().secret).format().hex() + f".b{n}"
        await call(reader, writer, 3, "mining.authorize", [user, "x"])
        while True:
            msg = json.loads(await reader.readline())
            if msg.get("method") == "mining.notify":
                break
        job_id, prevhash, coinb1, coinb2, branch, version, nbits, ntime, _ = msg["params"]
        prev = b"".join(bytes.fromhex(prevhash)[i : i + 4][::-1] for i in range(0, 32, 4))
        target = (0xFFFF << 208) * 2**32
        prepared = []
        for counter in range(shares):  # one extranonce2 per share: a nonce that meets level 256's target
            extranonce2 = counter.to_bytes(size, "big")
            root = sha256d(bytes.fromhex(coinb1 + extranonce1) + extranonce2 + bytes.fromhex(coinb2))
            for node in branch:
                root = sha256d(root + bytes.fromhex(node))
            head = (
                struct.pack("<I", int(version, 16))
                + prev
                + root
                + struct.pack("<II", int(ntime, 16), int(nbits, 16))
            )
            nonce = next(
                x
                for x in range(1 << 32)
                if int.from_bytes(sha256d(head + struct.pack("<I", x)), "little") <= target
            )
            prepared.append([user, job_id, extranonce2.hex(), ntime, f"{nonce:08x}"])
        return reader, writer, user, prepared

    opened = await asyncio.gather(*(open_connection(n) for n in range(connections)))
    latencies: list[float] = []
    errors: dict[str, int] = {}

    async def run(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, prepared: list[list[str]]
    ) -> None:
        sent: dict[int, float] = {}
        next_i = 0

        def send_more() -> None:
            nonlocal next_i
            lines = []
            while next_i < len(prepared) and len(sent) < window:
                sent[100 + next_i] = time.perf_counter()
                lines.append(
                    json.dumps({"id": 100 + next_i, "method": "mining.submit", "params": prepared[next_i]})
                )
                next_i += 1
            if lines:
                writer.write(("\n".join(lines) + "\n").encode())

        send_more()
        while sent:
            msg = json.loads(await reader.readline())
            if msg.get("id") in sent:
                latencies.append(time.perf_counter() - sent.pop(msg["id"]))
                if msg.get("error"):
                    errors[str(msg["error"][1])] = errors.get(str(msg["error"][1]), 0) + 1
                send_more()

    start = time.perf_counter()
    await asyncio.gather(*(run(r, w, prepared) for r, w, _, prepared in opened))
    elapsed = time.perf_counter() - start
    for _, writer, _, _ in opened:
        writer.close()
    latencies.sort()
    return {
        "accepted": len(latencies) - sum(errors.values()),
        "errors": errors,
        "seconds": elapsed,
        "p50_ms": 1000 * latencies[len(latencies) // 2],
        "p99_ms": 1000 * latencies[int(len(latencies) * 0.99)],
    }


# -- the driver -------------------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (and its threads) so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


Started = tuple[ChildProcess, dict[str, int], str]
"""A pool process, its ports ("sv2", "sv1") and its authority key."""


def start_pool(tmp: Path, name: str, rpc_port: int, *flags: str) -> Started:
    """`nutx pool start` on the bench node."""
    sv2_port, sv1_port, admin_port = free_port(), free_port(), free_port()
    pool = ChildProcess(
        [
            *("--log-level", "warning", "pool", "start", "--data-dir", str(tmp / name)),
            *("--node-rpc", f"http://127.0.0.1:{rpc_port}", "--node-cookie", str(tmp / "node" / ".cookie")),
            *("--sv2-port", str(sv2_port), "--http-port", str(free_port()), "--admin-port", str(admin_port)),
            *("--start-level", "256", "--shares-per-minute", "1000000000", "--network-difficulty", "1000000"),
            *("--sv1-port", str(sv1_port), *flags),
            # every load client is on 127.0.0.1, and one channel sends thousands of shares a second
            *("--max-connections-per-ip", "0", "--max-messages-per-second", "0"),
        ],
        tmp / f"{name}.log",
    )
    try:
        pool.wait_until(lambda: port_open(admin_port) and (tmp / name / "pool.json").exists(), 60)
    except BaseException:
        pool.stop()
        raise
    ports = {"sv2": sv2_port, "sv1": sv1_port}
    return pool, ports, json.loads((tmp / name / "pool.json").read_text())["authority_key"]


def run_load(pools: list[Started], channels: int, shares: int, sv1: bool = False) -> dict:
    """`channels` channels (SV1 connections with `sv1`) split over the pools, one load generator process per
    pool, all at once."""
    n = max(1, channels // len(pools))
    per_channel = max(50, shares // (n * len(pools)))
    window = max(8, 256 // (n * len(pools)))
    cpu_before = [cpu_seconds(p.pid) for p, _, _ in pools]
    port = "sv1" if sv1 else "sv2"
    loads = [
        subprocess.Popen(
            [
                *(sys.executable, "-m", "benchmarks.pool", *(["--sv1"] if sv1 else []), "--load"),
                *(str(ports[port]), key, str(n), str(per_channel), str(window)),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _, ports, key in pools
    ]
    results = []
    for proc in loads:
        out, _ = proc.communicate()
        if proc.returncode:
            raise RuntimeError(f"the load generator failed (exit {proc.returncode})")
        results.append(json.loads(out.strip().splitlines()[-1]))
    accepted = sum(r["accepted"] for r in results)
    errors: dict[str, int] = {}
    for r in results:
        for code, count in r["errors"].items():
            errors[code] = errors.get(code, 0) + count
    cpu = sum(cpu_seconds(p.pid) for p, _, _ in pools) - sum(cpu_before)
    return {
        "channels": n * len(pools),
        "accepted": accepted,
        "seconds": max(r["seconds"] for r in results),
        "rate": accepted / max(r["seconds"] for r in results),
        "p50_ms": max(r["p50_ms"] for r in results),
        "p99_ms": max(r["p99_ms"] for r in results),
        "cpu_us": 1e6 * cpu / max(1, accepted),
        "rss": sum(pool_memory.rss_mb(p.pid) for p, _, _ in pools),
        "errors": errors,
    }


def report(label: str, r: dict) -> None:
    print(
        f"{label}channels={r['channels']:<4} accepted={r['accepted']:<6} in {r['seconds']:.2f}s: "
        f"{r['rate']:,.0f} shares/s, ack p50 {r['p50_ms']:.1f} ms p99 {r['p99_ms']:.1f} ms, "
        f"pool CPU {r['cpu_us']:.0f} µs/share, pool RSS {r['rss']:.0f} MB"
        + (f", errors {r['errors']}" if r["errors"] else "")
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--channels", default="1,10,100")
    parser.add_argument("--shares", type=int, default=12000)
    parser.add_argument(
        "--database", help="also run on this PostgreSQL mint: one front end, then two (postgresql://…)"
    )
    parser.add_argument("--sv1", action="store_true", help="load the pool's SV1 port instead of SV2")
    parser.add_argument(
        "--connections", type=int, default=1000, help="idle connections, then channels (0: skip)"
    )
    parser.add_argument("--cycles", type=int, default=2000, help="connect/disconnect cycles for the fd count")
    parser.add_argument("--load", nargs=5, metavar=("PORT", "AUTHORITY", "CHANNELS", "SHARES", "WINDOW"))
    args = parser.parse_args()
    if args.load:
        port, authority, channels, shares, window = args.load
        if args.sv1:
            print(json.dumps(asyncio.run(load_sv1(int(port), int(channels), int(shares), int(window)))))
        else:
            print(
                json.dumps(asyncio.run(load(int(port), authority, int(channels), int(shares), int(window))))
            )
        return

    raise_fd_limit()  # for this process's children too: the load clients and the pool hold 1,000+ sockets
    counts = [int(x) for x in args.channels.split(",")]
    limit_before = crypto_limit()
    print(
        f"crypto limit (one sign + DLEQ proof, bare coincurve, one core): {limit_before:,.0f} shares/s "
        f"= {1e6 / limit_before:.0f} µs/share"
    )
    with tempfile.TemporaryDirectory(prefix="bench_pool.") as tmp_dir:
        tmp = Path(tmp_dir)
        rpc_port = free_port()
        node = ChildProcess(
            ["node", "start", "--data-dir", str(tmp / "node"), "--rpc-port", str(rpc_port)], tmp / "node.log"
        )
        try:
            node.wait_until(lambda: port_open(rpc_port) and (tmp / "node" / ".cookie").exists(), 60)
            last: dict | None = None
            pool = start_pool(tmp, "pool", rpc_port)
            try:
                for n in counts:
                    last = run_load([pool], n, args.shares, args.sv1)
                    report("", last)
                if args.connections:
                    process, ports, authority = pool
                    pool_memory.measure(
                        process.pid, ports["sv2"], authority, rpc_port, args.connections, args.cycles
                    )
            finally:
                pool[0].stop()
            postgres: list[tuple[str, dict]] = []
            if args.database:
                for frontends in (1, 2):
                    pools = []
                    try:
                        for i in range(frontends):
                            flags = ("--database", args.database, "--frontend", f"{i + 1}/{frontends}")
                            pools.append(start_pool(tmp, f"pg{frontends}_{i + 1}", rpc_port, *flags))
                        r = run_load(pools, counts[-1], args.shares, args.sv1)
                    finally:
                        for p, _, _ in pools:
                            p.stop()
                    report(f"postgres, {frontends} front end{'s' if frontends > 1 else ''}: ", r)
                    postgres.append((f"postgres_{frontends}", r))
            # The machine's speed drifts (shared cores): the limit is the mean of a measure before and after.
            limit_after = crypto_limit()
            limit = (limit_before + limit_after) / 2
            print(f"crypto limit again after the runs: {limit_after:,.0f} shares/s; mean {limit:,.0f}")
            for name, r in postgres:
                print(
                    f"{name}: channels={r['channels']} shares_per_s={r['rate']:.0f} p99_ms={r['p99_ms']:.1f} "
                    f"rss_mb={r['rss']:.0f} ratio={r['rate'] / limit:.2f}"
                )
            if last is not None and args.sv1:
                print(
                    f"pool_sv1: connections={last['channels']} shares_per_s={last['rate']:.0f} "
                    f"p99_ms={last['p99_ms']:.1f} rss_mb={last['rss']:.0f}"
                )
            elif last is not None:
                print(
                    f"pool: channels={last['channels']} shares_per_s={last['rate']:.0f} p99_ms={last['p99_ms']:.1f} "
                    f"rss_mb={last['rss']:.0f} crypto_limit_per_s={limit:.0f} ratio={last['rate'] / limit:.2f}"
                )
        finally:
            node.stop()


if __name__ == "__main__":
    main()
