"""open_storage: which store a ``database.url`` gives, and the URLs it refuses."""

from __future__ import annotations

import pytest

from bot.errors import StorageError
from bot.storage import SqlStorage, open_storage


def test_sql_urls_give_a_sql_storage_and_other_urls_are_refused() -> None:
    assert isinstance(open_storage("sqlite+aiosqlite:///x.sqlite3"), SqlStorage)
    assert isinstance(open_storage("postgresql+asyncpg://u@h/db"), SqlStorage)
    with pytest.raises(StorageError, match="unsupported database 'mysql"):
        open_storage("mysql+aiomysql://u:secret@h/db")
    with pytest.raises(StorageError, match="not a database URL"):
        open_storage("data/kyrbot.sqlite3")
