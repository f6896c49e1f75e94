"""The SQL databases under test: SQLite, and PostgreSQL when configured.

Tests here are about what only the SQL store has (schema, migrations, the rows it writes,
the SQLite driver, locking), so ``backend`` leaves the in-memory store out.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from bot.storage import SqlStorage
from tests.support.storage import SqlBackend, sql_database


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SqlBackend]:
    """Each SQL database in turn; PostgreSQL is skipped unless KYRBOT_TEST_POSTGRES_URL is set."""
    async for db in sql_database(request.param, tmp_path):
        yield db


@pytest.fixture
def statements(storage: SqlStorage) -> Iterator[list[str]]:
    """SQL statements the storage sends while the test runs.

    SQLite: every statement the driver runs (the per-message ones bypass SQLAlchemy);
    PostgreSQL: every statement SQLAlchemy sends.
    """
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(" ".join(statement.split()))

    def trace(driver: Any, callback: Any) -> None:
        driver.set_trace_callback(callback)

    database = storage.database
    if database.sqlite:
        database.on_driver("trace", trace, lambda s: seen.append(" ".join(s.split())))
    else:
        sa.event.listen(sa.Engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        if database.sqlite:
            database.on_driver("trace", trace, None)
        else:
            sa.event.remove(sa.Engine, "before_cursor_execute", record)
