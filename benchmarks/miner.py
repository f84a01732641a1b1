"""Hashes/s of the CPU miner's hashing processes (1 and 2), against a bare hashlib midstate loop.
Last line: miner: hps_1=X hps_2=Y hashlib_1=Z ratio_1=X/Z ratio_2=Y/(2Z)
"""

import hashlib
import struct
import sys
import time

from nutx_cli.miner.hashers import Hashers, HashJob

SECONDS = float(sys.argv[1]) if len(sys.argv) > 1 else 5.0


def bare_hashlib(seconds: float) -> float:
    """The loop a Python miner cannot beat: midstate copy, tail update, second SHA-256."""
    mid = hashlib.sha256(bytes(64))
    tail = bytes(12)
    pack = struct.Struct("<I").pack
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for nonce in range(n, n + 50_000):
            h = mid.copy()
            h.update(tail + pack(nonce))
            hashlib.sha256(h.digest()).digest()
        n += 50_000
    return n / (time.perf_counter() - start)


def miner(threads: int, seconds: float) -> float:
    hashers = Hashers(threads)
    try:
        job = HashJob(
            1,
            b"\x01" * 42,
            b"\x02" * 40,
            8,
            (b"\x03" * 32,),
            0x20000000,
            bytes(32),
            1_700_000_000,
            0x207FFFFF,
            1,
        )  # target 1: nothing is ever found, every hash is counted
        hashers.set_job(job)
        time.sleep(1.0)  # processes started and warm
        before, start = hashers.hashes_done(), time.perf_counter()
        time.sleep(seconds)
        return (hashers.hashes_done() - before) / (time.perf_counter() - start)
    finally:
        hashers.stop()


if __name__ == "__main__":
    z = bare_hashlib(SECONDS)
    print(f"bare hashlib midstate loop, one core: {z:,.0f} H/s")
    x = miner(1, SECONDS)
    print(f"miner, 1 hashing process:             {x:,.0f} H/s")
    y = miner(2, SECONDS)
    print(f"miner, 2 hashing processes:           {y:,.0f} H/s")
    print(
        f"miner: hps_1={x:.0f} hps_2={y:.0f} hashlib_1={z:.0f} ratio_1={x / z:.2f} ratio_2={y / (2 * z):.2f}"
    )
