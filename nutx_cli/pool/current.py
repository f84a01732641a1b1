"""The epoch the pool signs shares for (DESIGN.md §4): its tip, template and keyset, the header hashes its
shares took, and the lock under which it changes.

Who holds `lock` (each rule is enforced where it is stated again):
- the tip watch, from invalidating every job until the next epoch is open (`chain_watch.TipWatch`),
  so W_e is final at the close;
- a block-finding share, from submitblock until its signature is durable (`inflight.SharesInFlight`),
  so that share is signed into the epoch it won;
- a channel open, a retarget and a template refresh (`channel.Channels`, `chain_watch.TipWatch`), so
  every job is on the current template and epoch.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from nutx_cli.pool.epochs import Tip
from nutx_cli.pool.template import Template
from nutx_cli.sv2.ecash import EcashKeyset


class SeenShares:
    """Header hashes of the epoch's shares that are signed or being signed: the duplicate check.

    A share that passed the checks holds its hash while it is signed; the hash stays only if the
    signature came out, so a share refused by the mint (or lost to a shutdown) may be sent again.
    """

    def __init__(self) -> None:
        self._hashes: set[bytes] = set()

    def __contains__(self, digest: object) -> bool:
        return digest in self._hashes

    def hold(self, digest: bytes, signing: asyncio.Future[Any]) -> None:
        """Take `digest` until `signing` is done; keep it if `signing` has a result."""
        self._hashes.add(digest)
        signing.add_done_callback(self._settle(digest))

    def _settle(self, digest: bytes) -> Callable[[asyncio.Future[Any]], None]:
        def settle(signing: asyncio.Future[Any]) -> None:
            if signing.cancelled() or signing.exception() is not None:
                self._hashes.discard(digest)

        return settle


@dataclass
class CurrentEpoch:
    """The open epoch as the pool sees it; `known_keysets` holds every epoch keyset the mint has."""

    number: int
    tip: Tip
    template: Template
    keyset: EcashKeyset
    known_keysets: set[str]
    seen: SeenShares = field(default_factory=SeenShares)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def __post_init__(self) -> None:
        self.known_keysets.add(self.keyset_id)

    @property
    def keyset_id(self) -> str:
        return self.keyset.keyset_id.hex()

    def enter(self, number: int, tip: Tip, template: Template, keyset: EcashKeyset) -> None:
        """Switch to epoch `number`; no header hash of the old epoch is a duplicate in the new one."""
        self.number = number
        self.tip = tip
        self.template = template
        self.keyset = keyset
        self.known_keysets.add(self.keyset_id)
        self.seen = SeenShares()
