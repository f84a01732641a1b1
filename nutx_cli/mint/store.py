"""The mint's store: every SQL statement of the mint lives here, on SQLite or PostgreSQL.

`MintStore.open` picks the engine: the data dir's `mint.sqlite3` (the embedded default: one process,
WAL with `synchronous=FULL`), or a PostgreSQL server (`--database postgresql://…`) that several pool
front ends share. Either way a COMMIT is durable when it returns (the group commit of share
signatures relies on that), the schema is `mint.schema`, and callers group writes with
`transaction()`; write methods must run inside it, read methods need not.

SQLite's BEGIN IMMEDIATE makes every transaction of every process take turns; on PostgreSQL
(READ COMMITTED) each read-check-write names what it must hold, and these are no-ops on SQLite:
`lock_setup` (a new mint's seed and sat keyset), `lock_epochs` (opening and moving epochs),
`lock_payment` (melts of one invoice), `lock_proofs` (spending and reserving proofs), and the row
locks of `epoch_row(lock=…)`, `open_epoch_row(lock=…)` and the quote reads. A B_ is stored at most
once by the unique index whatever races: `add_signatures` returns the ones it stored.

Amounts are kept as `amount_log2` (see `mint.schema`). What goes in and comes out are the typed rows
of `mint.rows`; a failing database raises `MintStoreError`, never the driver's own errors. (Past 400
lines because all of the mint's SQL is here, on purpose.)
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sqlite3
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Literal

from nutx_cli import sql_database
from nutx_cli.core.bdhke import BlindSig
from nutx_cli.core.epoch_status import EpochStatus
from nutx_cli.core.models import BlindedMessage, BlindSignature
from nutx_cli.core.vocabulary import MeltQuoteState, MintQuoteState, ProofState
from nutx_cli.errors import NutxError
from nutx_cli.mint.rows import (
    ClaimRow,
    EpochRow,
    KeysetRow,
    MeltQuoteRow,
    MintQuoteRow,
    SignatureRow,
    SpendRow,
)
from nutx_cli.mint.schema import MIGRATIONS, SCHEMA, SCHEMA_VERSION
from nutx_cli.postgres_store import PostgresStore, is_postgres_url
from nutx_cli.sql_database import Dialect, LockKey, SqlDatabase, render
from nutx_cli.sqlite_store import SqliteStore, StoreError

DB_NAME = "mint.sqlite3"

RowLock = Literal["update", "share"] | None
"""A row lock for a read inside a transaction (PostgreSQL's FOR UPDATE / FOR SHARE)."""

_MINT_LOCKS = 0x6E750001
_PAYMENT_LOCKS = 0x6E750002
_PROOF_LOCKS = 0x6E750003
_CLAIM_LOCKS = 0x6E750004
SETUP_LOCK: LockKey = (_MINT_LOCKS, 1)
EPOCHS_LOCK: LockKey = (_MINT_LOCKS, 2)
PROOF_LOCK_BUCKETS = 128
"""Proofs are locked by bucket of Y: a request of 1,000 proofs takes at most this many locks."""


def log2(amount: int) -> int:
    """Exponent of a power-of-two amount (the only amounts nutx keysets have)."""
    return amount.bit_length() - 1


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


class MintStoreError(StoreError):
    """The mint's database failed; the message names the file or server."""


class _MintSqlite(SqliteStore):
    error = MintStoreError


class _MintPostgres(PostgresStore):
    error = MintStoreError


class MintStore:
    """All persistent state of one mint (DESIGN §4–§5), on one `SqlDatabase`."""

    def __init__(self, db: SqlDatabase) -> None:
        self.database = db
        self._pg = db.dialect == Dialect.POSTGRES

    @classmethod
    def open(cls, data_dir: Path, database: str | None = None) -> MintStore:
        """The mint of `data_dir` (SQLite), or of the PostgreSQL server `database` names."""
        if not database:
            return cls(_MintSqlite(data_dir / DB_NAME, *_schema(Dialect.SQLITE)))
        if not is_postgres_url(database):
            raise NutxError(
                f"--database {database!r} is not a postgresql:// URL; leave it out to keep the mint in "
                "the data dir (SQLite)"
            )
        return cls(_MintPostgres(database, *_schema(Dialect.POSTGRES)))

    @classmethod
    def in_dir(cls, data_dir: Path) -> MintStore:
        return cls.open(data_dir)

    @property
    def where(self) -> str:
        return self.database.where

    def transaction(self) -> AbstractContextManager[None]:
        return self.database.transaction()

    def close(self) -> None:
        self.database.close()

    def backup_to(self, target: sqlite3.Connection) -> None:
        """Copy the whole SQLite database into `target` as one consistent snapshot (`mint.backup`)."""
        if not isinstance(self.database, SqliteStore):
            raise NutxError(f"{self.where} is a PostgreSQL mint: back it up with pg_dump")
        self.database.backup_to(target)

    def meta(self, key: str) -> str | None:
        return sql_database.meta(self.database, key)

    def set_meta(self, key: str, value: str) -> None:
        sql_database.set_meta(self.database, key, value)

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        return self.database.query(sql, params)

    def _in_clause(self, sql_prefix: str, values: Sequence[Any]) -> list[dict[str, Any]]:
        """Rows for `... IN (values)`, chunked below both engines' parameter limits."""
        out: list[dict[str, Any]] = []
        for i in range(0, len(values), 500):
            chunk = values[i : i + 500]
            out += self._rows(f"{sql_prefix} ({','.join('?' * len(chunk))})", chunk)
        return out

    def _row_lock(self, lock: RowLock) -> str:
        return f" FOR {lock.upper()}" if lock and self._pg else ""

    # -- locks (inside a transaction; no-ops on SQLite, whose transactions already take turns) ------------

    def lock_setup(self) -> None:
        """Creating a mint: its network, seed and sat keyset are written once."""
        self.database.lock([SETUP_LOCK])

    def lock_epochs(self) -> None:
        """Opening an epoch or moving one: one such change at a time across every process."""
        self.database.lock([EPOCHS_LOCK])

    def lock_payment(self, payment_hash: str) -> None:
        """Melts of one invoice, whichever quote they come from, one at a time."""
        self.database.lock(
            [(_PAYMENT_LOCKS, int.from_bytes(bytes.fromhex(payment_hash)[:4], "big", signed=True))]
        )

    def lock_claim(self, pubkey: str, epoch: int) -> None:
        """Minting one key's claim of one epoch: one request at a time reads it unpaid and pays it."""
        digest = hashlib.sha256(f"{pubkey}/{epoch}".encode()).digest()
        self.database.lock([(_CLAIM_LOCKS, int.from_bytes(digest[:4], "big", signed=True))])

    def lock_proofs(self, ys: Iterable[bytes]) -> None:
        """Spending or reserving these proofs: whoever checks them unspent holds them until it commits."""
        self.database.lock({(_PROOF_LOCKS, int.from_bytes(y[1:5], "big") % PROOF_LOCK_BUCKETS) for y in ys})

    # -- keysets ------------------------------------------------------------------------------

    def add_keyset(
        self, keyset_id: str, unit: str, idx: int, epoch: int | None, input_fee_ppk: int, now: int
    ) -> None:
        self.database.execute(
            "INSERT INTO keysets (id, unit, idx, epoch, input_fee_ppk, created_at) VALUES (?, ?, ?, ?, ?, ?)",
            (keyset_id, unit, idx, epoch, input_fee_ppk, now),
        )

    def keysets(self) -> list[KeysetRow]:
        rows = self._rows("SELECT id, unit, idx, epoch, input_fee_ppk FROM keysets ORDER BY unit, idx")
        return [KeysetRow(**r) for r in rows]

    def keyset_row(self, keyset_id: str) -> KeysetRow | None:
        """A keyset by full id or by the 16-hex short id of a version-01 id (one another process added)."""
        rows = self._rows(
            "SELECT id, unit, idx, epoch, input_fee_ppk FROM keysets WHERE id = ? OR substr(id, 1, 16) = ?",
            (keyset_id, keyset_id),
        )
        return KeysetRow(**rows[0]) if rows else None

    # -- signatures ---------------------------------------------------------------------------

    def signed_among(self, blinded: Sequence[bytes]) -> set[bytes]:
        """The B_ of `blinded` that were signed before."""
        return {
            r["b_"] for r in self._in_clause("SELECT B_ AS b_ FROM signatures WHERE B_ IN", list(blinded))
        }

    def add_signatures(self, rows: Iterable[SignatureRow]) -> set[bytes]:
        """Store the signatures whose B_ no transaction stored before; the B_ it stored.

        In order of B_, so that two PostgreSQL transactions storing some of the same B_ wait for each
        other in one order (no deadlock): the later one skips what the earlier one committed.
        """
        ordered = sorted(rows, key=lambda r: r.B_)
        stored: set[bytes] = set()
        for i in range(0, len(ordered), 500):
            chunk = ordered[i : i + 500]
            values = [
                (r.B_, r.sig.C_, r.sig.e, r.sig.s, log2(r.amount), r.keyset_id, int(r.share)) for r in chunk
            ]
            found = self._rows(
                "INSERT INTO signatures (B_, C_, e, s, amount_log2, keyset_id, share) VALUES "
                + ", ".join(["(?, ?, ?, ?, ?, ?, ?)"] * len(chunk))
                + " ON CONFLICT (B_) DO NOTHING RETURNING B_ AS b_",
                [v for row in values for v in row],
            )
            stored.update(r["b_"] for r in found)
        return stored

    def signatures_for(self, blinded: Sequence[bytes]) -> dict[bytes, SignatureRow]:
        rows = self._in_clause(
            "SELECT B_ AS b_, C_ AS c_, e, s, amount_log2, keyset_id, share FROM signatures WHERE B_ IN",
            list(blinded),
        )
        return {
            r["b_"]: SignatureRow(
                r["b_"],
                BlindSig(r["c_"], r["e"], r["s"]),
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
            r["y"]: (ProofState.PENDING, None)
            for r in self._in_clause("SELECT Y AS y FROM pending WHERE Y IN", list(ys))
        }
        for r in self._in_clause("SELECT Y AS y, witness FROM spent WHERE Y IN", list(ys)):
            out[r["y"]] = (ProofState.SPENT, r["witness"])
        return out

    def spend(self, rows: Iterable[SpendRow], now: int) -> None:
        self.database.executemany(
            "INSERT INTO spent (Y, amount_log2, keyset_id, witness, spent_at) VALUES (?, ?, ?, ?, ?)",
            [(r.Y, log2(r.amount), r.keyset_id, r.witness, now) for r in rows],
        )

    def add_pending(self, rows: Iterable[SpendRow], quote: str, now: int) -> None:
        self.database.executemany(
            "INSERT INTO pending (Y, amount_log2, keyset_id, quote, created_at, witness) VALUES (?, ?, ?, ?, ?, ?)",
            [(r.Y, log2(r.amount), r.keyset_id, quote, now, r.witness) for r in rows],
        )

    def pending_of(self, quote: str) -> tuple[list[SpendRow], int | None]:
        """The proofs a melt locked, and when it locked them (None if it holds none)."""
        rows = self._rows(
            "SELECT Y AS y, amount_log2, keyset_id, witness, created_at FROM pending WHERE quote = ?",
            (quote,),
        )
        spends = [SpendRow(r["y"], 1 << r["amount_log2"], r["keyset_id"], r["witness"]) for r in rows]
        return spends, min((r["created_at"] for r in rows), default=None)

    def spend_pending(self, quote: str, now: int) -> None:
        """Burn the proofs a melt locked (the payment went through)."""
        self.database.execute(
            "INSERT INTO spent (Y, amount_log2, keyset_id, witness, spent_at) "
            "SELECT Y, amount_log2, keyset_id, witness, ? FROM pending WHERE quote = ?",
            (now, quote),
        )
        self.drop_pending(quote)

    def drop_pending(self, quote: str) -> None:
        self.database.execute("DELETE FROM pending WHERE quote = ?", (quote,))

    # -- quotes -------------------------------------------------------------------------------

    def add_mint_quote(self, row: MintQuoteRow) -> None:
        self._insert("mint_quotes", row)

    def _insert(self, table: str, row: MintQuoteRow | MeltQuoteRow, skip: Sequence[str] = ()) -> None:
        """A row's fields as the columns of the same names (but `skip`)."""
        fields = {k: v for k, v in _fields(row).items() if k not in skip}
        self.database.execute(
            f"INSERT INTO {table} ({', '.join(fields)}) VALUES ({', '.join('?' * len(fields))})",
            list(fields.values()),
        )

    def mint_quote(self, quote: str, *, lock: RowLock = None) -> MintQuoteRow | None:
        rows = self._rows("SELECT * FROM mint_quotes WHERE quote = ?" + self._row_lock(lock), (quote,))
        if not rows:
            return None
        r = rows[0]
        return MintQuoteRow(**{**r, "state": MintQuoteState(r["state"])})

    def set_mint_quote_state(
        self, quote: str, state: MintQuoteState, *, was: MintQuoteState | None = None
    ) -> None:
        """Move a quote to `state` (only if it is still in `was`, when given: a move another request made
        meanwhile is never undone)."""
        if was is None:
            self.database.execute("UPDATE mint_quotes SET state = ? WHERE quote = ?", (state, quote))
        else:
            self.database.execute(
                "UPDATE mint_quotes SET state = ? WHERE quote = ? AND state = ?", (state, quote, was)
            )

    def add_melt_quote(self, row: MeltQuoteRow) -> None:
        self._insert("melt_quotes", row, skip=("payment_preimage", "fee_paid", "change"))

    def melt_quote(self, quote: str, *, lock: RowLock = None) -> MeltQuoteRow | None:
        rows = self._rows("SELECT * FROM melt_quotes WHERE quote = ?" + self._row_lock(lock), (quote,))
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
        self.database.execute(
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
        self.database.execute(
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
            "SELECT unit, CAST(SUM(amount) + SUM(COALESCE(fee_paid, 0)) AS BIGINT) AS total FROM melt_quotes "
            "WHERE state = 'PAID' GROUP BY unit"
        )
        return {r["unit"]: r["total"] for r in rows}

    # -- epochs -------------------------------------------------------------------------------

    def add_epoch(
        self, epoch: int, keyset_id: str, k_max: int, started_at: int, start_hash: str, start_height: int
    ) -> None:
        self.database.execute(
            "INSERT INTO epochs (epoch, status, keyset_id, k_max, started_at, start_hash, start_height) "
            "VALUES (?, 'open', ?, ?, ?, ?, ?)",
            (epoch, keyset_id, k_max, started_at, start_hash, start_height),
        )

    def update_epoch(self, epoch: int, **fields: Any) -> None:
        unknown = set(fields) - set(EPOCH_FIELDS)
        if unknown:
            raise ValueError(f"not epoch fields: {sorted(unknown)}")
        sets = ", ".join(f"{k} = ?" for k in fields)
        self.database.execute(f"UPDATE epochs SET {sets} WHERE epoch = ?", (*fields.values(), epoch))

    def epoch_row(self, epoch: int, *, lock: RowLock = None) -> EpochRow | None:
        rows = self._rows("SELECT * FROM epochs WHERE epoch = ?" + self._row_lock(lock), (epoch,))
        return _epoch_row(rows[0]) if rows else None

    def open_epoch_row(self, *, lock: RowLock = None) -> EpochRow | None:
        """The open epoch (at most one is); with a row lock, one that a concurrent close already moved is
        not open any more when the lock is granted (READ COMMITTED reads the row again)."""
        rows = self._rows("SELECT * FROM epochs WHERE status = 'open'" + self._row_lock(lock))
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
        """W_e += the amounts, row by row in order of amount (two processes' batches wait in one order)."""
        self.database.executemany(
            "INSERT INTO epoch_work (epoch, amount_log2, count) VALUES (?, ?, ?) "
            "ON CONFLICT (epoch, amount_log2) DO UPDATE SET count = epoch_work.count + excluded.count",
            [(epoch, log2(amount), n) for amount, n in sorted(counts.items())],
        )

    # -- claims (DESIGN §4 "Claimed ehash") ---------------------------------------------------

    def add_claims(self, epoch: int, counts: dict[tuple[str, int], int]) -> None:
        """(pubkey, amount) → number of claimed shares of that amount to add in the epoch."""
        self.database.executemany(
            "INSERT INTO claims (pubkey, epoch, amount_log2, count) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (pubkey, epoch, amount_log2) DO UPDATE SET count = claims.count + excluded.count",
            [(pubkey, epoch, log2(amount), n) for (pubkey, amount), n in sorted(counts.items())],
        )

    def claims_of(self, pubkey: str, epoch: int | None = None) -> list[ClaimRow]:
        """The claims of a key (of one epoch, or all of them newest first), with whether each was paid."""
        where, params = (
            ("c.pubkey = ?", [pubkey]) if epoch is None else ("c.pubkey = ? AND c.epoch = ?", [pubkey, epoch])
        )
        rows = self._rows(
            "SELECT c.epoch, c.amount_log2, c.count, p.paid_at FROM claims c LEFT JOIN claims_paid p "
            f"ON p.pubkey = c.pubkey AND p.epoch = c.epoch WHERE {where} ORDER BY c.epoch DESC",
            params,
        )
        claims: dict[int, ClaimRow] = {}
        for r in rows:
            row = claims.setdefault(r["epoch"], ClaimRow(pubkey, r["epoch"], {}, r["paid_at"]))
            row.work_by_amount[1 << r["amount_log2"]] = r["count"]
        return list(claims.values())

    def claimed_work(self, epoch: int) -> int:
        """Σ amounts claimed in the epoch, every key together (W_e = this + Σ share signatures)."""
        rows = self._rows(
            "SELECT amount_log2, CAST(SUM(count) AS BIGINT) AS n FROM claims WHERE epoch = ? GROUP BY amount_log2",
            (epoch,),
        )
        return sum(r["n"] << r["amount_log2"] for r in rows)

    def mark_claim_paid(self, pubkey: str, epoch: int, now: int) -> None:
        """The claim was minted; its primary key refuses a second payment even if a check were skipped."""
        self.database.execute(
            "INSERT INTO claims_paid (pubkey, epoch, paid_at) VALUES (?, ?, ?)", (pubkey, epoch, now)
        )

    def add_redemption(self, epoch: int, ehash_counts: dict[int, int], sats: int, now: int) -> None:
        counts = {str(log2(a)): n for a, n in sorted(ehash_counts.items())}
        self.database.execute(
            "INSERT INTO redemptions (epoch, ehash_log2_counts, sats, at) VALUES (?, ?, ?, ?)",
            (epoch, json.dumps(counts), sats, now),
        )

    # -- cached responses (NUT-19) ----------------------------------------------------------------

    def cached_response(self, key: bytes, since: int) -> str | None:
        """The response stored under `key` at `since` or later."""
        rows = self._rows(
            "SELECT response FROM cached_responses WHERE key = ? AND created_at >= ?", (key, since)
        )
        return rows[0]["response"] if rows else None

    def cache_response(self, key: bytes, response: str, now: int, expire_before: int) -> None:
        """Store `response` under `key`, dropping every response stored before `expire_before`."""
        self.database.execute("DELETE FROM cached_responses WHERE created_at < ?", (expire_before,))
        self.database.execute(
            "INSERT INTO cached_responses (key, response, created_at) VALUES (?, ?, ?) "
            "ON CONFLICT (key) DO UPDATE SET response = excluded.response, created_at = excluded.created_at",
            (key, response, now),
        )


def _schema(dialect: Dialect) -> tuple[str, int, dict[int, str]]:
    """The schema, its version and its migrations in `dialect`'s words."""
    return render(SCHEMA, dialect), SCHEMA_VERSION, {v: render(sql, dialect) for v, sql in MIGRATIONS.items()}


def _epoch_row(r: dict[str, Any]) -> EpochRow:
    return EpochRow(**{**r, "status": EpochStatus(r["status"])})


def _fields(row: MintQuoteRow | MeltQuoteRow) -> dict[str, Any]:
    """A row's fields by name, for named SQL parameters."""
    return {f.name: getattr(row, f.name) for f in dataclasses.fields(row)}
