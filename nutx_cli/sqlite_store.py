"""The SQLite ground under every role's store (DESIGN.md §2, layer 2).

The file (with its -wal/-shm) is owner-only (`private_files`): it holds seeds and keys.
WAL mode with `synchronous=FULL`, so a COMMIT is on disk when it returns: the mint's group commit
and the wallet's "store the secret before the share is sent" rely on that. Writes go through
`transaction()` (BEGIN IMMEDIATE … COMMIT, re-entrant, behind a lock, because event-loop code and
worker threads share one connection).

Every `sqlite3.Error` of a store's opening, its reads (`_rows`) and its transactions is raised as
the store's own `error` (a `StoreError` subclass each store names), which says which file failed;
the layers above then catch one `NutxError`, never sqlite3's types.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

import sqlite_utils

from nutx_cli.errors import NutxError
from nutx_cli.private_files import private_database

BUSY_TIMEOUT_MS = 10_000


class StoreError(NutxError):
    """The database failed (locked past the busy timeout, disk full, file damaged, a constraint broken)."""


class SqliteStore:
    """One database file with a schema (statements separated by `;`) and a `meta` key/value table."""

    error: ClassVar[type[StoreError]] = StoreError
    """The store's own error for sqlite3 failures."""

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
        self.db = sqlite_utils.Database(conn)
        self._lock = threading.RLock()
        self._depth = 0
        try:
            with self._sqlite_errors():
                conn.execute("PRAGMA synchronous=FULL")
                conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            with self.transaction():
                self._run_script(schema)
                stored = self.meta("schema")
                version = schema_version if stored is None else int(stored)
                if version > schema_version:
                    raise NutxError(f"{path} was written by a newer nutx (schema {version}); upgrade nutx")
                while version < schema_version:
                    self._run_script((migrations or {})[version])
                    version += 1
                self.set_meta("schema", str(version))
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

    def _run_script(self, sql: str) -> None:
        """Statements separated by `;`, inside the caller's transaction (unlike sqlite3's executescript)."""
        for statement in sql.split(";"):
            if statement.strip():
                self.db.execute(statement)

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
        with self._sqlite_errors(), self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            self.db.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield
            except BaseException:
                self._depth = 0
                self.db.execute("ROLLBACK")
                raise
            self._depth = 0
            self.db.execute("COMMIT")

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        with self._sqlite_errors(), self._lock:
            return list(self.db.query(sql, params))

    def meta(self, key: str) -> str | None:
        rows = self._rows("SELECT value FROM meta WHERE key = ?", (key,))
        return rows[0]["value"] if rows else None

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )
