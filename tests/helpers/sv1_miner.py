"""A tiny Stratum V1 miner written from spec/stratum.md §7 (hashlib and sockets, no nutx code), as cpuminer
does it: the tests drive the proxy's SV1 port and the pool's own with it."""

from __future__ import annotations

import hashlib
import json
import socket
import struct
from typing import Any

DIFF1 = 0xFFFF << 208
"""SV1 difficulty 1 (§7.5)."""


def sha256d(data: bytes) -> bytes:
    return hashlib.sha256(hashlib.sha256(data).digest()).digest()


class Sv1Miner:
    """A tiny SV1 miner over a blocking socket, as cpuminer does it."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=20)
        self.file = self.sock.makefile("rb")
        self.pending: list[dict[str, Any]] = []
        self.next_id = 0

    def close(self) -> None:
        self.file.close()
        self.sock.close()

    def send(self, obj: dict[str, Any]) -> None:
        self.sock.sendall(json.dumps(obj).encode() + b"\n")

    def read(self) -> dict[str, Any]:
        line = self.file.readline()
        assert line, "the server closed the connection"
        return dict(json.loads(line))

    def call(self, method: str, params: list[Any]) -> dict[str, Any]:
        request_id = self.next_id
        self.next_id += 1
        self.send({"id": request_id, "method": method, "params": params})
        return self.response(request_id)

    def response(self, request_id: Any) -> dict[str, Any]:
        """The answer to `request_id`; notifications that arrive first are kept for later."""
        while True:
            msg = self.read()
            if msg.get("method"):
                self.pending.append(msg)
            elif msg.get("id") == request_id:
                return msg

    def next_clean_job(self, old_prevhash: str, difficulty: float) -> tuple[list[Any], float]:
        """The next clean notify on a new prev hash, and the difficulty in force for it (messages in order)."""
        while True:
            msg = self.pending.pop(0) if self.pending else self.read()
            if msg.get("method") == "mining.set_difficulty":
                difficulty = msg["params"][0]
            elif (
                msg.get("method") == "mining.notify" and msg["params"][8] and msg["params"][1] != old_prevhash
            ):
                return msg["params"], difficulty

    def notification(self, method: str) -> dict[str, Any]:
        while True:
            for i, msg in enumerate(self.pending):
                if msg["method"] == method:
                    return self.pending.pop(i)
            self.pending.append(self.read())


def mine_one(
    notify: list[Any],
    extranonce1: str,
    en2_size: int,
    target: int,
    counter: int,
    version_bits: int | None = None,
    miss: int | None = None,
) -> list[str]:
    """Grind nonces for one share; returns the submit params after the worker name (§7.4).

    With `version_bits` (BIP310, mask 1fffe000) the header's version carries them and the submit sends them;
    with `miss` the share's hash is above it (e.g. not a block).
    """
    job_id, prevhash, coinb1, coinb2, branch, version_hex, nbits, ntime, _ = notify
    version = int(version_hex, 16)
    if version_bits is not None:
        version = (version & ~0x1FFFE000) | version_bits
    extranonce2 = counter.to_bytes(en2_size, "big")
    root = sha256d(bytes.fromhex(coinb1 + extranonce1) + extranonce2 + bytes.fromhex(coinb2))
    for node in branch:
        root = sha256d(root + bytes.fromhex(node))
    prev = b"".join(bytes.fromhex(prevhash)[i : i + 4][::-1] for i in range(0, 32, 4))
    head = struct.pack("<I", version) + prev + root + struct.pack("<II", int(ntime, 16), int(nbits, 16))
    rolled = [] if version_bits is None else [f"{version_bits:08x}"]
    for nonce in range(1 << 32):
        value = int.from_bytes(sha256d(head + struct.pack("<I", nonce)), "little")
        if value <= target and (miss is None or value > miss):
            return [job_id, extranonce2.hex(), ntime, f"{nonce:08x}", *rolled]
    raise AssertionError("nonce space exhausted")
