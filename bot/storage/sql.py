"""Keeps the bot's data in SQLite or PostgreSQL: the Storage interface on SQLAlchemy Core.

Design notes, for whoever tunes this next:

* Every public method hands one plain function, ``fn(connection, ...)`` written with Core
  statements, to the database side in a single hop, and that function is one transaction.
* SQLite: one connection running SQLAlchemy's sync engine on the standard ``sqlite3`` driver
  (``sqlite+aiosqlite://`` URLs are accepted and mean this), called directly on the event
  loop's thread. With WAL and ``synchronous=NORMAL`` a statement takes microseconds, and
  measurements showed the hop to a worker thread costing several times the work itself
  (``bench/storage.py``: claim + load + save, about 2,400 messages/s through a worker thread,
  over 10,000 inline). Calls never interleave, so there are no "database is locked" fights
  inside the process, and a cancelled call never runs half-way. The price: while another
  *process* holds the write lock, a write here waits (up to ``busy_timeout``) with the loop
  blocked, so keep the long-running writers out of the serving process's way (bulk work is
  done in small batches). The three statements every message runs (claim, load, save) are
  written in SQLite's SQL and run on the driver outside SQLAlchemy (:meth:`_on_driver`),
  skipping its per-statement and per-transaction work: each is atomic by itself, and a save
  that also changes contact fields wraps both writes in ``BEGIN IMMEDIATE``. The contract
  suite checks them against the Core versions used on PostgreSQL.
  The driver runs in autocommit mode (``isolation_level=None``): a lone statement commits by
  itself, and methods that need several statements to be atomic start with
  ``BEGIN IMMEDIATE`` (taking the write lock up front, so another process is waited for by
  ``busy_timeout`` instead of failing half-way).
* PostgreSQL: SQLAlchemy's async engine on asyncpg with a pool; the function runs in one
  greenlet (``AsyncConnection.run_sync``), as one READ COMMITTED transaction. Races between
  processes are settled by ``ON CONFLICT`` clauses, never by read-then-write.
* ``save_conversation`` and ``update_contact`` write only the contact fields that changed
  since this storage last read them, so an unchanged row is not rewritten on every message,
  and a field another process changed meanwhile (a broadcast marking someone unreachable) is
  not undone.
* The broadcast methods (drafts, delivery rows, claims, workers, the shared send rate) live in
  :mod:`bot.storage.broadcasts_sql`, mixed in here.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Concatenate, Final, ParamSpec, TypeVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from bot.errors import StorageError
from bot.messages import Address
from bot.storage import migrations
from bot.storage.base import Contact, CounterRow, PruneResult, SessionRecord, Storage
from bot.storage.broadcasts_sql import BroadcastSqlMixin
from bot.storage.tables import (
    SUBSCRIBER,
    contacts,
    deliveries,
    inbound_ids,
    sessions,
    topic_counters,
)

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

_SNAPSHOT_LIMIT: Final = 10_000
"""How many contacts' last-read fields ``save_conversation`` remembers (oldest dropped)."""

_ContactFields = tuple[str | None, bool, datetime | None, bool, bool, date | None]
_FIELD_NAMES: Final = (
    "locale",
    "subscribed",
    "consent_at",
    "opted_out",
    "unreachable",
    "last_seen_day",
)
_UNKNOWN: Final = (object(),) * len(_FIELD_NAMES)
"""Compares unequal to anything: every field counts as changed when nothing was read."""
_CONTACT_COLUMNS: Final = (
    contacts.c.id,
    contacts.c.locale,
    contacts.c.subscribed,
    contacts.c.consent_at,
    contacts.c.opted_out,
    contacts.c.unreachable,
    contacts.c.last_seen_day,
)


_ENCODER: Final = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def dumps(value: Any) -> str:
    """Compact, strict JSON (no NaN), as stored for session states and JSON columns."""
    return _ENCODER.encode(value)


def _aware(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime")
    return value


def _fields(contact: Contact) -> _ContactFields:
    return (
        contact.locale,
        contact.subscribed,
        contact.consent_at,
        contact.opted_out,
        contact.unreachable,
        contact.last_seen_day,
    )


def _contact(address: Address, row: Any) -> Contact:
    cid, locale, subscribed, consent_at, opted_out, unreachable, last_seen_day = row[:7]
    return Contact(
        id=cid,
        address=address,
        locale=locale,
        subscribed=subscribed,
        consent_at=consent_at,
        opted_out=opted_out,
        unreachable=unreachable,
        last_seen_day=last_seen_day,
    )


def _session(state: str | None, updated_at: datetime | None) -> SessionRecord | None:
    if state is None or updated_at is None:
        return None
    try:
        data = json.loads(state)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        # Never written by this code; start the conversation over rather than fail forever.
        logger.warning("a stored session state is not a JSON object; starting over")
        return None
    return SessionRecord(state=data, updated_at=updated_at)


def _describe(exc: BaseException) -> str:
    """Exception class and first line of the driver's message; never SQL parameters."""
    orig = getattr(exc, "orig", None)
    err = orig if isinstance(orig, BaseException) else exc
    lines = str(err).strip().splitlines()
    return f"{type(err).__name__}: {lines[0]}" if lines else type(err).__name__


# The per-message statements on SQLite, written for the driver directly (see the module
# docstring). Times are stored as SQLAlchemy's SQLite DateTime stores them: naive UTC text
# with microseconds, so that text comparisons (retention) agree with the Core statements.
_SQLITE_CLAIM: Final = (
    "INSERT INTO inbound_ids (channel, message_id, seen_at) VALUES (?, ?, ?) "
    "ON CONFLICT (channel, message_id) DO NOTHING"
)
_SQLITE_LOAD: Final = (
    "SELECT contacts.id, contacts.locale, contacts.subscribed, contacts.consent_at, "
    "contacts.opted_out, contacts.unreachable, contacts.last_seen_day, sessions.state, "
    "sessions.updated_at FROM contacts LEFT OUTER JOIN sessions "
    "ON sessions.contact_id = contacts.id WHERE contacts.channel = ? AND contacts.address = ?"
)
_SQLITE_TOUCH: Final = "UPDATE contacts SET last_seen_day = ? WHERE contacts.id = ?"
_SQLITE_PUT_SESSION: Final = (
    "INSERT INTO sessions (contact_id, state, updated_at) VALUES (?, ?, ?) "
    "ON CONFLICT (contact_id) DO UPDATE SET state = excluded.state, "
    "updated_at = excluded.updated_at"
)


def _driver(conn: Connection) -> Any:
    """The ``sqlite3`` connection under a SQLAlchemy connection."""
    return conn.connection.driver_connection


def _sqlite_time(value: datetime) -> str:
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def _from_sqlite_time(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value).replace(tzinfo=UTC)


class _ContactGone(Exception):
    """The contact was forgotten while its conversation was in flight."""


def _sqlite_claim(driver: sqlite3.Connection, params: tuple[str, str, str]) -> bool:
    return bool(driver.execute(_SQLITE_CLAIM, params).rowcount == 1)


def _sqlite_load_row(driver: sqlite3.Connection, address: Address) -> tuple[Any, ...] | None:
    raw = driver.execute(_SQLITE_LOAD, (address.channel, address.id)).fetchone()
    if raw is None:
        return None
    cid, locale, subscribed, consent_at, opted_out, unreachable, day, state, updated = raw
    return (
        cid,
        locale,
        bool(subscribed),
        _from_sqlite_time(consent_at),
        bool(opted_out),
        bool(unreachable),
        date.fromisoformat(day) if day else None,
        state,
        _from_sqlite_time(updated),
    )


def _sqlite_load(
    driver: sqlite3.Connection, address: Address, today: date
) -> tuple[Contact, SessionRecord | None] | None:
    """A known contact and its session, its last-seen day set to ``today``; None if unknown."""
    row = _sqlite_load_row(driver, address)
    if row is None:
        return None
    contact = _contact(address, row)
    if contact.last_seen_day != today:
        # Setting a day is idempotent, so no transaction is needed around read and write.
        driver.execute(_SQLITE_TOUCH, (today.isoformat(), contact.id))
        contact.last_seen_day = today
    return contact, _session(row[7], row[8])


def _sqlite_put_session(driver: sqlite3.Connection, params: tuple[int, str, str]) -> None:
    try:
        driver.execute(_SQLITE_PUT_SESSION, params)
    except sqlite3.IntegrityError as exc:  # the contact is gone (foreign key)
        raise _ContactGone from exc


def _sqlite_value(value: object) -> object:
    """A contact field as SQLAlchemy's SQLite types store it."""
    if isinstance(value, datetime):
        return _sqlite_time(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def _sqlite_save(
    driver: sqlite3.Connection,
    contact_id: int,
    changed: Mapping[str, Any],
    state_json: str,
    updated_at: str,
) -> None:
    """Write a contact's changed fields (names from _FIELD_NAMES) and its session, atomically."""
    if not changed:  # the usual message: one upsert, atomic by itself
        _sqlite_put_session(driver, (contact_id, state_json, updated_at))
        return
    assignments = ", ".join(f"{name} = ?" for name in changed)
    driver.execute("BEGIN IMMEDIATE")
    try:
        cursor = driver.execute(
            f"UPDATE contacts SET {assignments} WHERE id = ?",  # noqa: S608 -- fixed names
            (*map(_sqlite_value, changed.values()), contact_id),
        )
        if cursor.rowcount == 0:
            raise _ContactGone
        _sqlite_put_session(driver, (contact_id, state_json, updated_at))
        driver.execute("COMMIT")
    except BaseException:
        # Never leave the transaction open: the next lone statement would run inside it.
        if driver.in_transaction:  # an error may already have rolled it back
            driver.execute("ROLLBACK")
        raise


def _begin_write(conn: Connection) -> None:
    """Make the rest of this call one atomic write transaction (SQLite: take the lock now)."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def _migrate(conn: Connection, now: datetime) -> tuple[int | None, int]:
    _begin_write(conn)  # serializes two processes opening one SQLite file at once
    return migrations.upgrade(conn, now=now)


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


class SqlStorage(BroadcastSqlMixin, Storage):
    """:class:`Storage` on SQLite (``sqlite+aiosqlite:///path``, the default) or PostgreSQL
    (``postgresql+asyncpg://user@host/db``, for several instances on one database).

    ``sqlite://`` and ``postgresql://`` URLs are accepted too. Any SQLite URL runs on the
    standard ``sqlite3`` driver on the event loop's thread; PostgreSQL always runs on asyncpg.

    Args:
        url: the SQLAlchemy database URL (``database.url`` in the config).
        engine_kwargs: extra engine arguments (``create_engine`` for SQLite,
            ``create_async_engine`` for PostgreSQL), for example
            ``{"connect_args": {"server_settings": {"search_path": "s1"}}}``.

    Raises:
        StorageError: the URL cannot be parsed or names an unsupported database.
    """

    def __init__(self, url: str, *, engine_kwargs: Mapping[str, Any] | None = None) -> None:
        try:
            parsed = sa.make_url(url)
        except sa_exc.ArgumentError:
            raise StorageError(
                "database.url is not a database URL; use sqlite+aiosqlite:///path/to/file "
                "or postgresql+asyncpg://user@host/dbname"
            ) from None
        drivername = _URL_SCHEMES.get(parsed.drivername)
        if drivername is None:
            raise StorageError(
                f"database.url: unsupported database {parsed.drivername!r}; use "
                "sqlite+aiosqlite:///path/to/file or postgresql+asyncpg://user@host/dbname"
            )
        self._url = parsed.set(drivername=drivername)
        self._sqlite = drivername.startswith("sqlite")
        self._engine_kwargs = dict(engine_kwargs or {})
        # PostgreSQL: an async engine and its pool.
        self._pg_engine: AsyncEngine | None = None
        # SQLite: a sync engine and its one connection, used only from the loop's thread.
        self._sqlite_engine: sa.Engine | None = None
        self._sqlite_conn: Connection | None = None
        self._last_now: tuple[datetime | None, str] = (None, "")
        self._sqlite_open = False
        self._side_engine: AsyncEngine | None = None
        self._lifecycle = asyncio.Lock()
        self._known: dict[int, _ContactFields] = {}
        self._build_statements()

    @property
    def url(self) -> str:
        """The database URL with any password masked, fit for logs and error messages."""
        return self._url.render_as_string(hide_password=True)

    @property
    def engine(self) -> AsyncEngine:
        """An async SQLAlchemy engine on this database, for tests and admin tools to inspect it.

        PostgreSQL: the storage's own pool. SQLite: a separate aiosqlite engine without a pool
        on the same file (the storage's own calls use its one connection), disposed by
        :meth:`close`. Every row the storage has written is visible through it.

        Raises:
            StorageError: the storage is not open, or is an in-memory SQLite database.
        """
        if self._pg_engine is not None:
            return self._pg_engine
        if not self._sqlite_open:
            raise StorageError("the storage is not open")
        if self._side_engine is None:
            database = self._url.database or ""
            if database in ("", ":memory:"):
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

    @property
    def dialect_name(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return "sqlite" if self._sqlite else "postgresql"

    def _build_statements(self) -> None:
        insert = sqlite.insert if self._sqlite else postgresql.insert
        self._q_claim = insert(inbound_ids).on_conflict_do_nothing(
            index_elements=[inbound_ids.c.channel, inbound_ids.c.message_id]
        )
        self._q_load = (
            sa.select(*_CONTACT_COLUMNS, sessions.c.state, sessions.c.updated_at)
            .select_from(contacts.outerjoin(sessions, sessions.c.contact_id == contacts.c.id))
            .where(
                contacts.c.channel == sa.bindparam("channel"),
                contacts.c.address == sa.bindparam("address"),
            )
        )
        self._q_get = sa.select(*_CONTACT_COLUMNS).where(
            contacts.c.channel == sa.bindparam("channel"),
            contacts.c.address == sa.bindparam("address"),
        )
        self._q_create = (
            insert(contacts)
            .on_conflict_do_nothing(index_elements=[contacts.c.channel, contacts.c.address])
            .returning(contacts.c.id)
        )
        self._q_touch = (
            sa.update(contacts)
            .where(contacts.c.id == sa.bindparam("contact"))
            .values(last_seen_day=sa.bindparam("day"))
        )
        session_insert = insert(sessions)
        self._q_put_session = session_insert.on_conflict_do_update(
            index_elements=[sessions.c.contact_id],
            set_={
                "state": session_insert.excluded.state,
                "updated_at": session_insert.excluded.updated_at,
            },
        )
        self._q_drop_session = sa.delete(sessions).where(
            sessions.c.contact_id == sa.bindparam("contact")
        )
        counter_insert = insert(topic_counters)
        self._q_count = counter_insert.on_conflict_do_update(
            index_elements=list(topic_counters.primary_key.columns),
            set_={"count": topic_counters.c.count + counter_insert.excluded["count"]},
        )
        self._q_subscribers = (
            sa.select(contacts.c.channel, contacts.c.address, *_CONTACT_COLUMNS)
            .where(SUBSCRIBER, contacts.c.id > sa.bindparam("after"))
            .order_by(contacts.c.id)
            .limit(sa.bindparam("limit"))
        )

    # -- lifecycle -------------------------------------------------------------------------

    async def open(self) -> None:
        async with self._lifecycle:
            if self._pg_engine is None and not self._sqlite_open:
                await self._open()

    async def _open(self) -> None:
        kwargs: dict[str, Any] = {"hide_parameters": True, "json_serializer": dumps}
        if self._sqlite:
            self._make_sqlite_directory()
        else:
            kwargs["pool_pre_ping"] = True
        kwargs.update(self._engine_kwargs)
        try:
            if self._sqlite:
                engine = sa.create_engine(self._url, **kwargs)
                event.listen(engine, "connect", _prepare_sqlite_connection)
                self._sqlite_engine = engine
                self._sqlite_conn = engine.connect()
                self._sqlite_open = True
            else:
                self._pg_engine = create_async_engine(self._url, **kwargs)
            before, after = await self._call(_migrate, datetime.now(UTC))
        except BaseException as exc:
            await self._shutdown()
            if isinstance(exc, StorageError):
                raise StorageError(f"cannot open the database {self.url}: {exc}") from exc
            if isinstance(exc, sa_exc.SQLAlchemyError | OSError | TypeError | ImportError):
                raise StorageError(
                    f"cannot open the database {self.url}: {_describe(exc)}"
                ) from exc
            raise
        if before != after:
            logger.info("database schema upgraded from version %s to %d", before, after)
        logger.info("storage open: %s, schema version %d", self.dialect_name, after)

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
        try:
            async with self._lifecycle:
                await self._shutdown()
        except (sa_exc.SQLAlchemyError, OSError) as exc:
            raise StorageError(f"closing the database failed: {_describe(exc)}") from exc

    async def _shutdown(self) -> None:
        pg_engine, self._pg_engine = self._pg_engine, None
        sqlite_engine, self._sqlite_engine = self._sqlite_engine, None
        conn, self._sqlite_conn = self._sqlite_conn, None
        self._sqlite_open = False
        side_engine, self._side_engine = self._side_engine, None
        self._known.clear()
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

    async def _run(
        self,
        what: str,
        fn: Callable[Concatenate[Connection, _P], _T],
        *args: _P.args,
        **kwargs: _P.kwargs,
    ) -> _T:
        """:meth:`_call`, with database failures raised as StorageError naming ``what``."""
        try:
            return await self._call(fn, *args, **kwargs)
        except (sa_exc.SQLAlchemyError, sqlite3.Error, OSError) as exc:
            raise StorageError(f"{what}: database error: {_describe(exc)}") from exc

    async def _call(
        self,
        fn: Callable[Concatenate[Connection, _P], _T],
        *args: _P.args,
        **kwargs: _P.kwargs,
    ) -> _T:
        """Run ``fn(sync_connection, ...)`` as one transaction in one hop to the database.

        SQLite: inline, on the one connection; PostgreSQL: in one greenlet on a
        pooled connection.
        """
        if self._sqlite:
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

    def _sqlite_now(self, now: datetime) -> str:
        """``now`` as SQLite stores it; one message's calls share ``now``, formatted once."""
        last, text = self._last_now
        if last is not now:
            text = _sqlite_time(now)
            self._last_now = (now, text)
        return text

    def _on_driver(
        self,
        what: str,
        fn: Callable[Concatenate[sqlite3.Connection, _P], _T],
        *args: _P.args,
        **kwargs: _P.kwargs,
    ) -> _T:
        """Run ``fn(sqlite3_connection, ...)`` on the SQLite driver, outside SQLAlchemy.

        For work that needs no transaction from SQLAlchemy: one statement (which commits by
        itself in autocommit mode), a read followed by an idempotent write, or a function that
        runs its own ``BEGIN IMMEDIATE`` ... ``COMMIT``. Database failures are raised as
        StorageError naming ``what``.
        """
        conn = self._sqlite_conn
        if conn is None:
            raise StorageError("the storage is not open")
        try:
            # Looked up on every call: SQLAlchemy may have replaced an invalidated connection.
            return fn(_driver(conn), *args, **kwargs)
        except (sa_exc.SQLAlchemyError, sqlite3.Error, OSError) as exc:
            raise StorageError(f"{what}: database error: {_describe(exc)}") from exc

    # -- conversations ---------------------------------------------------------------------

    async def claim_inbound(self, channel: str, message_id: str, now: datetime) -> bool:
        _aware(now, "now")
        if self._sqlite:
            return self._on_driver(
                "claim_inbound", _sqlite_claim, (channel, message_id, self._sqlite_now(now))
            )
        params = {"channel": channel, "message_id": message_id, "seen_at": now}
        return await self._run("claim_inbound", self._claim, params)

    def _claim(self, conn: Connection, params: dict[str, Any]) -> bool:
        return conn.execute(self._q_claim, params).rowcount == 1

    async def load_conversation(
        self, address: Address, today: date
    ) -> tuple[Contact, SessionRecord | None]:
        found = None
        if self._sqlite:  # a known contact in one or two statements; a new one below
            found = self._on_driver("load_conversation", _sqlite_load, address, today)
        if found is None:
            found = await self._run("load_conversation", self._load, address, today)
        contact, session = found
        self._remember(contact)
        return contact, session

    def _load(
        self, conn: Connection, address: Address, today: date
    ) -> tuple[Contact, SessionRecord | None]:
        key = {"channel": address.channel, "address": address.id}
        for _ in range(3):
            found = (
                _sqlite_load(_driver(conn), address, today)
                if self._sqlite
                else self._pg_load(conn, address, today)
            )
            if found is not None:
                return found
            created = conn.execute(self._q_create, {**key, "last_seen_day": today}).scalar()
            if created is not None:
                return Contact(id=created, address=address, last_seen_day=today), None
            # Another task or process created it first: read theirs.
        raise StorageError("load_conversation: the contact kept disappearing while loading")

    def _pg_load(
        self, conn: Connection, address: Address, today: date
    ) -> tuple[Contact, SessionRecord | None] | None:
        """As :func:`_sqlite_load`, in Core statements."""
        row = conn.execute(
            self._q_load, {"channel": address.channel, "address": address.id}
        ).first()
        if row is None:
            return None
        contact = _contact(address, row)
        if contact.last_seen_day != today:
            conn.execute(self._q_touch, {"contact": contact.id, "day": today})
            contact.last_seen_day = today
        return contact, _session(row[7], row[8])

    async def save_conversation(
        self, contact: Contact, state: Mapping[str, Any] | None, now: datetime
    ) -> None:
        _aware(now, "now")
        changed = self._changes(contact)
        state_json = None if state is None else dumps(dict(state))
        try:
            if self._sqlite and state_json is not None:
                self._on_driver(
                    "save_conversation",
                    _sqlite_save,
                    contact.id,
                    changed,
                    state_json,
                    self._sqlite_now(now),
                )
            else:
                await self._run(
                    "save_conversation", self._save, contact.id, changed, state_json, now
                )
        except _ContactGone:
            self._known.pop(contact.id, None)
            logger.debug("save_conversation: the contact was forgotten meanwhile; not saved")
            return
        self._remember(contact)

    def _save(
        self,
        conn: Connection,
        contact_id: int,
        changed: dict[str, Any],
        state_json: str | None,
        now: datetime,
    ) -> None:
        if changed:
            _begin_write(conn)
            self._update(conn, contact_id, changed)
        if state_json is None:
            conn.execute(self._q_drop_session, {"contact": contact_id})
            return
        try:  # a session to put: only PostgreSQL comes here (SQLite uses _sqlite_save)
            conn.execute(
                self._q_put_session,
                {"contact_id": contact_id, "state": state_json, "updated_at": now},
            )
        except sa_exc.IntegrityError as exc:  # the contact is gone (foreign key)
            raise _ContactGone from exc

    async def update_contact(self, contact: Contact) -> None:
        changed = self._changes(contact)
        if not changed:
            return
        try:
            await self._run("update_contact", self._update, contact.id, changed)
        except _ContactGone:
            self._known.pop(contact.id, None)
            logger.debug("update_contact: the contact was forgotten meanwhile; not saved")
            return
        self._remember(contact)

    @staticmethod
    def _update(conn: Connection, contact_id: int, changed: dict[str, Any]) -> None:
        update = sa.update(contacts).where(contacts.c.id == contact_id).values(changed)
        if conn.execute(update).rowcount == 0:
            raise _ContactGone

    def _changes(self, contact: Contact) -> dict[str, Any]:
        """The contact's fields that differ from what this storage last read or wrote.

        All of them when it has no record (the contact came from elsewhere, or was evicted).
        """
        if contact.consent_at is not None:
            _aware(contact.consent_at, "contact.consent_at")
        known = self._known.get(contact.id, _UNKNOWN)
        return {
            name: value
            for name, value, old in zip(_FIELD_NAMES, _fields(contact), known, strict=True)
            if value != old
        }

    def _remember(self, contact: Contact) -> None:
        known = self._known
        known.pop(contact.id, None)
        known[contact.id] = _fields(contact)
        if len(known) > _SNAPSHOT_LIMIT:
            del known[next(iter(known))]

    # -- contacts --------------------------------------------------------------------------

    async def get_contact(self, address: Address) -> Contact | None:
        contact = await self._run("get_contact", self._get, address)
        if contact is not None:
            self._remember(contact)
        return contact

    def _get(self, conn: Connection, address: Address) -> Contact | None:
        row = conn.execute(
            self._q_get, {"channel": address.channel, "address": address.id}
        ).first()
        return None if row is None else _contact(address, row)

    async def forget(self, address: Address) -> bool:
        contact_id = await self._run("forget", self._forget, address)
        if contact_id is None:
            return False
        self._known.pop(contact_id, None)
        return True

    @staticmethod
    def _forget(conn: Connection, address: Address) -> int | None:
        _begin_write(conn)
        contact_id = conn.execute(
            sa.select(contacts.c.id).where(
                contacts.c.channel == address.channel, contacts.c.address == address.id
            )
        ).scalar()
        if contact_id is None:
            return None
        # The foreign keys cascade too; deleting explicitly keeps erasure independent of that.
        conn.execute(sa.delete(deliveries).where(deliveries.c.contact_id == contact_id))
        conn.execute(sa.delete(sessions).where(sessions.c.contact_id == contact_id))
        conn.execute(sa.delete(contacts).where(contacts.c.id == contact_id))
        return int(contact_id)

    async def iter_subscribers(self, *, batch_size: int = 500) -> AsyncIterator[list[Contact]]:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        after = 0
        while True:
            # One short query per batch: nothing is held open while the caller sends.
            batch = await self._run("iter_subscribers", self._subscribers, after, batch_size)
            if batch:
                yield batch
            if len(batch) < batch_size:
                return
            after = batch[-1].id

    def _subscribers(self, conn: Connection, after: int, limit: int) -> list[Contact]:
        rows = conn.execute(self._q_subscribers, {"after": after, "limit": limit})
        return [_contact(Address(row[0], row[1]), row[2:]) for row in rows]

    # -- counters and retention ------------------------------------------------------------

    async def add_topic_counts(self, counts: Mapping[tuple[date, str, str, str], int]) -> None:
        # Sorted, so concurrent writers lock rows in the same order and cannot deadlock.
        rows = [
            {"day": day, "node": node, "locale": locale, "channel": channel, "count": count}
            for (day, node, locale, channel), count in sorted(counts.items())
            if count
        ]
        if rows:
            await self._run("add_topic_counts", self._add_counts, rows)

    def _add_counts(self, conn: Connection, rows: list[dict[str, Any]]) -> None:
        if len(rows) > 1:
            _begin_write(conn)
        conn.execute(self._q_count, rows)

    async def topic_counts(self, *, since: date, until: date) -> list[CounterRow]:
        return await self._run("topic_counts", self._counts, since, until)

    @staticmethod
    def _counts(conn: Connection, since: date, until: date) -> list[CounterRow]:
        t = topic_counters
        query = (
            sa.select(t.c.day, t.c.node, t.c.locale, t.c.channel, t.c.count)
            .where(t.c.day >= since, t.c.day <= until)
            .order_by(t.c.day, t.c.node, t.c.locale, t.c.channel)
        )
        return [CounterRow(*row) for row in conn.execute(query)]

    async def prune(
        self, *, sessions_before: datetime, inbound_before: datetime, deliveries_before: datetime
    ) -> PruneResult:
        return await self._run(
            "prune",
            self._prune,
            _aware(sessions_before, "sessions_before"),
            _aware(inbound_before, "inbound_before"),
            _aware(deliveries_before, "deliveries_before"),
        )

    @staticmethod
    def _prune(
        conn: Connection,
        sessions_before: datetime,
        inbound_before: datetime,
        deliveries_before: datetime,
    ) -> PruneResult:
        _begin_write(conn)
        result = PruneResult(
            sessions=conn.execute(
                sa.delete(sessions).where(sessions.c.updated_at < sessions_before)
            ).rowcount,
            inbound_ids=conn.execute(
                sa.delete(inbound_ids).where(inbound_ids.c.seen_at < inbound_before)
            ).rowcount,
            deliveries=conn.execute(
                sa.delete(deliveries).where(deliveries.c.updated_at < deliveries_before)
            ).rowcount,
        )
        if result.sessions or result.inbound_ids or result.deliveries:
            logger.info(
                "pruned %d sessions, %d dedup ids, %d deliveries",
                result.sessions,
                result.inbound_ids,
                result.deliveries,
            )
        return result
