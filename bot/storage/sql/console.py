"""The web console's store in SQL: login links and sessions by hash, subscriber growth."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from typing_extensions import override

from bot.storage.console import ConsoleStore, GrowthRow, TokenKind
from bot.storage.sql.database import Database, begin_write
from bot.storage.sql.tables import SUBSCRIBER, console_tokens, contacts

_TOUCH_GRANULARITY = timedelta(minutes=1)
"""A session's expiry is moved at most once a minute: a page polling every second then writes
to the database once a minute, not every second (a session may end up to a minute early)."""


class SqlConsole(ConsoleStore):
    """:class:`ConsoleStore` on the database a :class:`~bot.storage.sql.SqlStorage` opened.

    Args:
        db: the storage's open connection (``SqlStorage.database``).
    """

    def __init__(self, db: Database) -> None:
        self._db = db

    @override
    async def add_console_token(
        self,
        *,
        token_hash: str,
        kind: TokenKind,
        organizer: int,
        now: datetime,
        expires_at: datetime,
    ) -> None:
        values: dict[str, object] = {
            "token_hash": token_hash,
            "kind": kind.value,
            "organizer": organizer,
            "created_at": now,
            "expires_at": expires_at,
        }
        await self._db.run("add_console_token", _insert, values)

    @override
    async def use_login_link(self, token_hash: str, now: datetime) -> int | None:
        return await self._db.run("use_login_link", _use_link, token_hash, now)

    @override
    async def touch_session(self, token_hash: str, now: datetime, idle: timedelta) -> int | None:
        return await self._db.run("touch_session", _touch, token_hash, now, idle)

    @override
    async def end_session(self, token_hash: str) -> bool:
        return await self._db.run("end_session", _end, token_hash)

    @override
    async def prune_console_tokens(self, now: datetime) -> int:
        return await self._db.run("prune_console_tokens", _prune, now)

    @override
    async def subscriber_growth(self) -> list[GrowthRow]:
        return await self._db.run("subscriber_growth", _growth)


def _insert(conn: Connection, values: dict[str, object]) -> None:
    begin_write(conn)
    conn.execute(console_tokens.insert(), values)


def _use_link(conn: Connection, token_hash: str, now: datetime) -> int | None:
    begin_write(conn)
    deleted = conn.execute(
        console_tokens.delete()
        .where(
            console_tokens.c.token_hash == token_hash,
            console_tokens.c.kind == TokenKind.LINK.value,
        )
        .returning(console_tokens.c.organizer, console_tokens.c.expires_at)
    ).first()
    if deleted is None or deleted.expires_at <= now:
        return None
    return int(deleted.organizer)


def _touch(conn: Connection, token_hash: str, now: datetime, idle: timedelta) -> int | None:
    begin_write(conn)
    row = conn.execute(
        sa.select(console_tokens.c.organizer, console_tokens.c.expires_at).where(
            console_tokens.c.token_hash == token_hash,
            console_tokens.c.kind == TokenKind.SESSION.value,
        )
    ).first()
    if row is None:
        return None
    where = console_tokens.c.token_hash == token_hash
    if row.expires_at <= now:
        conn.execute(console_tokens.delete().where(where))
        return None
    if now + idle - row.expires_at >= _TOUCH_GRANULARITY:
        conn.execute(console_tokens.update().where(where).values(expires_at=now + idle))
    return int(row.organizer)


def _end(conn: Connection, token_hash: str) -> bool:
    begin_write(conn)
    result = conn.execute(
        console_tokens.delete().where(
            console_tokens.c.token_hash == token_hash,
            console_tokens.c.kind == TokenKind.SESSION.value,
        )
    )
    return bool(result.rowcount)


def _prune(conn: Connection, now: datetime) -> int:
    begin_write(conn)
    result = conn.execute(console_tokens.delete().where(console_tokens.c.expires_at <= now))
    return int(result.rowcount or 0)


def _growth(conn: Connection) -> list[GrowthRow]:
    day = sa.func.date(contacts.c.consent_at)
    query = (
        sa.select(day, contacts.c.channel, sa.func.count())
        .where(SUBSCRIBER)
        .group_by(day, contacts.c.channel)
    )
    rows = [
        GrowthRow(_as_date(value), channel, int(n)) for value, channel, n in conn.execute(query)
    ]
    return sorted(rows, key=lambda r: (r.day or date.min, r.channel))


def _as_date(value: object) -> date | None:
    """``date(...)`` in SQL: a date on PostgreSQL, ISO text on SQLite."""
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])
