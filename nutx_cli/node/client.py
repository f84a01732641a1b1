"""The RPC client the pool, the CLI and tests use: python-bitcoinrpc against the node or a real bitcoind.

`NodeClient.call` turns transport failures into a NutxError that says how to start the node, and
bitcoind's JSON-RPC errors into `NodeRpcError` with the code. One AuthServiceProxy per thread, so
`asyncio.to_thread(client.call, ...)` can long-poll on one thread while other threads submit.
"""

from __future__ import annotations

import http.client
import logging
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bitcoinrpc.authproxy import AuthServiceProxy, JSONRPCException

from nutx_cli.errors import NutxError
from nutx_cli.local import COOKIE_USER, DEFAULT_RPC_PORT, cookie_path, read_cookie

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 60.0
"""Seconds an RPC may take; long enough for a getblocktemplate long-poll (20 s on the embedded node)."""


class NodeRpcError(NutxError):
    """The node answered with a JSON-RPC error (bitcoind's code and message)."""

    def __init__(self, method: str, code: int | None, message: str) -> None:
        super().__init__(f"node RPC {method} failed ({code}): {message}")
        self.method = method
        self.code = code
        self.rpc_message = message


class NodeUnreachable(NutxError):
    """No node listens at the URL, or it refused our credentials."""


class NodeClient:
    """A bitcoind JSON-RPC client; `call("getblockcount")` → 101."""

    def __init__(
        self,
        url: str,
        timeout: float = DEFAULT_TIMEOUT,
        cookie_url: Callable[[], str] | None = None,
        gbt_rules: Sequence[str] = ("segwit",),
    ) -> None:
        """`cookie_url` re-reads a cookie file: a restarted node writes a new cookie, as bitcoind does.
        `gbt_rules` are the rules getblocktemplate is called with (the network's, `core.networks`)."""
        self._cookie_url = cookie_url
        self.gbt_rules = list(gbt_rules)
        parts = urlsplit(url)
        if (
            parts.scheme not in ("http", "https")
            or not parts.hostname
            or parts.username is None
            or not parts.password
        ):
            raise NutxError(f"--node-rpc {redact(url)!r} is not an http://user:pass@host:port URL")
        self.url = url
        self.timeout = timeout
        self._local = threading.local()

    @property
    def display_url(self) -> str:
        return redact(self.url)

    def _proxy(self) -> AuthServiceProxy:
        proxy = getattr(self._local, "proxy", None)
        if proxy is None or self._local.url != self.url:
            proxy = AuthServiceProxy(self.url, timeout=self.timeout)
            self._local.proxy, self._local.url = proxy, self.url
        return proxy

    def _reread_cookie(self) -> bool:
        """Take the node's current cookie; True if it changed (so the call is worth retrying)."""
        if self._cookie_url is None:
            return False
        try:
            url = self._cookie_url()
        except NutxError:
            return False
        changed, self.url = url != self.url, url
        return changed

    def call(self, method: str, *params: Any) -> Any:
        """Call one RPC method; retries once on a stale keep-alive connection (e.g. after a node restart)."""
        for attempt in (1, 2):
            try:
                return getattr(self._proxy(), method)(*params)
            except JSONRPCException as exc:
                if exc.code == -342 and "401" in str(exc.message):
                    if attempt == 1 and self._reread_cookie():
                        continue
                    raise NodeUnreachable(
                        f"the node at {self.display_url} refused our credentials: check "
                        "--node-rpc user:password or --node-cookie PATH"
                    ) from None
                if exc.code in (-342, -343):
                    self._local.proxy = None
                    raise NodeUnreachable(
                        f"the node at {self.display_url} gave a bad reply: {exc.message}"
                    ) from None
                raise NodeRpcError(method, exc.code, str(exc.message)) from None
            except (
                http.client.RemoteDisconnected,
                BrokenPipeError,
                ConnectionResetError,
                http.client.CannotSendRequest,
                http.client.ResponseNotReady,
            ) as exc:
                self._local.proxy = None
                if attempt == 2:
                    raise self._unreachable(exc) from None
            except (OSError, http.client.HTTPException) as exc:
                self._local.proxy = None
                raise self._unreachable(exc) from None
        raise AssertionError("unreachable")

    def _unreachable(self, exc: Exception) -> NodeUnreachable:
        return NodeUnreachable(
            f"cannot reach the node at {self.display_url} ({exc.__class__.__name__}: {exc}): "
            "start it with `nutx node start` or pass --node-rpc URL"
        )

    # -- the calls the pool and the CLI use ------------------------------------------------------------

    def getblocktemplate(self, longpollid: str | None = None) -> dict[str, Any]:
        request: dict[str, Any] = {"rules": self.gbt_rules}
        if longpollid is not None:
            request["longpollid"] = longpollid
        return dict(self.call("getblocktemplate", request))

    def submitblock(self, block: bytes) -> str | None:
        result = self.call("submitblock", block.hex())
        return None if result is None else str(result)

    def getbestblockhash(self) -> str:
        return str(self.call("getbestblockhash"))

    def getblockcount(self) -> int:
        return int(self.call("getblockcount"))

    def getblockheader(self, block_hash: str, verbose: bool = True) -> Any:
        return self.call("getblockheader", block_hash, verbose)

    def generatetoaddress(self, count: int, address: str) -> list[str]:
        return list(self.call("generatetoaddress", count, address))

    def reorg(self, depth: int, address: str | None = None) -> dict[str, Any]:
        """The embedded node's reorg lever (not a bitcoind method)."""
        return dict(self.call("reorg", depth, *([address] if address else [])))

    def waitfornewblock(self, timeout_ms: int = 0) -> dict[str, Any]:
        return dict(self.call("waitfornewblock", timeout_ms))


def redact(url: str) -> str:
    """The URL without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return parts._replace(netloc=netloc).geturl()


def connect(
    node_rpc: str | None = None,
    *,
    node_cookie: Path | None = None,
    node_data_dir: Path | None = None,
    host: str = "127.0.0.1",
    port: int = DEFAULT_RPC_PORT,
    timeout: float = DEFAULT_TIMEOUT,
    gbt_rules: Sequence[str] = ("segwit",),
) -> NodeClient:
    """A client for the node, from the flags every role that talks to it takes.

    `--node-rpc http://user:pass@host:port` carries fixed credentials (`--rpc-user`, rpcauth).
    `--node-cookie PATH` takes them from a cookie file instead, with `--node-rpc http://host:port`
    or the default host and port; with neither flag, the local node's `<data-dir>/.cookie`. A
    cookie file is re-read when the node refuses it, since a restarted node writes a new one, and
    it keeps the secret off command lines (which every local user can read in /proc).
    """
    if node_rpc and node_cookie is None:
        if urlsplit(node_rpc).username == COOKIE_USER:
            log.warning(
                "--node-rpc carries the node's cookie, which a restarted node replaces and every local "
                "user can read on the command line: pass --node-rpc http://HOST:PORT --node-cookie PATH"
            )
        return NodeClient(node_rpc, timeout, gbt_rules=gbt_rules)
    cookie = node_cookie or cookie_path(node_data_dir)
    base = urlsplit(node_rpc or f"http://{host}:{port}")
    if base.username is not None or base.password is not None:
        raise NutxError(
            f"--node-rpc {redact(base.geturl())!r} has credentials and --node-cookie others: "
            "give the URL as http://host:port"
        )

    def url() -> str:
        return base._replace(netloc=f"{read_cookie(cookie)}@{base.netloc}").geturl()

    return NodeClient(url(), timeout, cookie_url=url, gbt_rules=gbt_rules)
