"""Schema migrations of the SQL store, on SQLite and PostgreSQL.

SQL only: the in-memory store has no schema to version or upgrade.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
import sqlalchemy as sa

from bot.errors import StorageError
from bot.storage.sql import migrations, tables
from tests.support.storage import (
    ALICE,
    EXPECTED_COLUMNS,
    NOW,
    TODAY,
    SqlBackend,
    started_broadcast,
)


async def test_schema_version_is_recorded_and_reopening_changes_nothing(
    backend: SqlBackend,
) -> None:
    async with backend.storage():
        pass
    async with backend.storage():
        pass

    versions = await backend.rows("SELECT version FROM schema_version ORDER BY version")
    assert [v for (v,) in versions] == list(range(1, migrations.LATEST + 1))


async def test_a_newer_schema_is_refused(backend: SqlBackend) -> None:
    async with backend.storage():
        pass
    async with backend.engine.begin() as conn:
        await conn.execute(
            tables.schema_version.insert(), {"version": migrations.LATEST + 1, "applied_at": NOW}
        )

    with pytest.raises(StorageError, match="newer than this kyrbot knows"):
        await backend.storage().open()


async def test_tables_without_a_schema_version_are_refused(backend: SqlBackend) -> None:
    async with backend.storage():
        pass
    await backend.execute("DROP TABLE schema_version")

    with pytest.raises(StorageError, match="no schema_version"):
        await backend.storage().open()


async def test_an_older_schema_gets_the_missing_steps_in_order(
    backend: SqlBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with backend.storage() as store:
        await store.load_conversation(ALICE, TODAY)

    def add_notes(conn: sa.Connection) -> None:
        conn.execute(sa.text("CREATE TABLE notes (id INTEGER PRIMARY KEY)"))

    def add_tags(conn: sa.Connection) -> None:
        conn.execute(sa.text("CREATE TABLE tags (id INTEGER PRIMARY KEY)"))

    steps = (
        *migrations.MIGRATIONS,
        migrations.Migration(migrations.LATEST + 1, "notes", add_notes),
        migrations.Migration(migrations.LATEST + 2, "tags", add_tags),
    )
    monkeypatch.setattr(migrations, "MIGRATIONS", steps)
    async with backend.storage() as store:
        assert await store.get_contact(ALICE) is not None  # data kept

    columns = await backend.columns()
    assert {"notes", "tags"} <= set(columns)
    versions = await backend.rows("SELECT version FROM schema_version ORDER BY version")
    assert [v for (v,) in versions] == list(range(1, migrations.LATEST + 3))


async def test_dedup_ids_recorded_before_version_3_still_count_after_it(
    backend: SqlBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[:3])  # up to step 3
    async with backend.storage() as store:
        assert await store.claim_inbound("sms", "SM-before", NOW)
    fresh_sql = (
        await backend.rows("SELECT sql FROM sqlite_master WHERE name = 'inbound_ids'")
        if backend.name == "sqlite"
        else None
    )
    # Put the database back the way version 2 left it.
    await backend.execute("DELETE FROM schema_version WHERE version >= 3")
    if backend.name == "sqlite":
        await backend.execute("ALTER TABLE inbound_ids RENAME TO old_ids")
        await backend.execute(
            "CREATE TABLE inbound_ids (channel VARCHAR NOT NULL, message_id VARCHAR NOT NULL, "
            "seen_at DATETIME NOT NULL, PRIMARY KEY (channel, message_id))"
        )
        await backend.execute("INSERT INTO inbound_ids SELECT * FROM old_ids")
        await backend.execute("DROP TABLE old_ids")

    async with backend.storage() as store:
        assert not await store.claim_inbound("sms", "SM-before", NOW)
        assert await store.claim_inbound("sms", "SM-after", NOW)

    versions = await backend.rows("SELECT max(version) FROM schema_version")
    assert versions == [(3,)]
    assert set(await backend.columns()) == set(EXPECTED_COLUMNS)
    if backend.name == "sqlite":
        upgraded_sql = await backend.rows(
            "SELECT sql FROM sqlite_master WHERE name = 'inbound_ids'"
        )
        assert upgraded_sql == fresh_sql  # the same table as a fresh database gets
        assert "WITHOUT ROWID" in upgraded_sql[0][0]


async def test_a_failed_step_leaves_the_database_unchanged(
    backend: SqlBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with backend.storage():
        pass

    def half_done(conn: sa.Connection) -> None:
        conn.execute(sa.text("CREATE TABLE notes (id INTEGER PRIMARY KEY)"))
        conn.execute(sa.text("SELECT * FROM no_such_table"))

    steps = (*migrations.MIGRATIONS, migrations.Migration(migrations.LATEST + 1, "bad", half_done))
    monkeypatch.setattr(migrations, "MIGRATIONS", steps)
    with pytest.raises(StorageError, match="cannot open the database"):
        await backend.storage().open()

    assert "notes" not in await backend.columns()
    versions = await backend.rows("SELECT max(version) FROM schema_version")
    assert versions == [(migrations.LATEST,)]


async def test_two_processes_opening_a_fresh_database_at_once(backend: SqlBackend) -> None:
    stores = [backend.storage() for _ in range(4)]
    await asyncio.gather(*(store.open() for store in stores))
    try:
        assert await backend.count("schema_version") == migrations.LATEST
        assert set(await backend.columns()) == set(EXPECTED_COLUMNS)
    finally:
        await asyncio.gather(*(store.close() for store in stores))


def test_migration_steps_are_numbered_in_order() -> None:
    migrations.check_steps(migrations.MIGRATIONS)
    with pytest.raises(ValueError, match=r"1\.\.n"):
        migrations.check_steps((migrations.MIGRATIONS[0], migrations.MIGRATIONS[0]))


async def test_a_version_1_database_is_brought_to_the_same_schema_as_a_fresh_one(
    backend: SqlBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Steps 1 to 3 only: step 4 is tested on a database the release before it made
    # (tests/privacy/test_migrate.py).
    monkeypatch.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[:3])
    async with backend.storage():
        pass
    fresh = await backend.columns()
    # Undo step 2 by hand: what a database made by the first release looks like.
    await backend.execute("DROP TABLE broadcast_workers")
    await backend.execute("DROP TABLE send_rate")
    await backend.execute("DROP INDEX ix_deliveries_broadcast_id_channel_status")
    await backend.execute("DROP INDEX ix_deliveries_claimed_by_sending")
    for table, column in (
        ("broadcasts", "audience_upto"),
        ("broadcasts", "materialized_upto"),
        ("broadcasts", "materialized"),
        ("deliveries", "claimed_by"),
        ("deliveries", "claimed_at"),
        ("deliveries", "not_before"),
    ):
        await backend.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
    await backend.execute("DELETE FROM schema_version WHERE version > 1")

    async with backend.storage() as store:
        contact, _ = await store.load_conversation(ALICE, TODAY)
        contact.subscribed = True
        await store.update_contact(contact)
        broadcast_id = await started_broadcast(store)
        assert (
            len(
                await store.claim_deliveries(
                    broadcast_id, channel="sms", worker="w", limit=5, now=NOW
                )
            )
            == 1
        )

    assert await backend.columns() == fresh
    versions = await backend.rows("SELECT version FROM schema_version ORDER BY version")
    assert [v for (v,) in versions] == [1, 2, 3]


async def test_a_database_before_handoff_tickets_gets_the_tickets_table_of_a_fresh_one(
    backend: SqlBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    step = next(m.version for m in migrations.MIGRATIONS if m.apply.__name__ == "_handoff_tickets")
    # Later steps are tested on databases of their own releases (tests/privacy/test_migrate.py).
    monkeypatch.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[:step])
    async with backend.storage():
        pass
    fresh = await backend.columns()
    await backend.execute("DROP TABLE tickets")
    await backend.execute(f"DELETE FROM schema_version WHERE version >= {step}")

    async with backend.storage() as store:
        contact, _ = await store.load_conversation(ALICE, TODAY)
        opened = await store.open_ticket(
            ticket_id="K7P", contact_id=contact.id, channel="sms", locale="es", page=None, now=NOW
        )
        assert opened is not None and opened.id == "K7P"

    assert await backend.columns() == fresh


async def test_a_database_before_the_outbox_gets_the_outbox_and_turns_of_a_fresh_one(
    backend: SqlBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    step = next(m.version for m in migrations.MIGRATIONS if m.apply.__name__ == "_outbox")
    monkeypatch.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[:step])
    async with backend.storage():
        pass
    fresh = await backend.columns()
    # What the release before the outbox step left.
    await backend.execute("DROP TABLE outbox")
    for table, column in (
        ("deliveries", "first_attempt_at"),
        ("contacts", "inbound_seq"),
        ("contacts", "handled_seq"),
    ):
        await backend.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
    await backend.execute(f"DELETE FROM schema_version WHERE version >= {step}")

    async with backend.storage() as store:
        contact, _ = await store.load_conversation(ALICE, TODAY)
        turn = await store.turns.take_turn(ALICE, TODAY)
        assert (turn.contact_id, turn.number) == (contact.id, 1)
        enqueued = await store.outbox.enqueue(
            ALICE, ["reply"], worker="w", now=NOW, expires_at=NOW + timedelta(hours=1)
        )
        assert enqueued is not None and enqueued.items[0].address == ALICE

    assert await backend.columns() == fresh
    versions = await backend.rows("SELECT max(version) FROM schema_version")
    assert versions == [(step,)]
