"""How roles find each other on one machine with no flags (DESIGN.md §1, §5).

The node writes `<node data-dir>/.cookie` (bitcoind's `__cookie__:password`); the pool writes
`<pool data-dir>/pool.json`. Other roles read them through these functions.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nutx_cli.errors import NutxError

DEFAULT_RPC_PORT = 18443
DEFAULT_SV2_PORT = 34254
DEFAULT_HTTP_PORT = 3338
DEFAULT_ADMIN_PORT = 3340
DEFAULT_SV1_PORT = 3333
DEFAULT_PROXY_ADMIN_PORT = 3341
COOKIE_NAME = ".cookie"
COOKIE_USER = "__cookie__"
POOL_JSON = "pool.json"


def nutx_home() -> Path:
    return Path.home() / ".nutx"


def cookie_path(node_data_dir: Path | None = None) -> Path:
    """The local node's cookie file (`~/.nutx/node/.cookie` by default)."""
    return (node_data_dir or nutx_home() / "node") / COOKIE_NAME


def read_cookie(cookie: Path) -> str:
    """`__cookie__:password` from a node's cookie file (the node writes a new one at each start)."""
    try:
        user_pass = cookie.read_text().strip()
    except FileNotFoundError:
        raise NutxError(
            f"no node cookie at {cookie}: start the node (`nutx node start`, or bitcoind off regtest) or pass "
            "--node-rpc URL / --node-cookie PATH"
        ) from None
    except OSError as exc:
        raise NutxError(
            f"cannot read the node cookie {cookie} ({exc.strerror}); check --node-cookie"
        ) from None
    if ":" not in user_pass:
        raise NutxError(f"{cookie} is not a node cookie (user:password); check --node-cookie")
    return user_pass


@dataclass(frozen=True)
class PoolInfo:
    """The contents of pool.json (DESIGN §5)."""

    sv2: str
    authority_key: str
    http: str
    admin: str
    network: str

    def to_json(self) -> dict[str, Any]:
        return {
            "sv2": self.sv2,
            "authority_key": self.authority_key,
            "http": self.http,
            "admin": self.admin,
            "network": self.network,
        }


def write_pool_json(pool_data_dir: Path, info: PoolInfo) -> Path:
    path = pool_data_dir / POOL_JSON
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(info.to_json(), indent=2) + "\n")
    tmp.replace(path)
    return path


def read_pool_json(pool_data_dir: Path | None = None) -> PoolInfo:
    path = (pool_data_dir or nutx_home() / "pool") / POOL_JSON
    try:
        data = json.loads(path.read_text())
        return PoolInfo(**{k: data[k] for k in ("sv2", "authority_key", "http", "admin", "network")})
    except FileNotFoundError:
        raise NutxError(
            f"no pool found at {path}: start one with `nutx pool start`, or pass --pool/--authority-key"
        ) from None
    except (ValueError, KeyError, TypeError) as exc:
        raise NutxError(f"{path} is damaged ({exc}); restart the pool to rewrite it") from exc
