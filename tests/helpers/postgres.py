"""A real PostgreSQL server for the tests: Debian's `postgresql` package (scripts/test installs it).

`initdb` in a temp dir, listening on 127.0.0.1 at a free port with its unix socket in that dir, trust
authentication (loopback only), stopped by `pg_ctl` when the session ends. PostgreSQL refuses to run
as root, so under root the server runs as the package's `postgres` user. `fsync` is off: the tests kill
nutx processes, not the server, and a commit is visible to every connection either way.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg

from tests.helpers.procs import free_port

SUPERUSER = "nutx"


def bin_dir() -> Path:
    """The newest PostgreSQL's bin dir of Debian's layout (/usr/lib/postgresql/<version>/bin)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    if not found:
        raise RuntimeError(
            "PostgreSQL is not installed: scripts/test installs it (apt-get install postgresql), or install it"
        )
    return found[-1].parent


@dataclass(frozen=True)
class PostgresServer:
    port: int
    dir: Path

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """A fresh, empty database on this server; its URL."""
        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)


def _as_server_user(args: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


def _run(args: list[str]) -> None:
    done = subprocess.run(
        _as_server_user(args), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False
    )
    if done.returncode:
        raise RuntimeError(f"{Path(args[0]).name} failed: {done.stderr.decode(errors='replace').strip()}")


@contextmanager
def postgres_server(*, fsync: bool = False) -> Iterator[PostgresServer]:
    """A running server for the duration of the block."""
    bindir = bin_dir()
    top = Path(tempfile.mkdtemp(prefix="nutx-pg-"))
    data = top / "data"
    if os.geteuid() == 0:
        shutil.chown(top, "postgres", "postgres")
    port = free_port()
    options = (
        f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories={top} "
        f"-c fsync={'on' if fsync else 'off'} -c max_connections=200"
    )
    try:
        _run([str(bindir / "initdb"), "-D", str(data), "-U", SUPERUSER, "--auth=trust", "-E", "UTF8"])
        _run(
            [
                str(bindir / "pg_ctl"),
                "-D",
                str(data),
                "-l",
                str(top / "server.log"),
                "-o",
                options,
                "-w",
                "start",
            ]
        )
        try:
            yield PostgresServer(port, top)
        finally:
            subprocess.run(
                _as_server_user([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"]),
                check=False,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
    finally:
        shutil.rmtree(top, ignore_errors=True)
