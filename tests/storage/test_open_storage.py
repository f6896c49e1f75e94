"""open_storage: which store a ``database.url`` gives, and the URLs it refuses."""

from __future__ import annotations

import pytest

from bot.errors import ConfigError, StorageError
from bot.storage import MemoryStorage, SqlStorage, open_storage
from tests.support.keys import TEST_VAULT
from tests.support.storage import ALICE, TODAY


def test_sql_urls_give_a_sql_storage_and_other_urls_are_refused() -> None:
    sqlite = open_storage("sqlite+aiosqlite:///x.sqlite3", vault=TEST_VAULT)
    assert isinstance(sqlite, SqlStorage)
    assert isinstance(open_storage("postgresql+asyncpg://u@h/db", vault=TEST_VAULT), SqlStorage)
    with pytest.raises(StorageError, match="unsupported database 'mysql"):
        open_storage("mysql+aiomysql://u:secret@h/db", vault=TEST_VAULT)
    with pytest.raises(StorageError, match="not a database URL"):
        open_storage("data/kyrbot.sqlite3", vault=TEST_VAULT)


def test_a_database_without_keys_is_refused() -> None:
    with pytest.raises(ConfigError, match="encryption_key"):
        open_storage("sqlite+aiosqlite:///x.sqlite3")


async def test_memory_url_gives_a_store_of_its_own() -> None:
    one, two = open_storage("memory://"), open_storage("memory://")
    assert isinstance(one, MemoryStorage)
    async with one, two:
        await one.load_conversation(ALICE, TODAY)

        assert await two.get_contact(ALICE) is None


def test_a_memory_url_with_a_name_is_refused() -> None:
    with pytest.raises(StorageError, match="unsupported database 'memory'"):
        open_storage("memory://shared", vault=TEST_VAULT)
