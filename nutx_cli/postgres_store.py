"""The PostgreSQL ground a store can run on instead of SQLite (`sql_database.SqlDatabase`), via psycopg 3.

Several processes (pool front ends) share one server, so what SQLite got from its one write lock is
explicit here: transactions run at READ COMMITTED, and a store names the advisory locks (`lock`) and
row locks (`FOR UPDATE` / `FOR SHARE`) each read-check-write needs. PostgreSQL's COMMIT returns once
the WAL is flushed (`synchronous_commit` on, the server default), which the mint's group commit
relies on as it does on SQLite's `synchronous=FULL`.

One connection per store, in autocommit mode outside `transaction()`, behind a re-entrant lock (the
event loop and worker threads share it); a connection the server dropped is opened again at the next
transaction. Statements are written with SQLite's `?` placeholders and translated once each. A
serialization failure or a deadlock is raised as a `retryable` store error: its transaction changed
nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, ClassVar
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import errors as pg_errors
from psycopg.rows import dict_row

from nutx_cli import sql_database
from nutx_cli.errors import NutxError
from nutx_cli.sql_database import Dialect, LockKey, Nesting
from nutx_cli.sqlite_store import StoreError

SCHEMA_LOCK: LockKey = (0x6E757478, 0)  # "nutx": creating and migrating the schema, one process at a time
CONNECT_TIMEOUT_S = 10


def is_postgres_url(url: str) -> bool:
    return url.startswith(("postgresql://", "postgres://"))


def redacted(url: str) -> str:
    """The URL without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{netloc}"))


class PostgresStore:
    """One PostgreSQL database with a schema (statements separated by `;`) and a `meta` key/value table."""

    error: ClassVar[type[StoreError]] = StoreError
    dialect = Dialect.POSTGRES

    def __init__(
        self, url: str, schema: str, schema_version: int, migrations: Mapping[int, str] | None = None
    ) -> None:
        """Connect to `url`, create what `schema` lacks and bring an older database up to `schema_version`
        (one process at a time, in one transaction)."""
        self.url = url
        self.where = redacted(url)
        self._lock = threading.RLock()
        self._nesting = Nesting()
        self._sql: dict[str, str] = {}
        self._conn = self._connect()
        try:
            with self.transaction():
                self.lock([SCHEMA_LOCK])
                sql_database.bring_to_version(self, schema, schema_version, migrations)
        except StoreError as exc:
            self._conn.close()
            raise self.error(
                f"cannot bring {self.where} to schema {schema_version} ({exc.__cause__}); "
                "the database is left as it was"
            ) from exc.__cause__
        except BaseException:
            self._conn.close()
            raise

    def _connect(self) -> psycopg.Connection[dict[str, Any]]:
        try:
            return psycopg.connect(
                self.url, autocommit=True, row_factory=dict_row, connect_timeout=CONNECT_TIMEOUT_S
            )
        except psycopg.Error as exc:
            raise NutxError(
                f"cannot reach the database {self.where} ({' '.join(str(exc).split())}); check --database and "
                "that PostgreSQL runs"
            ) from None

    @contextmanager
    def _pg_errors(self) -> Iterator[None]:
        """psycopg errors raised inside as the store's own `error`."""
        try:
            yield
        except psycopg.Error as exc:
            retryable = isinstance(exc, pg_errors.SerializationFailure | pg_errors.DeadlockDetected)
            raise self.error(
                f"the database {self.where} failed ({type(exc).__name__}: {' '.join(str(exc).split())})",
                retryable=retryable,
            ) from exc

    def _translate(self, sql: str) -> str:
        """SQLite's `?` placeholders as psycopg's `%s` (a literal % doubled)."""
        out = self._sql.get(sql)
        if out is None:
            out = self._sql[sql] = sql.replace("%", "%%").replace("?", "%s")
        return out

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """BEGIN … COMMIT at READ COMMITTED (ROLLBACK on error); nested calls join the outer transaction."""
        with self._pg_errors(), self._lock, self._nesting.join(lambda: self._reopened().transaction()):
            yield

    def _reopened(self) -> psycopg.Connection[dict[str, Any]]:
        """The connection, opened again if the server dropped it (never inside a transaction)."""
        if self._conn.broken:
            self._conn = self._connect()
        return self._conn

    def _live(self) -> psycopg.Connection[dict[str, Any]]:
        return self._conn if self._nesting.depth else self._reopened()

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        with self._pg_errors(), self._lock:
            return self._live().execute(self._translate(sql), params).fetchall()

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        with self._pg_errors(), self._lock:
            return self._live().execute(self._translate(sql), params).rowcount

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        with self._pg_errors(), self._lock, self._live().cursor() as cur:
            cur.executemany(self._translate(sql), rows)

    def lock(self, keys: Iterable[LockKey]) -> None:
        """Advisory locks held until the transaction ends, taken in sorted order (no deadlock among them)."""
        assert self._nesting.depth, "advisory locks are taken inside a transaction"
        ordered = sorted(set(keys))
        if ordered:
            self.executemany("SELECT pg_advisory_xact_lock(?, ?)", ordered)
