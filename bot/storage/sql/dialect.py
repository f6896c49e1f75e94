"""Small SQL helpers that differ by dialect: upserts, GREATEST, SQLite's time text, errors."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection


def describe(exc: BaseException) -> str:
    """Exception class and first line of the driver's message; never SQL parameters."""
    orig = getattr(exc, "orig", None)
    err = orig if isinstance(orig, BaseException) else exc
    lines = str(err).strip().splitlines()
    return f"{type(err).__name__}: {lines[0]}" if lines else type(err).__name__


def driver(conn: Connection) -> Any:
    """The ``sqlite3`` connection under a SQLAlchemy connection."""
    return conn.connection.driver_connection


def sqlite_time(value: datetime) -> str:
    """A time as SQLAlchemy's SQLite DateTime stores it: naive UTC text with microseconds.

    Statements run on the driver store times this way, so that text comparisons (retention)
    agree with the Core statements.
    """
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def begin_write(conn: Connection) -> None:
    """Make the rest of this call one atomic write transaction (SQLite: take the lock now)."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def greatest(conn: Connection, *values: Any) -> Any:
    """SQL for the largest of ``values`` in the connection's dialect."""
    fn = sa.func.max if conn.dialect.name == "sqlite" else sa.func.greatest
    return fn(*values)


def upsert(dialect: str, table: sa.Table) -> Any:
    """An INSERT with ``ON CONFLICT`` clauses for ``dialect`` (``"sqlite"``/``"postgresql"``)."""
    return sqlite.insert(table) if dialect == "sqlite" else postgresql.insert(table)
