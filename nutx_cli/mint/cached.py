"""NUT-19 cached responses: a wallet that lost the answer to a mint, swap, melt or redeem may send it again.

The key of a request is SHA256 of its method, path and body (as canonical JSON: sorted keys, no spaces),
so only the identical request finds the answer; one that differs in anything is processed as usual
(its outputs, signed before, then get blinded-message-reused). Answers of successful requests are
kept in the mint's store for `TTL_S` seconds, so a restart keeps them; each new answer clears the
expired ones. An answer is stored after its request committed, in a transaction of its own: a crash in
between loses only the cached copy, and the wallet still has NUT-09 restore.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from nutx_cli.mint.store import MintStore

TTL_S = 24 * 3600
CACHED_PATHS = ("/v1/mint/bolt11", "/v1/swap", "/v1/melt/bolt11", "/v1/mining/redeem")


def request_key(method: str, path: str, body: Any) -> bytes:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{method} {path}\n{canonical}".encode()).digest()


class CachedResponses:
    """The stored answers of one mint's cached endpoints."""

    def __init__(self, store: MintStore, ttl: int = TTL_S) -> None:
        self._store = store
        self.ttl = ttl

    def get(self, key: bytes, now: int) -> str | None:
        return self._store.cached_response(key, now - self.ttl)

    def put(self, key: bytes, response: str, now: int) -> None:
        with self._store.transaction():
            self._store.cache_response(key, response, now, now - self.ttl)

    def info_json(self) -> dict[str, Any]:
        """The NUT-06 setting "19"."""
        return {"ttl": self.ttl, "cached_endpoints": [{"method": "POST", "path": p} for p in CACHED_PATHS]}
