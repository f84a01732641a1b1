"""A process's open file descriptors (/proc/PID/fd), for leak tests and the pool benchmark (Linux).

The pool keeps one keep-alive connection to the node per worker thread, made when a thread first calls
the node: that count grows with the threads in use, not with miners. `open_fds(pid, not_to_port=P)`
leaves out TCP sockets whose peer port is P (the node's RPC port), so what remains moves only with the
pool's own listeners, miners and files.
"""

from __future__ import annotations

import os
from pathlib import Path


def _socket_peer_ports(pid: int) -> dict[str, int]:
    """socket inode → peer port, for the TCP sockets (v4 and v6) of `pid`'s network namespace."""
    ports: dict[str, int] = {}
    for table in ("tcp", "tcp6"):
        path = Path(f"/proc/{pid}/net/{table}")
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            fields = line.split()
            ports[fields[9]] = int(fields[2].rsplit(":", 1)[1], 16)
    return ports


def open_fds(pid: int, not_to_port: int | None = None) -> int:
    """How many fds `pid` holds open, without its TCP connections to `not_to_port`."""
    targets = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            targets.append(os.readlink(f"/proc/{pid}/fd/{fd}"))
        except FileNotFoundError:  # closed while we looked
            continue
    if not_to_port is None:
        return len(targets)
    peers = _socket_peer_ports(pid)
    return sum(
        1
        for target in targets
        if not (target.startswith("socket:[") and peers.get(target[8:-1]) == not_to_port)
    )
