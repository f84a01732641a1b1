"""The SQLite ground under every role's store (DESIGN.md §2, layer 2).

The file (with its -wal/-shm) is owner-only (`private_files`): it holds seeds and keys.
WAL mode with `synchronous=FULL`, so a COMMIT is on disk when it returns: the mint's group commit
and the wallet's "store the secret before the share is sent" rely on that. Writes go through
`transaction()` (BEGIN IMMEDIATE … COMMIT, re-entrant, behind a lock, because event-loop code and
worker threads share one connection).

Every `sqlite3.Error` of a store's opening, its reads (`_rows`) and its transactions is raised as
the store's own `error` (a `StoreError` subclass each store names), which says which file failed;
the layers above then catch one `NutxError`, never sqlite3's types. It is also one of the two engines
of `sql_database.SqlDatabase` (a store written against that runs on PostgreSQL too).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

import sqlite_utils

from nutx_cli import sql_database
from nutx_cli.errors import NutxError
from nutx_cli.private_files import private_database
from nutx_cli.sql_database import Dialect, LockKey, Nesting

BUSY_TIMEOUT_MS = 10_000


class StoreError(NutxError):
    """The database failed (locked past the busy timeout, disk full, file damaged, a constraint broken).

    `retryable`: the transaction lost a race with another one (a PostgreSQL serialization failure or
    deadlock) and changed nothing; running it again is safe.
    """

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable


class SqliteStore:
    """One database file with a schema (statements separated by `;`) and a `meta` key/value table."""

    error: ClassVar[type[StoreError]] = StoreError
    """The store's own error for sqlite3 failures."""
    dialect = Dialect.SQLITE

    def __init__(
        self, path: Path, schema: str, schema_version: int, migrations: Mapping[int, str] | None = None
    ) -> None:
        """Open `path`, create what `schema` lacks, and bring an older file up to `schema_version`.

        `migrations[v]` holds the statements that turn version v into v + 1; they run in one
        transaction with the rest of the opening, so a crash mid-way leaves the old version intact.
        """
        private_database(path)
        try:
            conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
        except sqlite3.Error as exc:
            raise NutxError(f"cannot open the database {path} ({exc}); check the data dir") from None
        self.path = path
        self.where = str(path)
        self.db = sqlite_utils.Database(conn)
        self._lock = threading.RLock()
        self._nesting = Nesting()
        try:
            with self._sqlite_errors():
                conn.execute("PRAGMA synchronous=FULL")
                conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            with self.transaction():
                sql_database.bring_to_version(self, schema, schema_version, migrations)
        except StoreError as exc:
            conn.close()
            raise self.error(
                f"cannot bring {path} to schema {schema_version} ({exc.__cause__}); the file is left as it was"
            ) from exc.__cause__
        except BaseException:
            conn.close()
            raise

    @contextmanager
    def _sqlite_errors(self) -> Iterator[None]:
        """sqlite3.Error raised inside as the store's own `error`."""
        try:
            yield
        except sqlite3.Error as exc:
            raise self.error(
                f"the database {self.path} failed ({type(exc).__name__}: {exc}); check the disk and that "
                f"no other program holds the file"
            ) from exc

    def close(self) -> None:
        with self._lock:
            self.db.conn.close()

    def backup_to(self, target: sqlite3.Connection) -> None:
        """Copy the whole database into `target` as one consistent snapshot (SQLite's online backup)."""
        with self._sqlite_errors(), self._lock:
            self.db.conn.backup(target)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """BEGIN IMMEDIATE … COMMIT (ROLLBACK on error); nested calls join the outer transaction."""
        with self._sqlite_errors(), self._lock, self._nesting.join(self._immediate):
            yield

    @contextmanager
    def _immediate(self) -> Iterator[None]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        with self._sqlite_errors(), self._lock:
            return list(self.db.query(sql, params))

    _rows = query  # the name the stores built on this class read with

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """One statement (inside `transaction()` when it writes); the number of rows it changed."""
        with self._sqlite_errors(), self._lock:
            return self.db.execute(sql, params).rowcount

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        with self._sqlite_errors(), self._lock:
            self.db.conn.executemany(sql, rows)

    def lock(self, keys: Iterable[LockKey]) -> None:
        """Nothing to take: BEGIN IMMEDIATE already holds the file's one write lock."""

    def meta(self, key: str) -> str | None:
        return sql_database.meta(self, key)

    def set_meta(self, key: str, value: str) -> None:
        sql_database.set_meta(self, key, value)
