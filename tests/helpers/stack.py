"""A real node and pool for end-to-end tests: free loopback ports, temp data dirs, stopped by PID."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.helpers.procs import free_port, nutx_process, port_open


@dataclass
class Stack:
    tmp: Path
    rpc: int = field(default_factory=free_port)
    sv2: int = field(default_factory=free_port)
    http: int = field(default_factory=free_port)
    admin: int = field(default_factory=free_port)
    node_rpc: str = ""
    pool_data: Path | None = None  # default <tmp>/pool; $HOME/.nutx/pool lets roles find it with no flags
    env: dict[str, str] | None = None  # for the pool process, e.g. {"HOME": ...}

    @property
    def node_dir(self) -> Path:
        return self.tmp / "node"

    @property
    def pool_dir(self) -> Path:
        return self.pool_data or self.tmp / "pool"

    @property
    def mint_url(self) -> str:
        return f"http://127.0.0.1:{self.http}"

    @property
    def admin_url(self) -> str:
        return f"http://127.0.0.1:{self.admin}"

    def pool_args(self, *flags: str) -> list[str]:
        return [
            "pool",
            "start",
            "--data-dir",
            str(self.pool_dir),
            "--node-rpc",
            f"http://127.0.0.1:{self.rpc}",
            "--node-cookie",
            str(self.node_dir / ".cookie"),
            "--sv2-port",
            str(self.sv2),
            "--http-port",
            str(self.http),
            "--admin-port",
            str(self.admin),
            *flags,
        ]

    @contextmanager
    def pool(self, *flags: str, log: str = "pool.log") -> Iterator[None]:
        """`nutx pool start` on this stack's ports (start it again after a stop for a restart)."""
        with nutx_process(
            self.pool_args(*flags),
            self.tmp / log,
            env=self.env,
            ready=lambda: (self.pool_dir / "pool.json").exists() and port_open(self.admin),
        ):
            yield

    def miner_args(self, wallet_dir: Path, *flags: str) -> list[str]:
        return [
            "mine",
            "--cpu",
            "--threads",
            "1",
            "--wallet-dir",
            str(wallet_dir),
            "--pool-dir",
            str(self.pool_dir),
            *flags,
        ]


@contextmanager
def node(tmp: Path, *, pool_dir: Path | None = None, env: dict[str, str] | None = None) -> Iterator[Stack]:
    """`nutx node start`; the stack's pool is started with `stack.pool(...)`."""
    stack = Stack(tmp, pool_data=pool_dir, env=env)
    cookie = stack.node_dir / ".cookie"
    with nutx_process(
        ["node", "start", "--data-dir", str(stack.node_dir), "--rpc-port", str(stack.rpc)],
        tmp / "node.log",
        ready=lambda: cookie.exists() and port_open(stack.rpc),
    ):
        stack.node_rpc = f"http://{cookie.read_text().strip()}@127.0.0.1:{stack.rpc}"
        yield stack


@contextmanager
def node_and_pool(
    tmp: Path, *pool_flags: str, pool_dir: Path | None = None, env: dict[str, str] | None = None
) -> Iterator[Stack]:
    """`nutx node start` and `nutx pool start POOL_FLAGS`, ready to mine on."""
    with node(tmp, pool_dir=pool_dir, env=env) as stack, stack.pool(*pool_flags):
        yield stack
