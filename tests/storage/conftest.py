"""The stores under test: in memory, a SQLite file, and PostgreSQL when configured.

Tests here run against every store (the contract); ``tests/storage/sql`` narrows ``backend``
to the SQL ones for what only they have. PostgreSQL runs when ``KYRBOT_TEST_POSTGRES_URL`` is
set (for example ``postgresql+asyncpg://postgres@127.0.0.1:5432/test``); each test gets its
own schema, dropped afterwards, so tests never see each other's rows.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.storage import Storage
from tests.support.storage import Backend, MemoryBackend, sql_database


@pytest.fixture(
    params=["memory", "sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    """Each store in turn; PostgreSQL is skipped unless KYRBOT_TEST_POSTGRES_URL is set."""
    if request.param == "memory":
        yield MemoryBackend()
        return
    async for db in sql_database(request.param, tmp_path):
        yield db


@pytest.fixture
async def storage(backend: Backend) -> AsyncIterator[Storage]:
    """An open storage on the test's backend, closed afterwards."""
    store = backend.storage()
    await store.open()
    try:
        yield store
    finally:
        await store.close()
