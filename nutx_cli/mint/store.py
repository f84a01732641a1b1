"""The mint's SQLite store: every SQL statement of the mint lives here.

One connection in WAL mode with `synchronous=FULL`, so a COMMIT is on disk when it returns (the
group commit of share signatures relies on that). Callers group writes with `transaction()`,
which holds a re-entrant lock (the HTTP API calls in from worker threads) and issues
BEGIN IMMEDIATE … COMMIT. Write methods must run inside it; read methods take the lock themselves.

Amounts are powers of two up to 2^63, which SQLite's signed 64-bit INTEGER cannot hold, so rows
store `amount_log2`; epoch work is recomputed in Python from per-amount counts.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nutx_cli.sqlite_store import SqliteStore

DB_NAME = "mint.sqlite3"
SCHEMA_VERSION = 3


def log2(amount: int) -> int:
    """Exponent of a power-of-two amount (the only amounts nutx keysets have)."""
    return amount.bit_length() - 1


@dataclass(frozen=True)
class SignatureRow:
    """One issued blind signature (NUT-09 needs all of them); `share` marks work-ledger rows."""

    B_: bytes
    C_: bytes
    e: bytes
    s: bytes
    amount: int
    keyset_id: str
    share: bool = False


@dataclass(frozen=True)
class SpendRow:
    """A proof burned (or locked as pending) by its identity Y."""

    Y: bytes
    amount: int
    keyset_id: str
    witness: str | None = None


_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS keysets (
    id TEXT PRIMARY KEY, unit TEXT NOT NULL, idx INTEGER NOT NULL, epoch INTEGER,
    input_fee_ppk INTEGER NOT NULL, created_at INTEGER NOT NULL, UNIQUE (unit, idx));
CREATE TABLE IF NOT EXISTS signatures (
    B_ BLOB NOT NULL UNIQUE, C_ BLOB NOT NULL, e BLOB NOT NULL, s BLOB NOT NULL,
    amount_log2 INTEGER NOT NULL, keyset_id TEXT NOT NULL, share INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS signatures_keyset ON signatures (keyset_id, share);
CREATE TABLE IF NOT EXISTS spent (
    Y BLOB PRIMARY KEY, amount_log2 INTEGER NOT NULL, keyset_id TEXT NOT NULL, witness TEXT,
    spent_at INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS pending (
    Y BLOB PRIMARY KEY, amount_log2 INTEGER NOT NULL, keyset_id TEXT NOT NULL, quote TEXT NOT NULL,
    created_at INTEGER NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS pending_quote ON pending (quote);
CREATE TABLE IF NOT EXISTS mint_quotes (
    quote TEXT PRIMARY KEY, method TEXT NOT NULL, request TEXT NOT NULL, payment_hash TEXT NOT NULL,
    amount INTEGER NOT NULL, unit TEXT NOT NULL, state TEXT NOT NULL, expiry INTEGER,
    pubkey TEXT, created_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS melt_quotes (
    quote TEXT PRIMARY KEY, method TEXT NOT NULL, request TEXT NOT NULL, payment_hash TEXT NOT NULL,
    amount INTEGER NOT NULL, unit TEXT NOT NULL, fee_reserve INTEGER NOT NULL, state TEXT NOT NULL,
    expiry INTEGER, payment_preimage TEXT, fee_paid INTEGER, change TEXT, created_at INTEGER NOT NULL);
CREATE UNIQUE INDEX IF NOT EXISTS melt_quotes_one_payment ON melt_quotes (payment_hash)
    WHERE state IN ('PENDING', 'PAID');
CREATE TABLE IF NOT EXISTS epochs (
    epoch INTEGER PRIMARY KEY, status TEXT NOT NULL, keyset_id TEXT NOT NULL, k_max INTEGER NOT NULL,
    started_at INTEGER NOT NULL, start_hash TEXT NOT NULL, start_height INTEGER NOT NULL,
    ended_at INTEGER, height INTEGER, block_hash TEXT, theta_b INTEGER, mint_fee INTEGER,
    confirmations INTEGER, paid INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS epoch_work (
    epoch INTEGER NOT NULL, amount_log2 INTEGER NOT NULL, count INTEGER NOT NULL,
    PRIMARY KEY (epoch, amount_log2)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS redemptions (
    id INTEGER PRIMARY KEY, epoch INTEGER NOT NULL, ehash_log2_counts TEXT NOT NULL,
    sats INTEGER NOT NULL, at INTEGER NOT NULL);
"""

EPOCH_FIELDS = (
    "status",
    "ended_at",
    "height",
    "block_hash",
    "theta_b",
    "mint_fee",
    "confirmations",
    "paid",
)
QUOTE_FIELDS = ("state", "payment_preimage", "fee_paid", "change")


_MIGRATIONS = {
    # 1 → 2: signatures move from a table clustered on the random B_ to a rowid table with a unique
    # index on B_: a batch of share signatures then appends to the table and dirties far fewer
    # pages (measured: a third of the insert + commit time per share).
    1: """
CREATE TABLE signatures_v2 (
    B_ BLOB NOT NULL UNIQUE, C_ BLOB NOT NULL, e BLOB NOT NULL, s BLOB NOT NULL,
    amount_log2 INTEGER NOT NULL, keyset_id TEXT NOT NULL, share INTEGER NOT NULL);
INSERT INTO signatures_v2 (B_, C_, e, s, amount_log2, keyset_id, share)
    SELECT B_, C_, e, s, amount_log2, keyset_id, share FROM signatures;
DROP TABLE signatures;
ALTER TABLE signatures_v2 RENAME TO signatures;
CREATE INDEX signatures_keyset ON signatures (keyset_id, share)""",
    # 2 → 3: an invoice is paid at most once, so at most one melt quote per payment hash may be PENDING or
    # PAID: the schema's partial unique index `melt_quotes_one_payment`, which the schema script (run
    # before the migrations) already creates on an older file.
    2: "",
}


class MintStore(SqliteStore):
    """All persistent state of one mint (DESIGN §4–§5)."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, _SCHEMA, SCHEMA_VERSION, _MIGRATIONS)

    @classmethod
    def in_dir(cls, data_dir: Path) -> MintStore:
        return cls(data_dir / DB_NAME)

    def _in_clause(self, sql_prefix: str, values: Sequence[Any]) -> list[dict[str, Any]]:
        """Rows for `... IN (values)`, chunked below SQLite's parameter limit."""
        out: list[dict[str, Any]] = []
        for i in range(0, len(values), 500):
            chunk = values[i : i + 500]
            out += self._rows(f"{sql_prefix} ({','.join('?' * len(chunk))})", chunk)
        return out

    # -- keysets ------------------------------------------------------------------------------

    def add_keyset(
        self, keyset_id: str, unit: str, idx: int, epoch: int | None, input_fee_ppk: int, now: int
    ) -> None:
        self.db.execute(
            "INSERT INTO keysets (id, unit, idx, epoch, input_fee_ppk, created_at) VALUES (?, ?, ?, ?, ?, ?)",
            (keyset_id, unit, idx, epoch, input_fee_ppk, now),
        )

    def keysets(self) -> list[dict[str, Any]]:
        return self._rows("SELECT id, unit, idx, epoch, input_fee_ppk FROM keysets ORDER BY unit, idx")

    # -- signatures ---------------------------------------------------------------------------

    def signed_among(self, blinded: Sequence[bytes]) -> set[bytes]:
        """The B_ of `blinded` that were signed before."""
        return {r["B_"] for r in self._in_clause("SELECT B_ FROM signatures WHERE B_ IN", list(blinded))}

    def add_signatures(self, rows: Iterable[SignatureRow]) -> None:
        self.db.conn.executemany(
            "INSERT INTO signatures (B_, C_, e, s, amount_log2, keyset_id, share) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(r.B_, r.C_, r.e, r.s, log2(r.amount), r.keyset_id, int(r.share)) for r in rows],
        )

    def signatures_for(self, blinded: Sequence[bytes]) -> dict[bytes, SignatureRow]:
        rows = self._in_clause(
            "SELECT B_, C_, e, s, amount_log2, keyset_id, share FROM signatures WHERE B_ IN", list(blinded)
        )
        return {
            r["B_"]: SignatureRow(
                r["B_"], r["C_"], r["e"], r["s"], 1 << r["amount_log2"], r["keyset_id"], bool(r["share"])
            )
            for r in rows
        }

    def share_signature_work(self, keyset_id: str) -> int:
        """Σ amounts of stored share signatures of a keyset (must equal the epoch's W_e)."""
        rows = self._rows(
            "SELECT amount_log2, COUNT(*) AS n FROM signatures WHERE keyset_id = ? AND share = 1 "
            "GROUP BY amount_log2",
            (keyset_id,),
        )
        return sum(r["n"] << r["amount_log2"] for r in rows)

    def issued_by_keyset(self) -> dict[str, int]:
        rows = self._rows(
            "SELECT keyset_id, amount_log2, COUNT(*) AS n FROM signatures GROUP BY keyset_id, amount_log2"
        )
        out: dict[str, int] = {}
        for r in rows:
            out[r["keyset_id"]] = out.get(r["keyset_id"], 0) + (r["n"] << r["amount_log2"])
        return out

    def spent_by_keyset(self) -> dict[str, int]:
        rows = self._rows(
            "SELECT keyset_id, amount_log2, COUNT(*) AS n FROM spent GROUP BY keyset_id, amount_log2"
        )
        out: dict[str, int] = {}
        for r in rows:
            out[r["keyset_id"]] = out.get(r["keyset_id"], 0) + (r["n"] << r["amount_log2"])
        return out

    # -- spent and pending proofs -------------------------------------------------------------

    def proof_states(self, ys: Sequence[bytes]) -> dict[bytes, tuple[str, str | None]]:
        """Y → ("SPENT", witness) or ("PENDING", None); unknown Ys are absent (UNSPENT)."""
        out: dict[bytes, tuple[str, str | None]] = {
            r["Y"]: ("PENDING", None) for r in self._in_clause("SELECT Y FROM pending WHERE Y IN", list(ys))
        }
        for r in self._in_clause("SELECT Y, witness FROM spent WHERE Y IN", list(ys)):
            out[r["Y"]] = ("SPENT", r["witness"])
        return out

    def spend(self, rows: Iterable[SpendRow], now: int) -> None:
        self.db.conn.executemany(
            "INSERT INTO spent (Y, amount_log2, keyset_id, witness, spent_at) VALUES (?, ?, ?, ?, ?)",
            [(r.Y, log2(r.amount), r.keyset_id, r.witness, now) for r in rows],
        )

    def add_pending(self, rows: Iterable[SpendRow], quote: str, now: int) -> None:
        self.db.conn.executemany(
            "INSERT INTO pending (Y, amount_log2, keyset_id, quote, created_at) VALUES (?, ?, ?, ?, ?)",
            [(r.Y, log2(r.amount), r.keyset_id, quote, now) for r in rows],
        )

    def spend_pending(self, quote: str, now: int) -> None:
        """Burn the proofs a melt locked (the payment went through)."""
        self.db.execute(
            "INSERT INTO spent (Y, amount_log2, keyset_id, witness, spent_at) "
            "SELECT Y, amount_log2, keyset_id, NULL, ? FROM pending WHERE quote = ?",
            (now, quote),
        )
        self.drop_pending(quote)

    def drop_pending(self, quote: str) -> None:
        self.db.execute("DELETE FROM pending WHERE quote = ?", (quote,))

    # -- quotes -------------------------------------------------------------------------------

    def add_mint_quote(self, row: dict[str, Any]) -> None:
        self.db.execute(
            "INSERT INTO mint_quotes (quote, method, request, payment_hash, amount, unit, state, expiry, pubkey, "
            "created_at) VALUES (:quote, :method, :request, :payment_hash, :amount, :unit, :state, :expiry, "
            ":pubkey, :created_at)",
            row,
        )

    def mint_quote(self, quote: str) -> dict[str, Any] | None:
        rows = self._rows("SELECT * FROM mint_quotes WHERE quote = ?", (quote,))
        return rows[0] if rows else None

    def mint_quote_by_hash(self, payment_hash: str) -> dict[str, Any] | None:
        rows = self._rows("SELECT * FROM mint_quotes WHERE payment_hash = ?", (payment_hash,))
        return rows[0] if rows else None

    def set_mint_quote_state(self, quote: str, state: str) -> None:
        self.db.execute("UPDATE mint_quotes SET state = ? WHERE quote = ?", (state, quote))

    def add_melt_quote(self, row: dict[str, Any]) -> None:
        self.db.execute(
            "INSERT INTO melt_quotes (quote, method, request, payment_hash, amount, unit, fee_reserve, state, "
            "expiry, created_at) VALUES (:quote, :method, :request, :payment_hash, :amount, :unit, :fee_reserve, "
            ":state, :expiry, :created_at)",
            row,
        )

    def melt_quote(self, quote: str) -> dict[str, Any] | None:
        rows = self._rows("SELECT * FROM melt_quotes WHERE quote = ?", (quote,))
        if not rows:
            return None
        row = rows[0]
        row["change"] = json.loads(row["change"]) if row["change"] else None
        return row

    def melt_quotes_in_state(self, state: str) -> list[str]:
        return [r["quote"] for r in self._rows("SELECT quote FROM melt_quotes WHERE state = ?", (state,))]

    def payment_melt_state(self, payment_hash: str) -> str | None:
        """'PAID' or 'PENDING' if a melt of this payment hash went out or is in flight, else None."""
        rows = self._rows(
            "SELECT state FROM melt_quotes WHERE payment_hash = ? AND state IN ('PENDING', 'PAID')",
            (payment_hash,),
        )
        return rows[0]["state"] if rows else None

    def update_melt_quote(self, quote: str, **fields: Any) -> None:
        unknown = set(fields) - set(QUOTE_FIELDS)
        if unknown:
            raise ValueError(f"not melt quote fields: {sorted(unknown)}")
        if "change" in fields and fields["change"] is not None:
            fields["change"] = json.dumps(fields["change"])
        sets = ", ".join(f"{k} = ?" for k in fields)
        self.db.execute(f"UPDATE melt_quotes SET {sets} WHERE quote = ?", (*fields.values(), quote))

    def melted_by_unit(self) -> dict[str, int]:
        rows = self._rows(
            "SELECT unit, SUM(amount) + SUM(COALESCE(fee_paid, 0)) AS total FROM melt_quotes "
            "WHERE state = 'PAID' GROUP BY unit"
        )
        return {r["unit"]: r["total"] for r in rows}

    # -- epochs -------------------------------------------------------------------------------

    def add_epoch(
        self, epoch: int, keyset_id: str, k_max: int, started_at: int, start_hash: str, start_height: int
    ) -> None:
        self.db.execute(
            "INSERT INTO epochs (epoch, status, keyset_id, k_max, started_at, start_hash, start_height) "
            "VALUES (?, 'open', ?, ?, ?, ?, ?)",
            (epoch, keyset_id, k_max, started_at, start_hash, start_height),
        )

    def update_epoch(self, epoch: int, **fields: Any) -> None:
        unknown = set(fields) - set(EPOCH_FIELDS)
        if unknown:
            raise ValueError(f"not epoch fields: {sorted(unknown)}")
        sets = ", ".join(f"{k} = ?" for k in fields)
        self.db.execute(f"UPDATE epochs SET {sets} WHERE epoch = ?", (*fields.values(), epoch))

    def epoch_row(self, epoch: int) -> dict[str, Any] | None:
        rows = self._rows("SELECT * FROM epochs WHERE epoch = ?", (epoch,))
        return rows[0] if rows else None

    def epoch_rows(self) -> list[dict[str, Any]]:
        return self._rows("SELECT * FROM epochs ORDER BY epoch DESC")

    def last_epoch(self) -> int | None:
        rows = self._rows("SELECT MAX(epoch) AS n FROM epochs")
        return rows[0]["n"] if rows else None

    def open_epoch(self) -> int | None:
        rows = self._rows("SELECT epoch FROM epochs WHERE status = 'open' ORDER BY epoch DESC LIMIT 1")
        return rows[0]["epoch"] if rows else None

    def epoch_status(self, epoch: int) -> str | None:
        rows = self._rows("SELECT status FROM epochs WHERE epoch = ?", (epoch,))
        return rows[0]["status"] if rows else None

    def work_counts(self, epoch: int) -> dict[int, int]:
        """Amount → number of share signatures of that amount in the epoch."""
        rows = self._rows(
            "SELECT amount_log2, count FROM epoch_work WHERE epoch = ? ORDER BY amount_log2", (epoch,)
        )
        return {1 << r["amount_log2"]: r["count"] for r in rows}

    def add_work(self, epoch: int, counts: dict[int, int]) -> None:
        self.db.conn.executemany(
            "INSERT INTO epoch_work (epoch, amount_log2, count) VALUES (?, ?, ?) "
            "ON CONFLICT (epoch, amount_log2) DO UPDATE SET count = count + excluded.count",
            [(epoch, log2(amount), n) for amount, n in counts.items()],
        )

    def add_redemption(self, epoch: int, ehash_counts: dict[int, int], sats: int, now: int) -> None:
        counts = {str(log2(a)): n for a, n in sorted(ehash_counts.items())}
        self.db.execute(
            "INSERT INTO redemptions (epoch, ehash_log2_counts, sats, at) VALUES (?, ?, ?, ?)",
            (epoch, json.dumps(counts), sats, now),
        )
