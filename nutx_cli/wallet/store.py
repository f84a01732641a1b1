"""The wallet's SQLite store: every SQL statement of the wallet lives here.

One file per wallet dir, WAL mode with `synchronous=FULL`: a COMMIT is on disk when it returns,
which is what "the secret is stored before the share is submitted" relies on (DESIGN §8). Writes
go through `transaction()` (BEGIN IMMEDIATE … COMMIT, re-entrant, behind a lock because the miner
and the proxy call in from the event loop while a TUI may read from a worker thread).

Amounts of proofs are powers of two up to 2^63, which SQLite's signed INTEGER cannot hold, so
proof rows keep `amount_log2`; totals are summed in Python. A failing database raises
`WalletStoreError`, never sqlite3's own errors. (Past 400 lines because all of the wallet's SQL is
here, on purpose.)
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nutx_cli.core.epoch_status import EpochStatus
from nutx_cli.core.models import DLEQ, Proof
from nutx_cli.core.vocabulary import Unit
from nutx_cli.errors import NutxError
from nutx_cli.sqlite_store import SqliteStore, StoreError

DB_NAME = "wallet.sqlite3"
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS keysets (
    id TEXT PRIMARY KEY, unit TEXT NOT NULL, epoch INTEGER, active INTEGER NOT NULL,
    input_fee_ppk INTEGER NOT NULL, status TEXT, price TEXT, keys TEXT, updated_at INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS keysets_epoch ON keysets (epoch);
CREATE TABLE IF NOT EXISTS counters (keyset_id TEXT PRIMARY KEY, next INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS proofs (
    Y TEXT PRIMARY KEY, secret TEXT NOT NULL UNIQUE, keyset_id TEXT NOT NULL, unit TEXT NOT NULL,
    epoch INTEGER, amount_log2 INTEGER NOT NULL, C TEXT NOT NULL, dleq_e TEXT, dleq_s TEXT, dleq_r TEXT,
    state TEXT NOT NULL, created_at INTEGER NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS proofs_unit ON proofs (unit, epoch, state);
CREATE TABLE IF NOT EXISTS pending_shares (
    id INTEGER PRIMARY KEY, keyset_id TEXT NOT NULL, epoch INTEGER NOT NULL, counter INTEGER NOT NULL,
    amount_log2 INTEGER NOT NULL, secret TEXT NOT NULL, r BLOB NOT NULL, B_ BLOB NOT NULL UNIQUE,
    state TEXT NOT NULL, reason TEXT, created_at INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS pending_shares_epoch ON pending_shares (epoch);
CREATE TABLE IF NOT EXISTS dleq_failures (
    id INTEGER PRIMARY KEY, at INTEGER NOT NULL, context TEXT NOT NULL, keyset_id TEXT NOT NULL,
    amount_log2 INTEGER NOT NULL, B_ BLOB NOT NULL, C_ BLOB NOT NULL, e BLOB NOT NULL, s BLOB NOT NULL,
    K BLOB NOT NULL, secret TEXT NOT NULL, r BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS history (
    id INTEGER PRIMARY KEY, at INTEGER NOT NULL, kind TEXT NOT NULL, unit TEXT NOT NULL,
    amount INTEGER NOT NULL, epoch INTEGER, detail TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS mint_quotes (
    quote TEXT PRIMARY KEY, amount INTEGER NOT NULL, request TEXT NOT NULL, state TEXT NOT NULL,
    created_at INTEGER NOT NULL);
"""

UNSPENT = "unspent"
PENDING = "pending"
"""A proof handed to the mint in a request whose answer has not been seen yet."""
RESERVED = "reserved"
"""A proof put into a token this wallet sent; it belongs to the receiver once they swap it."""

SHARE_PENDING = "pending"
SHARE_FAILED = "failed"


def log2(amount: int) -> int:
    """Exponent of a power-of-two amount (nutx keysets have no other amounts)."""
    if amount <= 0 or amount & (amount - 1):
        raise NutxError(f"amount {amount} is not a power of two")
    return amount.bit_length() - 1


def now_s() -> int:
    return int(time.time())


@dataclass(frozen=True)
class StoredProof:
    """A proof the wallet holds, with what the wallet knows about it."""

    proof: Proof
    unit: str
    epoch: int | None
    state: str

    @property
    def amount(self) -> int:
        return self.proof.amount


@dataclass(frozen=True)
class PendingShareRow:
    """A share's secret and blinding factor, stored before the share went to the pool."""

    id: int
    keyset_id: str
    epoch: int
    counter: int
    amount: int
    secret: str
    r: bytes
    B_: bytes
    state: str
    reason: str | None


@dataclass(frozen=True)
class KeysetRow:
    """A keyset as last seen from the mint (keys cached for unblinding and DLEQ checks)."""

    id: str
    unit: str
    epoch: int | None
    active: bool
    input_fee_ppk: int
    status: EpochStatus | None
    price: str | None
    keys: dict[int, bytes] | None


def _proof_row(p: StoredProof) -> dict[str, Any]:
    d = p.proof.dleq
    return {
        "Y": p.proof.Y,
        "secret": p.proof.secret,
        "keyset_id": p.proof.id,
        "unit": p.unit,
        "epoch": p.epoch,
        "amount_log2": log2(p.proof.amount),
        "C": p.proof.C,
        "dleq_e": d.e if d else None,
        "dleq_s": d.s if d else None,
        "dleq_r": d.r if d else None,
        "state": p.state,
        "created_at": now_s(),
    }


def _stored_proof(row: dict[str, Any]) -> StoredProof:
    dleq = None
    if row["dleq_e"] is not None and row["dleq_s"] is not None:
        dleq = DLEQ(e=row["dleq_e"], s=row["dleq_s"], r=row["dleq_r"])
    proof = Proof(
        amount=1 << row["amount_log2"], id=row["keyset_id"], secret=row["secret"], C=row["C"], dleq=dleq
    )
    return StoredProof(proof, row["unit"], row["epoch"], row["state"])


def _keyset_row(row: dict[str, Any]) -> KeysetRow:
    keys = None
    if row["keys"] is not None:
        keys = {1 << int(k): bytes.fromhex(v) for k, v in json.loads(row["keys"]).items()}
    return KeysetRow(
        row["id"],
        row["unit"],
        row["epoch"],
        bool(row["active"]),
        row["input_fee_ppk"],
        None if row["status"] is None else EpochStatus(row["status"]),
        row["price"],
        keys,
    )


class WalletStoreError(StoreError):
    """The wallet's database failed; the message names the file."""


class WalletStore(SqliteStore):
    """All persistent state of one wallet (issue 7: seed, counters, proofs, pending shares, history)."""

    error = WalletStoreError

    def __init__(self, path: Path) -> None:
        super().__init__(path, _SCHEMA, SCHEMA_VERSION)

    @classmethod
    def in_dir(cls, wallet_dir: Path) -> WalletStore:
        return cls(wallet_dir / DB_NAME)

    def _execute_in(self, sql_prefix: str, values: Sequence[Any], extra: Sequence[Any] = ()) -> None:
        """`sql_prefix (?,…)` for each chunk of `values`, below SQLite's parameter limit."""
        for i in range(0, len(values), 500):
            chunk = list(values[i : i + 500])
            self.db.execute(f"{sql_prefix} ({','.join('?' * len(chunk))})", [*extra, *chunk])

    # -- keysets and counters ---------------------------------------------------------------------

    def upsert_keyset(
        self,
        keyset_id: str,
        unit: str,
        *,
        epoch: int | None,
        active: bool,
        input_fee_ppk: int,
        status: EpochStatus | None = None,
        price: str | None = None,
        keys: dict[int, bytes] | None = None,
    ) -> None:
        """Insert or refresh a keyset; cached keys and a known status are kept unless new ones are given."""
        keys_json = None if keys is None else json.dumps({str(log2(a)): k.hex() for a, k in keys.items()})
        self.db.execute(
            "INSERT INTO keysets (id, unit, epoch, active, input_fee_ppk, status, price, keys, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
            "unit = excluded.unit, epoch = COALESCE(excluded.epoch, epoch), active = excluded.active, "
            "input_fee_ppk = excluded.input_fee_ppk, status = COALESCE(excluded.status, status), "
            "price = COALESCE(excluded.price, price), keys = COALESCE(excluded.keys, keys), "
            "updated_at = excluded.updated_at",
            [keyset_id, unit, epoch, int(active), input_fee_ppk, status, price, keys_json, now_s()],
        )

    def keyset(self, keyset_id: str) -> KeysetRow | None:
        rows = self._rows("SELECT * FROM keysets WHERE id = ?", [keyset_id])
        return _keyset_row(rows[0]) if rows else None

    def keysets(self, unit: str | None = None) -> list[KeysetRow]:
        if unit is None:
            return [_keyset_row(r) for r in self._rows("SELECT * FROM keysets ORDER BY unit, epoch")]
        return [
            _keyset_row(r) for r in self._rows("SELECT * FROM keysets WHERE unit = ? ORDER BY epoch", [unit])
        ]

    def keyset_for_epoch(self, epoch: int) -> KeysetRow | None:
        rows = self._rows("SELECT * FROM keysets WHERE unit = 'ehash' AND epoch = ?", [epoch])
        return _keyset_row(rows[0]) if rows else None

    def set_epoch_status(self, epoch: int, status: EpochStatus, price: str | None) -> None:
        self.db.execute(
            "UPDATE keysets SET status = ?, price = COALESCE(?, price), updated_at = ? "
            "WHERE unit = 'ehash' AND epoch = ?",
            [status, price, now_s(), epoch],
        )

    def reserve_counters(self, keyset_id: str, n: int) -> int:
        """Take `n` consecutive NUT-13 counters of a keyset; returns the first one."""
        rows = self._rows("SELECT next FROM counters WHERE keyset_id = ?", [keyset_id])
        start = rows[0]["next"] if rows else 0
        self.db.execute(
            "INSERT INTO counters (keyset_id, next) VALUES (?, ?) "
            "ON CONFLICT (keyset_id) DO UPDATE SET next = excluded.next",
            [keyset_id, start + n],
        )
        return int(start)

    def counter(self, keyset_id: str) -> int:
        rows = self._rows("SELECT next FROM counters WHERE keyset_id = ?", [keyset_id])
        return int(rows[0]["next"]) if rows else 0

    def raise_counter(self, keyset_id: str, at_least: int) -> None:
        self.db.execute(
            "INSERT INTO counters (keyset_id, next) VALUES (?, ?) "
            "ON CONFLICT (keyset_id) DO UPDATE SET next = MAX(next, excluded.next)",
            [keyset_id, at_least],
        )

    # -- proofs ---------------------------------------------------------------------------------

    def add_proofs(self, proofs: Iterable[StoredProof]) -> int:
        """Store proofs (a proof already held is left as it is); returns how many were new."""
        before = self.db.conn.total_changes
        for p in proofs:
            row = _proof_row(p)
            self.db.execute(
                f"INSERT OR IGNORE INTO proofs ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                list(row.values()),
            )
        return self.db.conn.total_changes - before

    def proofs(
        self,
        *,
        unit: str | None = None,
        epoch: int | None = None,
        keyset_id: str | None = None,
        state: str | None = UNSPENT,
    ) -> list[StoredProof]:
        """Proofs matching every filter given, smallest amounts first."""
        where, params = [], []
        for column, value in (("unit", unit), ("epoch", epoch), ("keyset_id", keyset_id), ("state", state)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        sql = "SELECT * FROM proofs" + (" WHERE " + " AND ".join(where) if where else "")
        return [_stored_proof(r) for r in self._rows(sql + " ORDER BY amount_log2, Y", params)]

    def set_proof_state(self, ys: Sequence[str], state: str) -> None:
        self._execute_in("UPDATE proofs SET state = ? WHERE Y IN", ys, [state])

    def delete_proofs(self, ys: Sequence[str]) -> None:
        self._execute_in("DELETE FROM proofs WHERE Y IN", ys)

    def proof_totals(self, state: str = UNSPENT) -> list[tuple[str, int | None, int]]:
        """(unit, epoch, Σ amount) of the proofs in `state`."""
        rows = self._rows(
            "SELECT unit, epoch, amount_log2, COUNT(*) AS n FROM proofs WHERE state = ? "
            "GROUP BY unit, epoch, amount_log2",
            [state],
        )
        totals: dict[tuple[str, int | None], int] = {}
        for r in rows:
            key = (r["unit"], r["epoch"])
            totals[key] = totals.get(key, 0) + (r["n"] << r["amount_log2"])
        return [
            (unit, epoch, amount)
            for (unit, epoch), amount in sorted(totals.items(), key=lambda kv: str(kv[0]))
        ]

    def proof_counts(self) -> list[dict[str, Any]]:
        """Rows of (unit, epoch, keyset_id, state, amount, count) for listing."""
        rows = self._rows(
            "SELECT unit, epoch, keyset_id, state, amount_log2, COUNT(*) AS n FROM proofs "
            "GROUP BY unit, epoch, keyset_id, state, amount_log2 ORDER BY unit, epoch, state, amount_log2"
        )
        return [
            {
                "unit": r["unit"],
                "epoch": r["epoch"],
                "keyset_id": r["keyset_id"],
                "state": r["state"],
                "amount": 1 << r["amount_log2"],
                "count": r["n"],
            }
            for r in rows
        ]

    # -- pending shares -------------------------------------------------------------------------

    def add_pending_share(
        self, keyset_id: str, epoch: int, counter: int, amount: int, secret: str, r: bytes, B_: bytes
    ) -> int:
        cursor = self.db.execute(
            "INSERT INTO pending_shares (keyset_id, epoch, counter, amount_log2, secret, r, B_, state, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [keyset_id, epoch, counter, log2(amount), secret, r, B_, SHARE_PENDING, now_s()],
        )
        return int(cursor.lastrowid or 0)

    def pending_shares(self, epoch: int | None = None) -> list[PendingShareRow]:
        sql, params = "SELECT * FROM pending_shares", []
        if epoch is not None:
            sql, params = sql + " WHERE epoch = ?", [epoch]
        return [
            PendingShareRow(
                r["id"],
                r["keyset_id"],
                r["epoch"],
                r["counter"],
                1 << r["amount_log2"],
                r["secret"],
                bytes(r["r"]),
                bytes(r["B_"]),
                r["state"],
                r["reason"],
            )
            for r in self._rows(sql + " ORDER BY id", params)
        ]

    def pending_share_exists(self, share_id: int) -> bool:
        return bool(self._rows("SELECT 1 FROM pending_shares WHERE id = ?", [share_id]))

    def fail_pending_share(self, share_id: int, reason: str) -> None:
        self.db.execute(
            "UPDATE pending_shares SET state = ?, reason = ? WHERE id = ?",
            [SHARE_FAILED, reason[:200], share_id],
        )

    def delete_pending_shares(self, ids: Sequence[int]) -> None:
        self._execute_in("DELETE FROM pending_shares WHERE id IN", ids)

    def drop_epoch(self, epoch: int) -> tuple[int, int]:
        """Forget everything of an epoch that will never pay: returns (Σ ehash dropped, pending dropped)."""
        dropped = sum(
            amount for unit, e, amount in self.proof_totals(UNSPENT) if unit == Unit.EHASH and e == epoch
        )
        dropped += sum(
            amount for unit, e, amount in self.proof_totals(PENDING) if unit == Unit.EHASH and e == epoch
        )
        pending = self._rows("SELECT COUNT(*) AS n FROM pending_shares WHERE epoch = ?", [epoch])[0]["n"]
        self.db.execute("DELETE FROM proofs WHERE unit = 'ehash' AND epoch = ?", [epoch])
        self.db.execute("DELETE FROM pending_shares WHERE epoch = ?", [epoch])
        return dropped, int(pending)

    # -- evidence, history, quotes ----------------------------------------------------------------

    def add_dleq_failure(
        self,
        *,
        context: str,
        keyset_id: str,
        amount: int,
        B_: bytes,
        C_: bytes,
        e: bytes,
        s: bytes,
        K: bytes,
        secret: str,
        r: bytes,
    ) -> None:
        self.db.execute(
            "INSERT INTO dleq_failures (at, context, keyset_id, amount_log2, B_, C_, e, s, K, secret, r) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [now_s(), context, keyset_id, log2(amount), B_, C_, e, s, K, secret, r],
        )

    def dleq_failures(self) -> list[dict[str, Any]]:
        rows = self._rows("SELECT * FROM dleq_failures ORDER BY id")
        for r in rows:
            r["amount"] = 1 << r.pop("amount_log2")
        return rows

    def add_history(
        self,
        kind: str,
        unit: str,
        amount: int,
        epoch: int | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        self.db.execute(
            "INSERT INTO history (at, kind, unit, amount, epoch, detail) VALUES (?, ?, ?, ?, ?, ?)",
            [now_s(), kind, unit, amount, epoch, json.dumps(detail or {})],
        )

    def history(self, limit: int = 20) -> list[dict[str, Any]]:
        rows = self._rows("SELECT * FROM history ORDER BY id DESC LIMIT ?", [limit])
        for r in rows:
            r["detail"] = json.loads(r["detail"])
        return rows

    def add_mint_quote(self, quote: str, amount: int, request: str, state: str) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO mint_quotes (quote, amount, request, state, created_at) "
            "VALUES (?, ?, ?, ?, ?)",
            [quote, amount, request, state, now_s()],
        )

    def mint_quotes(self, state: str | None = None) -> list[dict[str, Any]]:
        if state is None:
            return self._rows("SELECT * FROM mint_quotes ORDER BY created_at")
        return self._rows("SELECT * FROM mint_quotes WHERE state = ? ORDER BY created_at", [state])

    def set_mint_quote_state(self, quote: str, state: str) -> None:
        self.db.execute("UPDATE mint_quotes SET state = ? WHERE quote = ?", [state, quote])
