"""Shared pieces of the storage tests: the backends under test and records made through them."""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from bot.messages import Address
from bot.storage import Contact, MemoryStorage, SqlStorage, Storage
from bot.storage.memory import MemoryDatabase
from tests.support.keys import TEST_VAULT

POSTGRES_URL = os.environ.get("KYRBOT_TEST_POSTGRES_URL")

NOW = datetime(2026, 3, 5, 12, 30, 15, 123456, tzinfo=UTC)
TODAY = NOW.date()
ALICE = Address("sms", "+14145550101")
BOB = Address("telegram", "987654321")

EXPECTED_COLUMNS = {
    "schema_version": {"version", "applied_at"},
    "contacts": {
        "id",
        "channel",
        "address_hash",
        "address_cipher",
        "locale",
        "subscribed",
        "consent_at",
        "opted_out",
        "unreachable",
        "last_seen_day",
        "inbound_seq",
        "handled_seq",
        "last_inbound_at",
    },
    "sessions": {"contact_id", "state", "updated_at"},
    "inbound_ids": {"channel", "message_id", "seen_at"},
    "topic_counters": {"day", "node", "locale", "channel", "count"},
    "broadcasts": {
        "id",
        "created_at",
        "author",
        "status",
        "texts",
        "allow_fallback",
        "started_at",
        "finished_at",
        "audience_upto",
        "materialized_upto",
        "materialized",
    },
    "deliveries": {
        "id",
        "broadcast_id",
        "contact_id",
        "locale",
        "channel",
        "status",
        "attempts",
        "provider_id",
        "error",
        "updated_at",
        "claimed_by",
        "claimed_at",
        "not_before",
        "first_attempt_at",
    },
    "outbox": {
        "id",
        "contact_id",
        "channel",
        "payload",
        "status",
        "attempts",
        "created_at",
        "updated_at",
        "expires_at",
        "not_before",
        "claimed_by",
        "claimed_at",
        "error",
    },
    "audit_log": {"id", "at", "actor", "action", "detail"},
    "broadcast_workers": {"id", "host", "pid", "started_at", "heartbeat_at"},
    "send_rate": {"channel", "next_free_at"},
    "console_tokens": {"token_hash", "kind", "organizer", "created_at", "expires_at"},
    "tickets": {
        "id",
        "contact_id",
        "channel",
        "locale",
        "page",
        "status",
        "opened_at",
        "last_activity_at",
        "claimed_by",
        "first_answer_at",
        "closed_at",
        "close_reason",
        "to_volunteers",
        "to_person",
    },
}
"""Every table and column the SQL store may have (DESIGN.md: what is stored, and no more)."""


@dataclass
class MemoryBackend:
    """One in-memory database for one test; every storage made on it sees the same rows."""

    name: str = "memory"
    database: MemoryDatabase = field(default_factory=MemoryDatabase)

    def storage(self) -> Storage:
        """A new, unopened storage on these rows (a second one acts like another process)."""
        return MemoryStorage(self.database)


@dataclass
class SqlBackend:
    """One SQL database for one test: makes storages on it and reads its tables directly."""

    name: str
    url: str
    engine_kwargs: dict[str, Any] = field(default_factory=dict)
    _inspector: AsyncEngine | None = None

    def storage(self) -> SqlStorage:
        """A new, unopened storage on this database (a second one acts like another process)."""
        return SqlStorage(self.url, vault=TEST_VAULT, engine_kwargs=self.engine_kwargs)

    @property
    def engine(self) -> AsyncEngine:
        """An engine of its own, independent of the storage under test."""
        if self._inspector is None:
            self._inspector = create_async_engine(
                self.url, poolclass=NullPool, **self.engine_kwargs
            )
        return self._inspector

    async def rows(self, sql: str, **params: Any) -> list[tuple[Any, ...]]:
        """Run a query on the database itself and return plain tuples."""
        async with self.engine.connect() as conn:
            result = await conn.execute(sa.text(sql), params)
            return [tuple(row) for row in result]

    async def execute(self, sql: str, **params: Any) -> None:
        """Run a statement on the database itself, committed."""
        async with self.engine.begin() as conn:
            await conn.execute(sa.text(sql), params)

    async def count(self, table: str) -> int:
        """How many rows ``table`` has."""
        return int((await self.rows(f"SELECT count(*) FROM {table}"))[0][0])

    async def columns(self) -> dict[str, set[str]]:
        """Every table in the database with its column names."""

        def read(conn: sa.Connection) -> dict[str, set[str]]:
            inspector = sa.inspect(conn)
            return {
                table: {column["name"] for column in inspector.get_columns(table)}
                for table in inspector.get_table_names()
            }

        async with self.engine.connect() as conn:
            return await conn.run_sync(read)

    async def dispose(self) -> None:
        if self._inspector is not None:
            await self._inspector.dispose()


Backend = MemoryBackend | SqlBackend


async def sql_database(kind: str, tmp_path: Path) -> AsyncIterator[SqlBackend]:
    """A SQLite file, or a fresh PostgreSQL schema (dropped afterwards).

    PostgreSQL is skipped unless ``KYRBOT_TEST_POSTGRES_URL`` is set.
    """
    if kind == "sqlite":
        # A nested path also checks that the storage creates the parent directory.
        db = SqlBackend("sqlite", f"sqlite+aiosqlite:///{tmp_path / 'data' / 'kyrbot.sqlite3'}")
        yield db
        await db.dispose()
        return
    if not POSTGRES_URL:
        pytest.skip("KYRBOT_TEST_POSTGRES_URL is not set")
    schema = f"kyrbot_test_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(POSTGRES_URL, poolclass=NullPool)
    async with admin.begin() as conn:
        await conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    db = SqlBackend(
        "postgresql", POSTGRES_URL, {"connect_args": {"server_settings": {"search_path": schema}}}
    )
    try:
        yield db
    finally:
        await db.dispose()
        async with admin.begin() as conn:
            await conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        await admin.dispose()


def as_utc(value: Any) -> datetime:
    """A datetime read directly from the database (SQLite gives text or naive), as aware UTC."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    assert isinstance(value, datetime)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def as_date(value: Any) -> date:
    return date.fromisoformat(value) if isinstance(value, str) else value


_numbers = itertools.count(1)


async def subscribers(
    storage: Storage, specs: list[tuple[str, str | None]], *, subscribed: bool = True
) -> list[Contact]:
    """Contacts ``(channel, locale)`` created through the storage, subscribed by default."""
    made = []
    for channel, locale in specs:
        n = next(_numbers)
        number = f"+1414555{n:04d}" if channel == "sms" else str(700000 + n)
        contact, _ = await storage.load_conversation(Address(channel, number), TODAY)
        contact.locale = locale
        contact.subscribed = subscribed
        contact.consent_at = NOW if subscribed else None
        await storage.update_contact(contact)
        made.append(contact)
    return made


async def started_broadcast(
    storage: Storage,
    *,
    texts: dict[str, str] | None = None,
    locales: dict[str, str] | None = None,
    batch_size: int = 1000,
    now: datetime = NOW,
) -> int:
    """A broadcast being sent, with every delivery row written (at ``now``)."""
    broadcast = await storage.create_broadcast(
        author="cli:ana",
        texts=texts or {"en": "Update", "es": "Actualización"},
        allow_fallback=False,
        now=now,
    )
    assert await storage.start_broadcast(broadcast.id, now)
    while await storage.materialize_deliveries(
        broadcast.id,
        locales=locales or {"en": "en", "es": "es"},
        default_locale="en",
        batch_size=batch_size,
        now=now,
    ):
        pass
    return broadcast.id


async def tally(storage: Storage, broadcast_id: int) -> dict[tuple[str, str], int]:
    """The broadcast's deliveries counted per (channel, status)."""
    return {(t.channel, t.status): t.count for t in await storage.delivery_tally(broadcast_id)}
