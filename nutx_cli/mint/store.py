"""The mint's SQLite store: every SQL statement of the mint lives here.

One connection in WAL mode with `synchronous=FULL`, so a COMMIT is on disk when it returns (the
group commit of share signatures relies on that). Callers group writes with `transaction()`,
which holds a re-entrant lock (the HTTP API calls in from worker threads) and issues
BEGIN IMMEDIATE … COMMIT. Write methods must run inside it; read methods take the lock themselves.

Amounts are powers of two up to 2^63, which SQLite's signed 64-bit INTEGER cannot hold, so rows
store `amount_log2`; epoch work is recomputed in Python from per-amount counts. What goes in and
comes out are the typed rows of `mint.rows`; a failing database raises `MintStoreError`, never
sqlite3's own errors.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from nutx_cli.core.bdhke import BlindSig
from nutx_cli.core.epoch_status import EpochStatus
from nutx_cli.core.models import BlindedMessage, BlindSignature
from nutx_cli.core.vocabulary import MeltQuoteState, MintQuoteState, ProofState
from nutx_cli.mint.rows import EpochRow, KeysetRow, MeltQuoteRow, MintQuoteRow, SignatureRow, SpendRow
from nutx_cli.sqlite_store import SqliteStore, StoreError

DB_NAME = "mint.sqlite3"
SCHEMA_VERSION = 4


def log2(amount: int) -> int:
    """Exponent of a power-of-two amount (the only amounts nutx keysets have)."""
    return amount.bit_length() - 1


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
    created_at INTEGER NOT NULL, witness TEXT) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS pending_quote ON pending (quote);
CREATE TABLE IF NOT EXISTS mint_quotes (
    quote TEXT PRIMARY KEY, method TEXT NOT NULL, request TEXT NOT NULL, payment_hash TEXT NOT NULL,
    amount INTEGER NOT NULL, unit TEXT NOT NULL, state TEXT NOT NULL, expiry INTEGER,
    pubkey TEXT, created_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS melt_quotes (
    quote TEXT PRIMARY KEY, method TEXT NOT NULL, request TEXT NOT NULL, payment_hash TEXT NOT NULL,
    amount INTEGER NOT NULL, unit TEXT NOT NULL, fee_reserve INTEGER NOT NULL, state TEXT NOT NULL,
    expiry INTEGER, payment_preimage TEXT, fee_paid INTEGER, change TEXT, created_at INTEGER NOT NULL,
    outputs TEXT);
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
    # 3 → 4: a melt whose payment outcome is unknown can be settled after a restart with its change: the
    # blank outputs it was sent with (`melt_quotes.outputs`) and the witnesses of its pending proofs. Both
    # tables are rebuilt with the new column (as 1 → 2 did), with their indexes.
    3: """
CREATE TABLE pending_v4 (
    Y BLOB PRIMARY KEY, amount_log2 INTEGER NOT NULL, keyset_id TEXT NOT NULL, quote TEXT NOT NULL,
    created_at INTEGER NOT NULL, witness TEXT) WITHOUT ROWID;
INSERT INTO pending_v4 (Y, amount_log2, keyset_id, quote, created_at)
    SELECT Y, amount_log2, keyset_id, quote, created_at FROM pending;
DROP TABLE pending;
ALTER TABLE pending_v4 RENAME TO pending;
CREATE INDEX pending_quote ON pending (quote);
CREATE TABLE melt_quotes_v4 (
    quote TEXT PRIMARY KEY, method TEXT NOT NULL, request TEXT NOT NULL, payment_hash TEXT NOT NULL,
    amount INTEGER NOT NULL, unit TEXT NOT NULL, fee_reserve INTEGER NOT NULL, state TEXT NOT NULL,
    expiry INTEGER, payment_preimage TEXT, fee_paid INTEGER, change TEXT, created_at INTEGER NOT NULL,
    outputs TEXT);
INSERT INTO melt_quotes_v4 (quote, method, request, payment_hash, amount, unit, fee_reserve, state, expiry,
        payment_preimage, fee_paid, change, created_at)
    SELECT quote, method, request, payment_hash, amount, unit, fee_reserve, state, expiry, payment_preimage,
        fee_paid, change, created_at FROM melt_quotes;
DROP TABLE melt_quotes;
ALTER TABLE melt_quotes_v4 RENAME TO melt_quotes;
CREATE UNIQUE INDEX melt_quotes_one_payment ON melt_quotes (payment_hash) WHERE state IN ('PENDING', 'PAID')""",
}


class MintStoreError(StoreError):
    """The mint's database failed; the message names the file."""


class MintStore(SqliteStore):
    """All persistent state of one mint (DESIGN §4–§5)."""

    error = MintStoreError

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

    def keysets(self) -> list[KeysetRow]:
        rows = self._rows("SELECT id, unit, idx, epoch, input_fee_ppk FROM keysets ORDER BY unit, idx")
        return [KeysetRow(**r) for r in rows]

    # -- signatures ---------------------------------------------------------------------------

    def signed_among(self, blinded: Sequence[bytes]) -> set[bytes]:
        """The B_ of `blinded` that were signed before."""
        return {r["B_"] for r in self._in_clause("SELECT B_ FROM signatures WHERE B_ IN", list(blinded))}

    def add_signatures(self, rows: Iterable[SignatureRow]) -> None:
        self.db.conn.executemany(
            "INSERT INTO signatures (B_, C_, e, s, amount_log2, keyset_id, share) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(r.B_, r.sig.C_, r.sig.e, r.sig.s, log2(r.amount), r.keyset_id, int(r.share)) for r in rows],
        )

    def signatures_for(self, blinded: Sequence[bytes]) -> dict[bytes, SignatureRow]:
        rows = self._in_clause(
            "SELECT B_, C_, e, s, amount_log2, keyset_id, share FROM signatures WHERE B_ IN", list(blinded)
        )
        return {
            r["B_"]: SignatureRow(
                r["B_"],
                BlindSig(r["C_"], r["e"], r["s"]),
                1 << r["amount_log2"],
                r["keyset_id"],
                bool(r["share"]),
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

    def proof_states(self, ys: Sequence[bytes]) -> dict[bytes, tuple[ProofState, str | None]]:
        """Y → (SPENT, witness) or (PENDING, None); unknown Ys are absent (UNSPENT)."""
        out: dict[bytes, tuple[ProofState, str | None]] = {
            r["Y"]: (ProofState.PENDING, None)
            for r in self._in_clause("SELECT Y FROM pending WHERE Y IN", list(ys))
        }
        for r in self._in_clause("SELECT Y, witness FROM spent WHERE Y IN", list(ys)):
            out[r["Y"]] = (ProofState.SPENT, r["witness"])
        return out

    def spend(self, rows: Iterable[SpendRow], now: int) -> None:
        self.db.conn.executemany(
            "INSERT INTO spent (Y, amount_log2, keyset_id, witness, spent_at) VALUES (?, ?, ?, ?, ?)",
            [(r.Y, log2(r.amount), r.keyset_id, r.witness, now) for r in rows],
        )

    def add_pending(self, rows: Iterable[SpendRow], quote: str, now: int) -> None:
        self.db.conn.executemany(
            "INSERT INTO pending (Y, amount_log2, keyset_id, quote, created_at, witness) VALUES (?, ?, ?, ?, ?, ?)",
            [(r.Y, log2(r.amount), r.keyset_id, quote, now, r.witness) for r in rows],
        )

    def pending_of(self, quote: str) -> tuple[list[SpendRow], int | None]:
        """The proofs a melt locked, and when it locked them (None if it holds none)."""
        rows = self._rows(
            "SELECT Y, amount_log2, keyset_id, witness, created_at FROM pending WHERE quote = ?", (quote,)
        )
        spends = [SpendRow(r["Y"], 1 << r["amount_log2"], r["keyset_id"], r["witness"]) for r in rows]
        return spends, min((r["created_at"] for r in rows), default=None)

    def spend_pending(self, quote: str, now: int) -> None:
        """Burn the proofs a melt locked (the payment went through)."""
        self.db.execute(
            "INSERT INTO spent (Y, amount_log2, keyset_id, witness, spent_at) "
            "SELECT Y, amount_log2, keyset_id, witness, ? FROM pending WHERE quote = ?",
            (now, quote),
        )
        self.drop_pending(quote)

    def drop_pending(self, quote: str) -> None:
        self.db.execute("DELETE FROM pending WHERE quote = ?", (quote,))

    # -- quotes -------------------------------------------------------------------------------

    def add_mint_quote(self, row: MintQuoteRow) -> None:
        self.db.execute(
            "INSERT INTO mint_quotes (quote, method, request, payment_hash, amount, unit, state, expiry, pubkey, "
            "created_at) VALUES (:quote, :method, :request, :payment_hash, :amount, :unit, :state, :expiry, "
            ":pubkey, :created_at)",
            _fields(row),
        )

    def mint_quote(self, quote: str) -> MintQuoteRow | None:
        rows = self._rows("SELECT * FROM mint_quotes WHERE quote = ?", (quote,))
        if not rows:
            return None
        r = rows[0]
        return MintQuoteRow(**{**r, "state": MintQuoteState(r["state"])})

    def set_mint_quote_state(self, quote: str, state: MintQuoteState) -> None:
        self.db.execute("UPDATE mint_quotes SET state = ? WHERE quote = ?", (state, quote))

    def add_melt_quote(self, row: MeltQuoteRow) -> None:
        self.db.execute(
            "INSERT INTO melt_quotes (quote, method, request, payment_hash, amount, unit, fee_reserve, state, "
            "expiry, created_at) VALUES (:quote, :method, :request, :payment_hash, :amount, :unit, :fee_reserve, "
            ":state, :expiry, :created_at)",
            _fields(row),
        )

    def melt_quote(self, quote: str) -> MeltQuoteRow | None:
        rows = self._rows("SELECT * FROM melt_quotes WHERE quote = ?", (quote,))
        if not rows:
            return None
        r = rows[0]
        change = json.loads(r["change"]) if r["change"] else None
        outputs = json.loads(r["outputs"]) if r["outputs"] else None
        return MeltQuoteRow(
            **{
                **r,
                "state": MeltQuoteState(r["state"]),
                "change": None if change is None else tuple(BlindSignature.from_json(c) for c in change),
                "outputs": None
                if outputs is None
                else tuple(BlindedMessage.from_json(o, allow_zero=True) for o in outputs),
            }
        )

    def set_melt_outputs(self, quote: str, outputs: Sequence[BlindedMessage]) -> None:
        """The blank outputs a melt was sent with, kept for its change until the payment is settled."""
        self.db.execute(
            "UPDATE melt_quotes SET outputs = ? WHERE quote = ?",
            (json.dumps([o.to_json() for o in outputs]), quote),
        )

    def melt_quotes_in_state(self, state: MeltQuoteState) -> list[str]:
        return [r["quote"] for r in self._rows("SELECT quote FROM melt_quotes WHERE state = ?", (state,))]

    def payment_melt_state(self, payment_hash: str) -> MeltQuoteState | None:
        """PAID or PENDING if a melt of this payment hash went out or is in flight, else None."""
        rows = self._rows(
            "SELECT state FROM melt_quotes WHERE payment_hash = ? AND state IN ('PENDING', 'PAID')",
            (payment_hash,),
        )
        return MeltQuoteState(rows[0]["state"]) if rows else None

    def update_melt_quote(
        self,
        quote: str,
        *,
        state: MeltQuoteState,
        payment_preimage: str | None = None,
        fee_paid: int | None = None,
        change: Sequence[BlindSignature] | None = None,
    ) -> None:
        """Move a melt quote to `state`; a PAID one also records its preimage, fee paid and change."""
        self.db.execute(
            "UPDATE melt_quotes SET state = ?, payment_preimage = COALESCE(?, payment_preimage), "
            "fee_paid = COALESCE(?, fee_paid), change = COALESCE(?, change) WHERE quote = ?",
            (
                state,
                payment_preimage,
                fee_paid,
                None if change is None else json.dumps([c.to_json() for c in change]),
                quote,
            ),
        )

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

    def epoch_row(self, epoch: int) -> EpochRow | None:
        rows = self._rows("SELECT * FROM epochs WHERE epoch = ?", (epoch,))
        return _epoch_row(rows[0]) if rows else None

    def epoch_rows(self) -> list[EpochRow]:
        """Every epoch, newest first."""
        return [_epoch_row(r) for r in self._rows("SELECT * FROM epochs ORDER BY epoch DESC")]

    def last_epoch(self) -> int | None:
        rows = self._rows("SELECT MAX(epoch) AS n FROM epochs")
        return rows[0]["n"] if rows else None

    def open_epoch_number(self) -> int | None:
        """The epoch whose status is open (at most one is)."""
        rows = self._rows("SELECT epoch FROM epochs WHERE status = 'open' ORDER BY epoch DESC LIMIT 1")
        return rows[0]["epoch"] if rows else None

    def epoch_status(self, epoch: int) -> EpochStatus | None:
        rows = self._rows("SELECT status FROM epochs WHERE epoch = ?", (epoch,))
        return EpochStatus(rows[0]["status"]) if rows else None

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


def _epoch_row(r: dict[str, Any]) -> EpochRow:
    return EpochRow(**{**r, "status": EpochStatus(r["status"])})


def _fields(row: MintQuoteRow | MeltQuoteRow) -> dict[str, Any]:
    """A row's fields by name, for named SQL parameters."""
    return {f.name: getattr(row, f.name) for f in dataclasses.fields(row)}
