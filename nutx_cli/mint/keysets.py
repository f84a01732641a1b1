"""The mint's keysets (NUT-01/02, DESIGN §4): derived from the seed, checked at open, looked up by id.

One `sat` keyset (index 0) and one `ehash` keyset per epoch (index = the epoch). Every keyset is
derived again from the master seed when the mint opens and must match its stored id, so a changed
seed or a damaged data dir stops the mint instead of signing with keys nobody published. A keyset
another process added to a shared database (the next epoch's, opened by another pool front end) is
read and derived the same way the first time it is asked for.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from nutx_cli.core.epoch_json import Epoch
from nutx_cli.core.epoch_status import ACTIVE
from nutx_cli.core.keysets import Keyset, derive_keyset, short_keyset_id
from nutx_cli.core.vocabulary import Unit
from nutx_cli.errors import NutxError
from nutx_cli.mint.errors import MintError
from nutx_cli.mint.rows import KeysetRow
from nutx_cli.mint.store import MintStore


class MintKeysets:
    """Every keyset of one mint, by full id or by the 16-hex short id of a version-01 id."""

    def __init__(self, store: MintStore, seed: bytes, now: int) -> None:
        self._store = store
        self._seed = seed
        self._by_id: dict[str, Keyset] = {}
        self._epoch_of: dict[str, int | None] = {}
        self._short_ids: dict[str, str] = {}
        self.sat = self._load(now)

    def _load(self, now: int) -> Keyset:
        """Derive every stored keyset again and check it matches (a changed seed would be fatal)."""
        with self._store.transaction():
            self._store.lock_setup()
            rows = self._store.keysets()
            if not any(r.unit == Unit.SAT for r in rows):
                keyset = derive_keyset(self._seed, Unit.SAT, 0)
                self._store.add_keyset(keyset.id, Unit.SAT, 0, None, keyset.input_fee_ppk, now)
                rows = self._store.keysets()
        sat: Keyset | None = None
        for r in rows:
            keyset = self._derive(r)
            if r.unit == Unit.SAT:
                sat = keyset
        assert sat is not None
        return sat

    def _derive(self, row: KeysetRow) -> Keyset:
        """A stored keyset derived again, checked and remembered (a changed seed would be fatal)."""
        keyset = derive_keyset(self._seed, row.unit, row.idx, input_fee_ppk=row.input_fee_ppk)
        if keyset.id != row.id:
            raise NutxError(f"keyset {row.id} does not derive from this mint's seed: the data dir is damaged")
        self.remember(keyset, row.epoch)
        return keyset

    def add_epoch_keyset(self, epoch: int, now: int) -> Keyset:
        """Derive epoch `epoch`'s ehash keyset and store it (inside the caller's transaction);
        `remember` it once that transaction has committed."""
        keyset = derive_keyset(self._seed, Unit.EHASH, epoch)
        self._store.add_keyset(keyset.id, Unit.EHASH, epoch, epoch, keyset.input_fee_ppk, now)
        return keyset

    def remember(self, keyset: Keyset, epoch: int | None) -> None:
        self._by_id[keyset.id] = keyset
        self._epoch_of[keyset.id] = epoch
        self._short_ids[short_keyset_id(keyset.id)] = keyset.id

    def get(self, keyset_id: str) -> Keyset:
        """A keyset by full id (or the 16-hex short id of a version-01 id); unknown-keyset otherwise."""
        full = self._short_ids.get(keyset_id, keyset_id) if len(keyset_id) == 16 else keyset_id
        keyset = self._by_id.get(full)
        if keyset is None:
            row = self._store.keyset_row(keyset_id)
            if row is None:
                raise MintError("unknown-keyset", f"keyset {keyset_id} is not known to this mint")
            keyset = self._derive(row)
        return keyset

    def all(self) -> Iterable[Keyset]:
        """Every keyset, those another process added since included."""
        for row in self._store.keysets():
            if row.id not in self._by_id:
                self._derive(row)
        return list(self._by_id.values())

    def epoch_of(self, keyset: Keyset) -> int | None:
        """The epoch of an ehash keyset; None for a sat keyset."""
        return self._epoch_of.get(keyset.id)

    def is_active(self, keyset: Keyset) -> bool:
        """NUT-02 `active`: the current sat keyset, and ehash keysets of open, won or mature epochs."""
        epoch = self._epoch_of.get(keyset.id)
        if epoch is None:
            return keyset.id == self.sat.id
        return self._store.epoch_status(epoch) in ACTIVE

    # -- JSON (GET /v1/keysets, /v1/keys, /v1/mining/keysets) -------------------------------------

    def sat_keysets(self) -> list[Keyset]:
        return [k for k in self._by_id.values() if k.unit == Unit.SAT]

    def keyset_json(self, keyset: Keyset) -> dict[str, Any]:
        return {
            "id": keyset.id,
            "unit": keyset.unit,
            "active": self.is_active(keyset),
            "input_fee_ppk": keyset.input_fee_ppk,
            "final_expiry": keyset.final_expiry,
        }

    def keysets_json(self) -> dict[str, Any]:
        """GET /v1/keysets: the `sat` keysets only (ehash ones are at /v1/mining/keysets)."""
        return {"keysets": [self.keyset_json(k) for k in self.sat_keysets()]}

    def keys_json(self, keyset_id: str | None = None) -> dict[str, Any]:
        """GET /v1/keys (active sat keysets) or /v1/keys/{id} (any keyset, ehash included)."""
        chosen = [self.get(keyset_id)] if keyset_id else [k for k in self.sat_keysets() if self.is_active(k)]
        return {"keysets": [{**self.keyset_json(k), "keys": k.public_json()["keys"]} for k in chosen]}

    def mining_keysets_json(self, epochs: Iterable[Epoch]) -> dict[str, Any]:
        """GET /v1/mining/keysets: each epoch's ehash keyset with the epoch's status (DESIGN §5)."""
        return {
            "keysets": [
                {
                    "id": e.keyset_id,
                    "unit": Unit.EHASH,
                    "active": e.status in ACTIVE,
                    "input_fee_ppk": self.get(e.keyset_id).input_fee_ppk,
                    "epoch": e.epoch,
                    "status": e.status,
                    "k_max": e.k_max,
                }
                for e in epochs
            ]
        }
