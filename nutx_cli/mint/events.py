"""Who wants to hear of which mint object, and telling them when it changes (NUT-17's source).

The mint's parts call `MintEvents` right after the transaction that changed a proof's state, a quote's
state or an epoch commits: one call per kind of change, where it happens (swap and redeem burn
proofs, a melt reserves, burns or frees them, a mint quote is paid or issued, a melt quote goes
pending, paid or back to unpaid, an epoch opens, closes, confirms, matures, is orphaned or pays out).
Requests run in worker threads and listeners live on an event loop, so a listener is called from the
publishing thread and must hand the event over without blocking (`loop.call_soon_threadsafe`); a
listener that fails is logged and skipped, never failing the request whose change it was told.
Melts settled by `Melts.recover` at open are not told: nobody can be listening yet.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

from nutx_cli.core.epoch_json import Epoch
from nutx_cli.core.nut17 import SubscriptionKind
from nutx_cli.core.vocabulary import ProofState
from nutx_cli.mint.rows import SpendRow

log = logging.getLogger(__name__)

Listener = Callable[[str, dict[str, Any]], None]
"""Called with (key, payload) for each change of an object it listens to."""


class MintEvents:
    """Listeners by (kind, key): a quote id, a proof's Y (compressed hex) or an epoch number."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._listeners: dict[tuple[SubscriptionKind, str], set[Listener]] = {}

    def listen(self, kind: SubscriptionKind, keys: Iterable[str], listener: Listener) -> None:
        with self._lock:
            for key in keys:
                self._listeners.setdefault((kind, key), set()).add(listener)

    def forget(self, kind: SubscriptionKind, keys: Iterable[str], listener: Listener) -> None:
        with self._lock:
            for key in keys:
                listeners = self._listeners.get((kind, key))
                if listeners is not None:
                    listeners.discard(listener)
                    if not listeners:
                        del self._listeners[(kind, key)]

    def _publish(
        self, kind: SubscriptionKind, changes: Iterable[tuple[str, Callable[[], dict[str, Any]]]]
    ) -> None:
        """Tell the listeners of each (key, payload); payloads are made only for keys someone listens to."""
        with self._lock:
            if not self._listeners:
                return
            calls = [
                (list(found), key, payload)
                for key, payload in changes
                if (found := self._listeners.get((kind, key)))
            ]
        for listeners, key, payload in calls:
            made = payload()
            for listener in listeners:
                try:
                    listener(key, made)
                except Exception:  # the change is committed; a failing listener cannot undo it
                    log.exception("a listener of %s %s failed", kind, key)

    def proofs(self, spends: Iterable[SpendRow], state: ProofState) -> None:
        """The proofs of `spends` are now `state` (NUT-07 ProofState payloads, with the witness once SPENT)."""

        def payload(row: SpendRow) -> Callable[[], dict[str, Any]]:
            witness = row.witness if state == ProofState.SPENT else None
            return lambda: {"Y": row.Y.hex(), "state": state, "witness": witness}

        self._publish(SubscriptionKind.PROOF_STATE, ((row.Y.hex(), payload(row)) for row in spends))

    def mint_quote(self, quote: dict[str, Any]) -> None:
        self._publish(SubscriptionKind.BOLT11_MINT_QUOTE, [(quote["quote"], lambda: quote)])

    def melt_quote(self, quote: dict[str, Any]) -> None:
        self._publish(SubscriptionKind.BOLT11_MELT_QUOTE, [(quote["quote"], lambda: quote)])

    def epoch(self, epoch: Epoch) -> None:
        self._publish(SubscriptionKind.EHASH_EPOCH, [(str(epoch.epoch), epoch.to_json)])
