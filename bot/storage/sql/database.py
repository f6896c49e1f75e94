"""The SQL store's one connection to its database: engines, transactions, the SQLite driver path.

Design notes, for whoever tunes this next:

* Every store method hands one plain function, ``fn(connection, ...)`` written with Core
  statements, to :meth:`Database.run`, which runs it as one transaction in a single hop.
* SQLite: one connection running SQLAlchemy's sync engine on the standard ``sqlite3`` driver
  (``sqlite+aiosqlite://`` URLs are accepted and mean this), called directly on the event
  loop's thread. With WAL and ``synchronous=NORMAL`` a statement takes microseconds, and
  measurements showed the hop to a worker thread costing several times the work itself
  (``bench/storage.py``: claim + load + save, about 2,400 messages/s through a worker thread,
  over 10,000 inline). Calls never interleave, so there are no "database is locked" fights
  inside the process, and a cancelled call never runs half-way. The price: while another
  *process* holds the write lock, a write here waits (up to ``busy_timeout``) with the loop
  blocked, so keep the long-running writers out of the serving process's way (bulk work is
  done in small batches). The statements every message runs (claim, load, save) go to the
  driver outside SQLAlchemy (:meth:`Database.on_driver`), skipping its per-statement and
  per-transaction work; see :mod:`bot.storage.sql.fastpath`.
  The driver runs in autocommit mode (``isolation_level=None``): a lone statement commits by
  itself, and functions that need several statements to be atomic start with
  :func:`begin_write` (``BEGIN IMMEDIATE``: the write lock is taken up front, so another
  process is waited for by ``busy_timeout`` instead of failing half-way).
* PostgreSQL: SQLAlchemy's async engine on asyncpg with a pool; the function runs in one
  greenlet (``AsyncConnection.run_sync``), as one READ COMMITTED transaction. Races between
  processes are settled by ``ON CONFLICT`` clauses, never by read-then-write.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Concatenate, Final, ParamSpec, TypeVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from bot.errors import StorageError
from bot.privacy import AddressVault
from bot.storage.sql import files, migrations
from bot.storage.sql.dialect import begin_write as begin_write
from bot.storage.sql.dialect import describe as describe
from bot.storage.sql.dialect import driver as driver
from bot.storage.sql.dialect import greatest as greatest
from bot.storage.sql.dialect import sqlite_time as sqlite_time
from bot.storage.sql.dialect import upsert as upsert
from bot.storage.values import dumps

logger = logging.getLogger(__name__)

_P = ParamSpec("_P")
_T = TypeVar("_T")

SQLITE_BUSY_TIMEOUT_MS: Final = 5_000
"""How long a SQLite statement waits for another process's write lock before failing."""

_SQLITE_PRAGMAS: Final = (
    "journal_mode=WAL",
    "synchronous=NORMAL",
    f"busy_timeout={SQLITE_BUSY_TIMEOUT_MS}",
    "foreign_keys=ON",  # ON DELETE CASCADE needs it, per connection
    "secure_delete=ON",  # forget() overwrites erased rows instead of leaving them in free pages
)

_URL_SCHEMES: Final = {
    # SQLite runs on the standard sqlite3 driver on the loop's thread (see the module docstring).
    "sqlite": "sqlite+pysqlite",
    "sqlite+aiosqlite": "sqlite+pysqlite",
    "sqlite+pysqlite": "sqlite+pysqlite",
    "postgresql": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
}

_URL_HELP: Final = "use sqlite+aiosqlite:///path/to/file or postgresql+asyncpg://user@host/dbname"


def _migrate(conn: Connection, now: datetime) -> tuple[int | None, int]:
    begin_write(conn)  # serializes two processes opening one SQLite file at once
    return migrations.upgrade(conn, now=now)


def _probe_write(conn: Connection) -> None:
    # A write that changes nothing: it goes through the journal like any other.
    begin_write(conn)
    conn.execute(
        sa.text(
            "UPDATE schema_version SET applied_at = applied_at "
            "WHERE version = (SELECT max(version) FROM schema_version)"
        )
    )


def _checkpoint(connection: sqlite3.Connection) -> tuple[int, int, int]:
    row = connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    return (int(row[0]), int(row[1]), int(row[2])) if row else (0, 0, 0)


def _prepare_sqlite_connection(dbapi_connection: Any, _record: Any) -> None:
    # The driver must not BEGIN on its own (see the module docstring).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        for pragma in _SQLITE_PRAGMAS:
            cursor.execute(f"PRAGMA {pragma}")
    finally:
        cursor.close()


def _prepare_side_connection(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
    finally:
        cursor.close()


class Database:
    """One SQLite file or PostgreSQL database, shared by the parts of one SQL store.

    Lifecycle: :meth:`open` (connects and applies migrations) -> :meth:`run` /
    :meth:`on_driver` calls -> :meth:`close`; both are safe to call twice.

    Args:
        url: the SQLAlchemy database URL (``database.url`` in the config).
        vault: the keys addresses are found and encrypted with (:mod:`bot.privacy`).
        engine_kwargs: extra engine arguments (``create_engine`` for SQLite,
            ``create_async_engine`` for PostgreSQL).

    Raises:
        StorageError: the URL cannot be parsed or names an unsupported database.
    """

    def __init__(
        self, url: str, *, vault: AddressVault, engine_kwargs: Mapping[str, Any] | None = None
    ) -> None:
        self.vault: Final = vault
        """How the store's parts hash and encrypt every identifier they keep."""
        try:
            parsed = sa.make_url(url)
        except sa_exc.ArgumentError:
            raise StorageError(f"database.url is not a database URL; {_URL_HELP}") from None
        drivername = _URL_SCHEMES.get(parsed.drivername)
        if drivername is None:
            raise StorageError(
                f"database.url: unsupported database {parsed.drivername!r}; {_URL_HELP}"
            )
        self._url = parsed.set(drivername=drivername)
        self.sqlite: Final = drivername.startswith("sqlite")
        """True on SQLite (the driver path is open to callers), False on PostgreSQL."""
        self._engine_kwargs = dict(engine_kwargs or {})
        # PostgreSQL: an async engine and its pool.
        self._pg_engine: AsyncEngine | None = None
        # SQLite: a sync engine and its one connection, used only from the loop's thread.
        self._sqlite_engine: sa.Engine | None = None
        self._sqlite_conn: Connection | None = None
        self._last_now: tuple[datetime | None, str] = (None, "")
        self._side_engine: AsyncEngine | None = None
        self._lifecycle = asyncio.Lock()
        self._file_identity: tuple[int, int] | None = None
        """The SQLite file's (device, inode) when it was opened: a replaced file differs."""

    @property
    def url(self) -> str:
        """The database URL with any password masked, fit for logs and error messages."""
        return self._url.render_as_string(hide_password=True)

    @property
    def dialect_name(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return "sqlite" if self.sqlite else "postgresql"

    @property
    def engine(self) -> AsyncEngine:
        """An async SQLAlchemy engine on this database, for tests and admin tools to inspect it.

        PostgreSQL: the store's own pool. SQLite: a separate aiosqlite engine without a pool
        on the same file (the store's own calls use its one connection), disposed by
        :meth:`close`. Every row the store has written is visible through it.

        Raises:
            StorageError: the database is not open, or is an in-memory SQLite database.
        """
        if self._pg_engine is not None:
            return self._pg_engine
        if self._sqlite_conn is None:
            raise StorageError("the storage is not open")
        if self._side_engine is None:
            if (self._url.database or "") in ("", ":memory:"):
                raise StorageError("an in-memory SQLite database cannot be opened twice")
            engine = create_async_engine(
                self._url.set(drivername="sqlite+aiosqlite"),
                poolclass=NullPool,
                hide_parameters=True,
                json_serializer=dumps,
            )
            event.listen(engine.sync_engine, "connect", _prepare_side_connection)
            self._side_engine = engine
        return self._side_engine

    # -- lifecycle -------------------------------------------------------------------------

    async def open(self) -> None:
        """Connect and bring the schema up to date.

        Raises:
            StorageError: the database cannot be reached, opened or migrated.
        """
        async with self._lifecycle:
            if self._pg_engine is None and self._sqlite_conn is None:
                await self._open()

    async def _open(self) -> None:
        kwargs: dict[str, Any] = {"hide_parameters": True, "json_serializer": dumps}
        if self.sqlite:
            self._make_sqlite_directory()
            if self.sqlite_path is not None:
                files.refuse_unwritable(self.sqlite_path)
        else:
            kwargs["pool_pre_ping"] = True
        kwargs.update(self._engine_kwargs)
        try:
            if self.sqlite:
                engine = sa.create_engine(self._url, **kwargs)
                event.listen(engine, "connect", _prepare_sqlite_connection)
                self._sqlite_engine = engine
                self._sqlite_conn = engine.connect()
            else:
                self._pg_engine = create_async_engine(self._url, **kwargs)
            before, after = await self._call(_migrate, datetime.now(UTC))
        except BaseException as exc:
            await self._shutdown()
            if isinstance(exc, StorageError):
                raise StorageError(f"cannot open the database {self.url}: {exc}") from exc
            if isinstance(exc, sa_exc.SQLAlchemyError | OSError | TypeError | ImportError):
                raise StorageError(
                    f"cannot open the database {self.url}: {describe(exc)}"
                ) from exc
            raise
        self._file_identity = (
            files.identity(self.sqlite_path) if self.sqlite_path is not None else None
        )
        if before != after:
            logger.info("database schema upgraded from version %s to %d", before, after)
        logger.info("storage open: %s, schema version %d", self.dialect_name, after)

    @property
    def sqlite_path(self) -> Path | None:
        """The SQLite database file (None for PostgreSQL or an in-memory database)."""
        database = self._url.database or ""
        if not self.sqlite or database in ("", ":memory:") or database.startswith("file:"):
            return None
        return Path(database)

    def check_files(self) -> None:
        """Raise StorageError if the SQLite files are not the ones opened, or not writable.

        See :func:`bot.storage.sql.files.check_open_files`; nothing to check on PostgreSQL.
        """
        path = self.sqlite_path
        if path is not None:
            files.check_open_files(path, self._file_identity)

    async def check_health(self) -> None:
        """Check the database can take writes now: files in place, and a write goes through.

        Raises:
            StorageError: why not, in words an operator can act on.
        """
        if self.sqlite:
            if self._sqlite_conn is None:
                raise StorageError("the storage is not open")
            self.check_files()
        await self.run("the storage health probe", _probe_write)

    def _make_sqlite_directory(self) -> None:
        database = self._url.database or ""
        if database in ("", ":memory:") or database.startswith("file:"):
            return
        directory = Path(database).parent
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(
                f"cannot create the directory {directory} for the SQLite database: "
                f"{exc.strerror or exc}"
            ) from exc

    async def close(self) -> None:
        """Release every connection.

        Raises:
            StorageError: closing failed.
        """
        try:
            async with self._lifecycle:
                await self._shutdown()
        except (sa_exc.SQLAlchemyError, OSError) as exc:
            raise StorageError(f"closing the database failed: {describe(exc)}") from exc

    async def _shutdown(self) -> None:
        pg_engine, self._pg_engine = self._pg_engine, None
        sqlite_engine, self._sqlite_engine = self._sqlite_engine, None
        conn, self._sqlite_conn = self._sqlite_conn, None
        side_engine, self._side_engine = self._side_engine, None
        if pg_engine is not None:
            await pg_engine.dispose()
        if side_engine is not None:
            await side_engine.dispose()
        try:
            if conn is not None:
                conn.close()
        finally:
            if sqlite_engine is not None:
                sqlite_engine.dispose()

    # -- calls -----------------------------------------------------------------------------

    async def run(
        self,
        what: str,
        fn: Callable[Concatenate[Connection, _P], _T],
        *args: _P.args,
        **kwargs: _P.kwargs,
    ) -> _T:
        """Run ``fn(connection, ...)`` as one transaction in one hop to the database.

        SQLite: inline, on the one connection; PostgreSQL: in one greenlet on a pooled
        connection.

        Raises:
            StorageError: the database failed (the message names ``what``) or is not open.
        """
        try:
            return await self._call(fn, *args, **kwargs)
        except (sa_exc.SQLAlchemyError, sqlite3.Error, OSError) as exc:
            raise StorageError(f"{what}: database error: {describe(exc)}") from exc

    async def _call(
        self,
        fn: Callable[Concatenate[Connection, _P], _T],
        *args: _P.args,
        **kwargs: _P.kwargs,
    ) -> _T:
        if self.sqlite:
            conn = self._sqlite_conn
            if conn is None:
                raise StorageError("the storage is not open")
            with conn.begin():
                return fn(conn, *args, **kwargs)

        def in_transaction(conn: Connection) -> _T:
            with conn.begin():
                return fn(conn, *args, **kwargs)

        engine = self._pg_engine
        if engine is None:
            raise StorageError("the storage is not open")
        async with engine.connect() as pg_conn:
            return await pg_conn.run_sync(in_transaction)

    def on_driver(
        self,
        what: str,
        fn: Callable[Concatenate[sqlite3.Connection, _P], _T],
        *args: _P.args,
        **kwargs: _P.kwargs,
    ) -> _T:
        """Run ``fn(sqlite3_connection, ...)`` on the SQLite driver, outside SQLAlchemy.

        For work that needs no transaction from SQLAlchemy: one statement (which commits by
        itself in autocommit mode), a read followed by an idempotent write, or a function that
        runs its own ``BEGIN IMMEDIATE`` ... ``COMMIT``. SQLite only.

        Raises:
            StorageError: the database failed (the message names ``what``) or is not open.
        """
        conn = self._sqlite_conn
        if conn is None:
            raise StorageError("the storage is not open")
        try:
            # Looked up on every call: SQLAlchemy may have replaced an invalidated connection.
            return fn(driver(conn), *args, **kwargs)
        except (sa_exc.SQLAlchemyError, sqlite3.Error, OSError) as exc:
            raise StorageError(f"{what}: database error: {describe(exc)}") from exc

    def scrub_after_erase(self) -> None:
        """Leave no copy of erased rows in SQLite's write-ahead log (``-wal`` file).

        ``secure_delete`` zeroes erased rows in the pages it writes, but with WAL those pages
        are appended to the ``-wal`` file, whose older frames still hold the rows as they
        were. A ``TRUNCATE`` checkpoint copies the latest pages into the database and empties
        the log. Nothing to do on PostgreSQL (its dead rows go at the next vacuum; see
        docs/PRIVACY.md). A checkpoint that another process's open read holds back is
        logged, and the next erase or a clean stop completes it.

        Raises:
            StorageError: the database failed.
        """
        if not self.sqlite:
            return
        busy, _log_frames, _copied = self.on_driver("erase checkpoint", _checkpoint)
        if busy:
            logger.warning(
                "SQLite checkpoint after an erase was held back by another connection; the "
                "erased rows stay in the -wal file until the next checkpoint"
            )

    def sqlite_now(self, now: datetime) -> str:
        """:func:`sqlite_time` of ``now``; one message's calls share ``now``, formatted once."""
        last, text = self._last_now
        if last is not now:
            text = sqlite_time(now)
            self._last_now = (now, text)
        return text
