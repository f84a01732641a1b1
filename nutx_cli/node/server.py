"""The `nutx node start` process: open the chainstate, write the cookie, serve RPC until signalled."""

from __future__ import annotations

import asyncio
import logging
import secrets
from dataclasses import dataclass
from pathlib import Path

from nutx_cli.errors import NutxError
from nutx_cli.local import COOKIE_NAME, COOKIE_USER
from nutx_cli.node.chainstate import ChainService
from nutx_cli.node.http import RpcHttpServer
from nutx_cli.node.rpc import NodeRpc
from nutx_cli.private_files import private_dir, write_private

log = logging.getLogger("nutx.node")


@dataclass(frozen=True)
class NodeConfig:
    data_dir: Path
    host: str
    rpc_port: int
    rpc_user: str | None = None
    rpc_password: str | None = None


def write_cookie(data_dir: Path) -> tuple[Path, str]:
    """bitcoind's `.cookie`: `__cookie__:<random hex>`, readable by the owner only."""
    path = data_dir / COOKIE_NAME
    secret = f"{COOKIE_USER}:{secrets.token_hex(32)}"
    write_private(path, secret)
    return path, secret


async def serve_node(config: NodeConfig, stop: asyncio.Event) -> None:
    """Run the node until `stop` is set (by a signal or the `stop` RPC)."""
    if (config.rpc_user is None) != (config.rpc_password is None):
        raise NutxError("give both --rpc-user and --rpc-password, or neither to use the cookie file")
    private_dir(config.data_dir)
    chain = ChainService(config.data_dir)
    tip = await chain.open()
    cookie: Path | None = None
    http = None
    try:
        if config.rpc_user is not None:
            credentials = [f"{config.rpc_user}:{config.rpc_password}"]
        else:
            cookie, secret = write_cookie(config.data_dir)
            credentials = [secret]
        http = RpcHttpServer(NodeRpc(chain, stop), credentials)
        try:
            port = await http.start(config.host, config.rpc_port)
        except OSError as exc:
            raise NutxError(
                f"cannot listen on {config.host}:{config.rpc_port} ({exc.strerror}); "
                "is another node running? pick another --rpc-port"
            ) from None
        auth = f"cookie {cookie}" if cookie else f"user {config.rpc_user}"
        print(f"nutx node ready: rpc http://{config.host}:{port} ({auth}) height {tip.height}", flush=True)
        await stop.wait()
        log.info("node stopping")
    finally:
        if http is not None:
            await http.close()
        await chain.close()
        if cookie is not None:
            cookie.unlink(missing_ok=True)
