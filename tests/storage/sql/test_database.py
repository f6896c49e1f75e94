"""The SQL store's database handling: engines, SQLite's driver and files, unreachable servers.

SQL only: WAL mode, the raw SQLite driver, files and servers exist only for the SQL store.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from bot.errors import StorageError
from bot.storage import SqlStorage, open_storage
from bot.storage.sql import database as database_module
from tests.support.keys import TEST_VAULT
from tests.support.storage import ALICE, NOW, TODAY, SqlBackend


def sqlite_only(backend: SqlBackend) -> None:
    if backend.name != "sqlite":
        pytest.skip("SQLite only: PostgreSQL has no WAL file and no driver path")


async def test_the_engine_property_sees_what_the_storage_wrote(storage: SqlStorage) -> None:
    contact, _ = await storage.load_conversation(ALICE, TODAY)
    await storage.save_conversation(contact, {"node": "a"}, NOW)

    async with storage.engine.connect() as conn:
        result = await conn.execute(sa.text("SELECT count(*) FROM sessions"))
        assert result.scalar() == 1
    await storage.close()
    with pytest.raises(StorageError, match="not open"):
        _ = storage.engine


async def test_an_unusable_sqlite_path_is_a_storage_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")

    with pytest.raises(StorageError, match="cannot create the directory"):
        await open_storage(
            f"sqlite+aiosqlite:///{blocker / 'sub' / 'db.sqlite3'}", vault=TEST_VAULT
        ).open()

    garbage = tmp_path / "garbage.sqlite3"
    garbage.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StorageError, match="cannot open the database"):
        await open_storage(f"sqlite+aiosqlite:///{garbage}", vault=TEST_VAULT).open()


async def test_an_unreachable_postgresql_is_a_storage_error() -> None:
    store = open_storage("postgresql+asyncpg://kyrbot:secret@127.0.0.1:1/none", vault=TEST_VAULT)
    with pytest.raises(StorageError, match="cannot open the database") as info:
        await store.open()
    assert "secret" not in str(info.value)


async def test_sqlite_runs_in_wal_mode(storage: SqlStorage, backend: SqlBackend) -> None:
    sqlite_only(backend)
    assert await backend.rows("PRAGMA journal_mode") == [("wal",)]


class _CommitFails:
    """The SQLite driver connection, except that COMMIT fails (as on a disk I/O error)."""

    def __init__(self, real: sqlite3.Connection) -> None:
        self.real = real

    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
        if sql == "COMMIT":
            raise sqlite3.OperationalError("disk I/O error")
        return self.real.execute(sql, *args)

    @property
    def in_transaction(self) -> bool:
        return self.real.in_transaction


async def test_a_failed_commit_on_sqlite_leaves_no_transaction_open(
    storage: SqlStorage, backend: SqlBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    sqlite_only(backend)
    contact, _ = await storage.load_conversation(ALICE, TODAY)
    real = storage.database.on_driver("test", lambda driver: driver)
    monkeypatch.setattr(database_module, "driver", lambda _conn: _CommitFails(real))
    contact.locale = "es"

    with pytest.raises(StorageError, match="save_conversation: database error"):
        await storage.save_conversation(contact, {"node": "sop130.menu"}, NOW)

    assert not real.in_transaction
    # Lone statements commit by themselves again: another connection sees this claim.
    assert await storage.claim_inbound("sms", "SM-after-failure", NOW)
    assert await backend.rows("SELECT message_id FROM inbound_ids") == [("SM-after-failure",)]
    assert await backend.rows("SELECT locale FROM contacts") == [(None,)]


async def test_an_in_memory_sqlite_database_works() -> None:
    async with open_storage("sqlite+aiosqlite://", vault=TEST_VAULT) as store:
        contact, _ = await store.load_conversation(ALICE, TODAY)
        await store.save_conversation(contact, {"node": "a"}, NOW)
        _, session = await store.load_conversation(ALICE, TODAY)
    assert session is not None
