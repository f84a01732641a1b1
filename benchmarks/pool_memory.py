"""Pool memory and file descriptors under many SV2 connections, a part of `scripts/bench_pool`.

A client process opens N connections (Noise handshake, SetupConnection, the ecash extension) and holds them
idle, then opens one ecash channel on each; the driver reads the pool's RSS at each step. Then M
connect/disconnect cycles (each: handshake, setup, a channel, close) and the pool's open file descriptors
(/proc/PID/fd, without its keep-alive sockets to the node, one per worker thread) before and after. Goals: RSS under 300 MB with 1,000 connections and with 1,000 channels;
the fd count back where it was. Run alone: `python -m benchmarks.pool_memory --hold PORT AUTHORITY N`
(reads "channels" and "close" on stdin) or `--cycles PORT AUTHORITY M`.
"""

import argparse
import asyncio
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from benchmarks import sv2_miner
from tests.helpers.fds import open_fds

CONCURRENCY = 50
"""Handshakes in flight at once: more only fills the pool's accept backlog."""
SETTLE_SECONDS = 30.0


async def bounded(n: int, step: Callable[[int], Awaitable[None]]) -> None:
    """Run step(0) … step(n - 1), CONCURRENCY at a time."""
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(i: int) -> None:
        async with gate:
            await step(i)

    await asyncio.gather(*(one(i) for i in range(n)))


async def hold(port: int, authority: str, n: int) -> None:
    """Open n idle connections, then a channel on each, then close them all; one stdin line between steps."""
    from nutx_cli.sv2.connection import Connection

    conns: dict[int, Connection] = {}

    async def connect(i: int) -> None:
        conns[i] = await sv2_miner.set_up(port, authority)

    async def open_one(i: int) -> None:
        await sv2_miner.open_channel(conns[i], 0)

    loop = asyncio.get_running_loop()
    await bounded(n, connect)
    print("connected", flush=True)
    await loop.run_in_executor(None, sys.stdin.readline)
    await bounded(n, open_one)
    print("channels", flush=True)
    await loop.run_in_executor(None, sys.stdin.readline)
    for conn in conns.values():
        await conn.close()


async def cycles(port: int, authority: str, m: int) -> None:
    async def cycle(i: int) -> None:
        conn = await sv2_miner.set_up(port, authority)
        await sv2_miner.open_channel(conn, 0)
        await conn.close()

    await bounded(m, cycle)


def rss_mb(pid: int) -> float:
    """Resident memory of `pid` in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def settled_fds(pid: int, node_port: int, target: int) -> int:
    """The pool's fds (without its keep-alive sockets to the node) once closed connections are gone:
    `target` as soon as it is reached, else what is left after SETTLE_SECONDS."""
    deadline = time.monotonic() + SETTLE_SECONDS
    count = open_fds(pid, not_to_port=node_port)
    while count > target and time.monotonic() < deadline:
        time.sleep(0.2)
        count = open_fds(pid, not_to_port=node_port)
    return count


def client(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "benchmarks.pool_memory", *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def step(proc: subprocess.Popen[str], expect: str) -> None:
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    assert line == expect, f"the client said {line!r}, not {expect!r}"


def measure(
    pool_pid: int, port: int, authority: str, node_port: int, connections: int, cycle_count: int
) -> None:
    """Print the memory and fd figures of a running pool (its own lines of the bench's output)."""
    fds_idle = open_fds(pool_pid, not_to_port=node_port)
    baseline = rss_mb(pool_pid)
    holder = client("--hold", str(port), authority, str(connections))
    assert holder.stdin is not None
    step(holder, "connected")
    with_connections = rss_mb(pool_pid)
    holder.stdin.write("channels\n")
    holder.stdin.flush()
    step(holder, "channels")
    with_channels = rss_mb(pool_pid)
    holder.stdin.write("close\n")
    holder.stdin.flush()
    assert holder.wait(120) == 0
    print(
        f"pool memory: RSS {baseline:.0f} MB before, {with_connections:.0f} MB with {connections} idle "
        f"connections, {with_channels:.0f} MB with {connections} open channels (goal < 300 MB)"
    )
    before = settled_fds(pool_pid, node_port, fds_idle)
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "benchmarks.pool_memory", "--cycles", str(port), authority, str(cycle_count)],
        check=True,
    )
    seconds = time.perf_counter() - start
    after = settled_fds(pool_pid, node_port, before)
    print(
        f"pool fds: {before} before {cycle_count} connect/disconnect cycles ({seconds:.1f} s), {after} after"
        + ("" if after == before else " (LEAK)")
    )
    print(
        f"pool limits: connections={connections} rss_mb={with_connections:.0f} channels={connections} "
        f"rss_mb={with_channels:.0f} cycles={cycle_count} fds_before={before} fds_after={after}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hold", nargs=3, metavar=("PORT", "AUTHORITY", "N"))
    parser.add_argument("--cycles", nargs=3, metavar=("PORT", "AUTHORITY", "M"))
    args = parser.parse_args()
    if args.hold:
        port, authority, n = args.hold
        asyncio.run(hold(int(port), authority, int(n)))
    elif args.cycles:
        port, authority, m = args.cycles
        asyncio.run(cycles(int(port), authority, int(m)))
    else:
        parser.error("give --hold or --cycles (scripts/bench_pool runs this part for you)")


if __name__ == "__main__":
    main()
