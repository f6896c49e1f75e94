"""Backends for the storage contract suite: a SQLite file, and PostgreSQL when configured.

PostgreSQL runs when ``KYRBOT_TEST_POSTGRES_URL`` is set (for example
``postgresql+asyncpg://postgres@127.0.0.1:5432/test``); each test gets its own schema, dropped
afterwards, so tests never see each other's rows.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from bot.storage.sql import SqlStorage

POSTGRES_URL = os.environ.get("KYRBOT_TEST_POSTGRES_URL")


@dataclass
class Backend:
    """One database for one test: makes storages on it and reads its tables directly."""

    name: str
    url: str
    engine_kwargs: dict[str, Any] = field(default_factory=dict)
    _inspector: AsyncEngine | None = None

    def storage(self) -> SqlStorage:
        """A new, unopened storage on this database (a second one acts like another process)."""
        return SqlStorage(self.url, engine_kwargs=self.engine_kwargs)

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


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    """Each backend in turn; PostgreSQL is skipped unless KYRBOT_TEST_POSTGRES_URL is set."""
    if request.param == "sqlite":
        # A nested path also checks that the storage creates the parent directory.
        db = Backend("sqlite", f"sqlite+aiosqlite:///{tmp_path / 'data' / 'kyrbot.sqlite3'}")
        yield db
        await db.dispose()
        return
    if not POSTGRES_URL:
        pytest.skip("KYRBOT_TEST_POSTGRES_URL is not set")
    schema = f"kyrbot_test_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(POSTGRES_URL, poolclass=NullPool)
    async with admin.begin() as conn:
        await conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    db = Backend(
        "postgresql",
        POSTGRES_URL,
        {"connect_args": {"server_settings": {"search_path": schema}}},
    )
    try:
        yield db
    finally:
        await db.dispose()
        async with admin.begin() as conn:
            await conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        await admin.dispose()


@pytest.fixture
async def storage(backend: Backend) -> AsyncIterator[SqlStorage]:
    """An open storage on the test's database, closed afterwards."""
    store = backend.storage()
    await store.open()
    try:
        yield store
    finally:
        await store.close()
