"""The storage contract: one suite, run against SQLite and (when configured) PostgreSQL.

Every test checks real effects in the database, read through a connection of its own.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import sqlite3
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from bot.errors import StorageError
from bot.messages import Address
from bot.storage import (
    Contact,
    DeliveryOutcome,
    PruneResult,
    SessionRecord,
    Storage,
    migrations,
    open_storage,
    tables,
)
from bot.storage import sql as sql_module
from bot.storage.sql import SqlStorage

from .conftest import Backend

NOW = datetime(2026, 3, 5, 12, 30, 15, 123456, tzinfo=UTC)
TODAY = NOW.date()
ALICE = Address("sms", "+14145550101")
BOB = Address("telegram", "987654321")

EXPECTED_COLUMNS = {
    "schema_version": {"version", "applied_at"},
    "contacts": {
        "id",
        "channel",
        "address",
        "locale",
        "subscribed",
        "consent_at",
        "opted_out",
        "unreachable",
        "last_seen_day",
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
    },
    "audit_log": {"id", "at", "actor", "action", "detail"},
    "broadcast_workers": {"id", "host", "pid", "started_at", "heartbeat_at"},
    "send_rate": {"channel", "next_free_at"},
}


def as_utc(value: Any) -> datetime:
    """A datetime read directly from the database (SQLite gives text or naive), as aware UTC."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    assert isinstance(value, datetime)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def as_date(value: Any) -> date:
    return date.fromisoformat(value) if isinstance(value, str) else value


async def contact_row(backend: Backend, address: Address) -> dict[str, Any] | None:
    rows = await backend.rows(
        "SELECT id, locale, subscribed, consent_at, opted_out, unreachable, last_seen_day "
        "FROM contacts WHERE channel = :channel AND address = :address",
        channel=address.channel,
        address=address.id,
    )
    if not rows:
        return None
    (cid, locale, subscribed, consent_at, opted_out, unreachable, last_seen_day) = rows[0]
    return {
        "id": cid,
        "locale": locale,
        "subscribed": bool(subscribed),
        "consent_at": None if consent_at is None else as_utc(consent_at),
        "opted_out": bool(opted_out),
        "unreachable": bool(unreachable),
        "last_seen_day": None if last_seen_day is None else as_date(last_seen_day),
    }


async def count(backend: Backend, table: str) -> int:
    return int((await backend.rows(f"SELECT count(*) FROM {table}"))[0][0])


async def add_broadcast(backend: Backend, *, contact_ids: list[int], updated_at: datetime) -> int:
    """A broadcast with one delivery per contact, written directly (there is no API yet)."""
    async with backend.engine.begin() as conn:
        result = await conn.execute(
            tables.broadcasts.insert().returning(tables.broadcasts.c.id),
            {
                "created_at": updated_at,
                "author": "cli",
                "status": "sending",
                "texts": {"en": "Update", "es": "Actualización"},
            },
        )
        broadcast_id = int(result.scalar_one())
        for contact_id in contact_ids:
            await conn.execute(
                tables.deliveries.insert(),
                {
                    "broadcast_id": broadcast_id,
                    "contact_id": contact_id,
                    "locale": "en",
                    "channel": "sms",
                    "status": "sent",
                    "attempts": 1,
                    "provider_id": f"SM{contact_id:030d}",
                    "updated_at": updated_at,
                },
            )
    return broadcast_id


@pytest.fixture
def statements(storage: SqlStorage) -> Iterator[list[str]]:
    """SQL statements the storage sends while the test runs.

    SQLite: every statement the driver runs (the per-message ones bypass SQLAlchemy);
    PostgreSQL: every statement SQLAlchemy sends.
    """
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(" ".join(statement.split()))

    driver = storage._sqlite_conn.connection.driver_connection if storage._sqlite_conn else None
    if driver is not None:
        driver.set_trace_callback(lambda statement: seen.append(" ".join(statement.split())))
    else:
        sa.event.listen(sa.Engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        if driver is not None:
            driver.set_trace_callback(None)
        else:
            sa.event.remove(sa.Engine, "before_cursor_execute", record)


# -- schema and migrations ---------------------------------------------------------------------


async def test_open_creates_exactly_the_allowed_tables_and_columns(
    storage: SqlStorage, backend: Backend
) -> None:
    contact, _ = await storage.load_conversation(ALICE, TODAY)
    await storage.save_conversation(contact, {"node": "sop130.menu"}, NOW)

    assert await backend.columns() == EXPECTED_COLUMNS


async def test_schema_version_is_recorded_and_reopening_changes_nothing(
    backend: Backend,
) -> None:
    async with backend.storage():
        pass
    async with backend.storage():
        pass

    versions = await backend.rows("SELECT version FROM schema_version ORDER BY version")
    assert [v for (v,) in versions] == list(range(1, migrations.LATEST + 1))


async def test_open_and_close_are_idempotent(backend: Backend) -> None:
    store = backend.storage()
    await store.open()
    await store.open()
    assert await store.claim_inbound("sms", "m1", NOW)
    await store.close()
    await store.close()


async def test_a_newer_schema_is_refused(backend: Backend) -> None:
    async with backend.storage():
        pass
    async with backend.engine.begin() as conn:
        await conn.execute(
            tables.schema_version.insert(), {"version": migrations.LATEST + 1, "applied_at": NOW}
        )

    with pytest.raises(StorageError, match="newer than this kyrbot knows"):
        await backend.storage().open()


async def test_tables_without_a_schema_version_are_refused(backend: Backend) -> None:
    async with backend.storage():
        pass
    await backend.execute("DROP TABLE schema_version")

    with pytest.raises(StorageError, match="no schema_version"):
        await backend.storage().open()


async def test_an_older_schema_gets_the_missing_steps_in_order(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
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
    backend: Backend,
) -> None:
    async with backend.storage() as store:
        assert await store.claim_inbound("sms", "SM-before", NOW)
    fresh_sql = (
        await backend.rows("SELECT sql FROM sqlite_master WHERE name = 'inbound_ids'")
        if backend.name == "sqlite"
        else None
    )
    # Put the database back the way version 2 left it.
    await backend.execute("DELETE FROM schema_version WHERE version = 3")
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
    assert versions == [(migrations.LATEST,)]
    assert set(await backend.columns()) == set(EXPECTED_COLUMNS)
    if backend.name == "sqlite":
        upgraded_sql = await backend.rows(
            "SELECT sql FROM sqlite_master WHERE name = 'inbound_ids'"
        )
        assert upgraded_sql == fresh_sql  # the same table as a fresh database gets
        assert "WITHOUT ROWID" in upgraded_sql[0][0]


async def test_a_failed_step_leaves_the_database_unchanged(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
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


async def test_two_processes_opening_a_fresh_database_at_once(backend: Backend) -> None:
    stores = [backend.storage() for _ in range(4)]
    await asyncio.gather(*(store.open() for store in stores))
    try:
        assert await count(backend, "schema_version") == migrations.LATEST
        assert set(await backend.columns()) == set(EXPECTED_COLUMNS)
    finally:
        await asyncio.gather(*(store.close() for store in stores))


def test_migration_steps_are_numbered_in_order() -> None:
    migrations.check_steps(migrations.MIGRATIONS)
    with pytest.raises(ValueError, match=r"1\.\.n"):
        migrations.check_steps((migrations.MIGRATIONS[0], migrations.MIGRATIONS[0]))


# -- dedup ------------------------------------------------------------------------------------


async def test_claim_inbound_is_true_once_per_channel_and_id(
    storage: SqlStorage, backend: Backend
) -> None:
    assert await storage.claim_inbound("sms", "SM1", NOW) is True
    assert await storage.claim_inbound("sms", "SM1", NOW) is False
    assert await storage.claim_inbound("telegram", "SM1", NOW) is True

    rows = await backend.rows("SELECT channel, message_id, seen_at FROM inbound_ids ORDER BY 1")
    assert [(c, m, as_utc(t)) for c, m, t in rows] == [
        ("sms", "SM1", NOW),
        ("telegram", "SM1", NOW),
    ]


async def test_twenty_concurrent_claims_of_one_id_give_exactly_one_true(
    storage: SqlStorage, backend: Backend
) -> None:
    async with backend.storage() as other:  # a second process on the same database
        results = await asyncio.gather(
            *((storage if i % 2 else other).claim_inbound("sms", "SMrace", NOW) for i in range(20))
        )

    assert sorted(results) == [False] * 19 + [True]
    assert await count(backend, "inbound_ids") == 1


# -- conversations ----------------------------------------------------------------------------


async def test_load_conversation_creates_the_contact_once(
    storage: SqlStorage, backend: Backend
) -> None:
    contact, session = await storage.load_conversation(ALICE, TODAY)

    assert session is None
    assert contact == Contact(id=contact.id, address=ALICE, last_seen_day=TODAY)
    assert await contact_row(backend, ALICE) == {
        "id": contact.id,
        "locale": None,
        "subscribed": False,
        "consent_at": None,
        "opted_out": False,
        "unreachable": False,
        "last_seen_day": TODAY,
    }
    again, session = await storage.load_conversation(ALICE, TODAY)
    assert (again, session) == (contact, None)
    assert await count(backend, "contacts") == 1


async def test_concurrent_first_loads_of_one_address_make_one_contact(
    storage: SqlStorage, backend: Backend
) -> None:
    async with backend.storage() as other:
        results = await asyncio.gather(
            *((storage if i % 2 else other).load_conversation(BOB, TODAY) for i in range(20))
        )

    assert {contact.id for contact, _ in results} == {results[0][0].id}
    assert await count(backend, "contacts") == 1


async def test_last_seen_day_is_written_only_when_the_day_changes(
    storage: SqlStorage, backend: Backend, statements: list[str]
) -> None:
    await storage.load_conversation(ALICE, TODAY)
    statements.clear()

    await storage.load_conversation(ALICE, TODAY)
    assert not [s for s in statements if s.startswith("UPDATE")]

    tomorrow = TODAY + timedelta(days=1)
    contact, _ = await storage.load_conversation(ALICE, tomorrow)
    assert len([s for s in statements if s.startswith("UPDATE contacts")]) == 1
    assert contact.last_seen_day == tomorrow
    row = await contact_row(backend, ALICE)
    assert row is not None
    assert row["last_seen_day"] == tomorrow


async def test_save_conversation_stores_the_contact_and_the_session(
    storage: SqlStorage, backend: Backend
) -> None:
    contact, _ = await storage.load_conversation(ALICE, TODAY)
    contact.locale = "es"
    contact.subscribed = True
    contact.consent_at = NOW
    state = {"node": "sop130.warrants", "back": ["sop130.menu"], "misses": 0, "text": "¿Qué?"}

    await storage.save_conversation(contact, state, NOW)

    row = await contact_row(backend, ALICE)
    assert row is not None
    assert row["locale"] == "es"
    assert row["subscribed"] is True
    assert row["consent_at"] == NOW
    (stored_state, updated_at), *_ = await backend.rows(
        "SELECT state, updated_at FROM sessions WHERE contact_id = :id", id=contact.id
    )
    assert json.loads(stored_state) == state
    assert as_utc(updated_at) == NOW

    async with backend.storage() as fresh:  # nothing cached: read back from the database
        loaded, session = await fresh.load_conversation(ALICE, TODAY)
    assert loaded == contact
    assert session == SessionRecord(state=state, updated_at=NOW)


async def test_saving_again_replaces_the_session_and_none_deletes_it(
    storage: SqlStorage, backend: Backend
) -> None:
    contact, _ = await storage.load_conversation(ALICE, TODAY)
    later = NOW + timedelta(minutes=5)
    await storage.save_conversation(contact, {"node": "a"}, NOW)
    await storage.save_conversation(contact, {"node": "b"}, later)

    _, session = await storage.load_conversation(ALICE, TODAY)
    assert session == SessionRecord(state={"node": "b"}, updated_at=later)
    assert await count(backend, "sessions") == 1

    await storage.save_conversation(contact, None, later)
    _, session = await storage.load_conversation(ALICE, TODAY)
    assert session is None
    assert await count(backend, "sessions") == 0
    assert await count(backend, "contacts") == 1


@pytest.mark.parametrize("garbage", ["{not json", "[1, 2]", "null"])
async def test_an_unreadable_session_starts_the_conversation_over(
    storage: SqlStorage, backend: Backend, garbage: str
) -> None:
    contact, _ = await storage.load_conversation(ALICE, TODAY)
    await storage.save_conversation(contact, {"node": "a"}, NOW)
    await backend.execute("UPDATE sessions SET state = :s", s=garbage)

    again, session = await storage.load_conversation(ALICE, TODAY)

    assert (again.id, session) == (contact.id, None)
    await storage.save_conversation(again, {"node": "b"}, NOW)
    assert (await storage.load_conversation(ALICE, TODAY))[1] is not None


async def test_saving_an_unchanged_contact_does_not_rewrite_its_row(
    storage: SqlStorage, statements: list[str]
) -> None:
    contact, _ = await storage.load_conversation(ALICE, TODAY)
    statements.clear()

    await storage.save_conversation(contact, {"node": "a"}, NOW)

    assert not [s for s in statements if s.startswith("UPDATE contacts")]


async def test_save_keeps_a_field_another_process_changed_meanwhile(
    storage: SqlStorage, backend: Backend
) -> None:
    contact, _ = await storage.load_conversation(ALICE, TODAY)
    async with backend.storage() as broadcaster:
        reported = await broadcaster.get_contact(ALICE)
        assert reported is not None
        reported.unreachable = True
        await broadcaster.update_contact(reported)

    contact.locale = "es"  # this conversation changed only the language
    await storage.save_conversation(contact, {"node": "a"}, NOW)

    row = await contact_row(backend, ALICE)
    assert row is not None
    assert (row["locale"], row["unreachable"]) == ("es", True)


async def test_save_after_forget_does_not_bring_the_contact_back(
    storage: SqlStorage, backend: Backend
) -> None:
    contact, _ = await storage.load_conversation(ALICE, TODAY)
    assert await storage.forget(ALICE)

    await storage.save_conversation(contact, {"node": "a"}, NOW)
    contact.locale = "es"
    await storage.save_conversation(contact, {"node": "b"}, NOW)
    await storage.update_contact(contact)

    assert await count(backend, "contacts") == 0
    assert await count(backend, "sessions") == 0


async def test_update_contact_writes_the_fields_and_no_session(
    storage: SqlStorage, backend: Backend
) -> None:
    contact, _ = await storage.load_conversation(ALICE, TODAY)
    contact.opted_out = True
    contact.subscribed = False
    contact.unreachable = True

    await storage.update_contact(contact)

    row = await contact_row(backend, ALICE)
    assert row is not None
    assert (row["opted_out"], row["subscribed"], row["unreachable"]) == (True, False, True)
    assert await count(backend, "sessions") == 0


async def test_datetimes_come_back_aware_utc_whatever_zone_went_in(
    storage: SqlStorage, backend: Backend
) -> None:
    chicago = timezone(timedelta(hours=-6))
    local = datetime(2026, 3, 5, 6, 0, tzinfo=chicago)
    contact, _ = await storage.load_conversation(ALICE, TODAY)
    contact.consent_at = local
    await storage.save_conversation(contact, {"node": "a"}, local)

    async with backend.storage() as fresh:
        loaded, session = await fresh.load_conversation(ALICE, TODAY)
    assert session is not None
    for value in (session.updated_at, loaded.consent_at):
        assert value == local
        assert value is not None
        assert value.tzinfo is not None
        assert value.utcoffset() == timedelta(0)


async def test_naive_datetimes_are_refused(storage: SqlStorage) -> None:
    naive = NOW.replace(tzinfo=None)
    contact, _ = await storage.load_conversation(ALICE, TODAY)
    with pytest.raises(ValueError, match="timezone-aware"):
        await storage.claim_inbound("sms", "x", naive)
    with pytest.raises(ValueError, match="timezone-aware"):
        await storage.save_conversation(contact, {}, naive)
    contact.consent_at = naive
    with pytest.raises(ValueError, match="timezone-aware"):
        await storage.save_conversation(contact, {}, NOW)


async def test_a_state_that_is_not_json_is_refused_before_writing(
    storage: SqlStorage, backend: Backend
) -> None:
    contact, _ = await storage.load_conversation(ALICE, TODAY)
    with pytest.raises(TypeError):
        await storage.save_conversation(contact, {"when": NOW}, NOW)
    assert await count(backend, "sessions") == 0


# -- contacts ---------------------------------------------------------------------------------


async def test_get_contact_never_creates_one(storage: SqlStorage, backend: Backend) -> None:
    assert await storage.get_contact(ALICE) is None
    assert await count(backend, "contacts") == 0

    created, _ = await storage.load_conversation(ALICE, TODAY)
    assert await storage.get_contact(ALICE) == created
    assert await storage.get_contact(Address("telegram", ALICE.id)) is None


async def test_forget_erases_the_contact_and_everything_tied_to_it(
    storage: SqlStorage, backend: Backend
) -> None:
    alice, _ = await storage.load_conversation(ALICE, TODAY)
    await storage.save_conversation(alice, {"node": "a"}, NOW)
    bob, _ = await storage.load_conversation(BOB, TODAY)
    await storage.save_conversation(bob, {"node": "b"}, NOW)
    await add_broadcast(backend, contact_ids=[alice.id, bob.id], updated_at=NOW)
    await storage.claim_inbound("sms", "SM1", NOW)
    await storage.add_topic_counts({(TODAY, "sop130.menu", "en", "sms"): 1})

    assert await storage.forget(ALICE) is True

    assert await backend.rows("SELECT id FROM contacts WHERE id = :id", id=alice.id) == []
    assert (
        await backend.rows("SELECT contact_id FROM sessions WHERE contact_id = :id", id=alice.id)
        == []
    )
    assert (
        await backend.rows("SELECT id FROM deliveries WHERE contact_id = :id", id=alice.id) == []
    )
    assert await storage.get_contact(ALICE) is None
    # Bob and the unlinked rows are untouched.
    assert await backend.rows("SELECT id FROM contacts") == [(bob.id,)]
    assert await count(backend, "sessions") == 1
    assert await backend.rows("SELECT contact_id FROM deliveries") == [(bob.id,)]
    assert await count(backend, "broadcasts") == 1
    assert await count(backend, "inbound_ids") == 1
    assert await count(backend, "topic_counters") == 1

    assert await storage.forget(ALICE) is False


async def test_a_forgotten_address_starts_over_as_a_new_contact(storage: SqlStorage) -> None:
    contact, _ = await storage.load_conversation(ALICE, TODAY)
    contact.locale = "es"
    contact.subscribed = True
    contact.consent_at = NOW
    await storage.save_conversation(contact, {"node": "a"}, NOW)
    await storage.forget(ALICE)

    again, session = await storage.load_conversation(ALICE, TODAY)

    assert session is None
    assert (again.locale, again.subscribed, again.consent_at) == (None, False, None)


async def test_iter_subscribers_yields_reachable_subscribers_in_id_order(
    storage: SqlStorage,
) -> None:
    wanted: list[int] = []
    for n in range(9):
        contact, _ = await storage.load_conversation(Address("sms", f"+1414555{n:04d}"), TODAY)
        contact.subscribed = n != 0
        contact.consent_at = NOW if contact.subscribed else None
        contact.opted_out = n == 1
        contact.unreachable = n == 2
        contact.locale = "es" if n % 2 else "en"
        await storage.save_conversation(contact, None, NOW)
        if n > 2:
            wanted.append(contact.id)

    batches = [batch async for batch in storage.iter_subscribers(batch_size=4)]

    assert [len(batch) for batch in batches] == [4, 2]
    got = [contact for batch in batches for contact in batch]
    assert [contact.id for contact in got] == sorted(wanted)
    assert all(c.subscribed and not c.opted_out and not c.unreachable for c in got)
    assert got[0].address == Address("sms", "+14145550003")
    assert got[0].consent_at == NOW
    assert [b async for b in storage.iter_subscribers()] == [got]


async def test_iter_subscribers_with_none_and_with_a_full_last_batch(
    storage: SqlStorage,
) -> None:
    assert [batch async for batch in storage.iter_subscribers()] == []
    for n in range(4):
        contact, _ = await storage.load_conversation(Address("sms", f"+1{n}"), TODAY)
        contact.subscribed = True
        await storage.save_conversation(contact, None, NOW)

    assert [len(b) async for b in storage.iter_subscribers(batch_size=2)] == [2, 2]
    with pytest.raises(ValueError, match="batch_size"):
        await anext(aiter(storage.iter_subscribers(batch_size=0)))


async def test_iter_subscribers_holds_nothing_open_between_batches(
    storage: SqlStorage,
) -> None:
    for n in range(4):
        contact, _ = await storage.load_conversation(Address("sms", f"+1{n}"), TODAY)
        contact.subscribed = True
        await storage.save_conversation(contact, None, NOW)
    seen = []
    async for batch in storage.iter_subscribers(batch_size=1):
        seen.extend(batch)
        # Other work, including writes, goes on while a broadcast walks the list.
        await storage.forget(Address("sms", "+13"))
        await storage.claim_inbound("sms", f"m{len(seen)}", NOW)

    assert [c.address.id for c in seen] == ["+10", "+11", "+12"]


# -- counters ---------------------------------------------------------------------------------


async def test_topic_counts_add_up_and_read_back_in_order(
    storage: SqlStorage, backend: Backend
) -> None:
    d1, d2, d3 = date(2026, 3, 1), date(2026, 3, 2), date(2026, 3, 3)
    await storage.add_topic_counts(
        {(d2, "sop130.menu", "es", "sms"): 2, (d1, "sop130.warrants", "en", "telegram"): 1}
    )
    await storage.add_topic_counts({(d2, "sop130.menu", "es", "sms"): 3})
    await storage.add_topic_counts({(d3, "sop130.menu", "en", "sms"): 7})
    await storage.add_topic_counts({(d2, "sop130.about", "es", "sms"): 1})
    await storage.add_topic_counts({})

    rows = await storage.topic_counts(since=d1, until=d2)

    assert [(r.day, r.node, r.locale, r.channel, r.count) for r in rows] == [
        (d1, "sop130.warrants", "en", "telegram", 1),
        (d2, "sop130.about", "es", "sms", 1),
        (d2, "sop130.menu", "es", "sms", 5),
    ]
    assert [r.count for r in await storage.topic_counts(since=d3, until=d3)] == [7]
    assert await storage.topic_counts(since=d3, until=d1) == []
    assert await count(backend, "topic_counters") == 4


async def test_concurrent_counter_updates_lose_nothing(
    storage: SqlStorage, backend: Backend
) -> None:
    keys = [(TODAY, f"sop130.t{i}", "en", "sms") for i in range(5)]
    async with backend.storage() as other:
        await asyncio.gather(
            *(
                (storage if n % 2 else other).add_topic_counts(
                    dict.fromkeys(keys if n % 3 else reversed(keys), 1)
                )
                for n in range(20)
            )
        )

    rows = await storage.topic_counts(since=TODAY, until=TODAY)
    assert [(r.node, r.count) for r in rows] == [(k[1], 20) for k in keys]


# -- retention --------------------------------------------------------------------------------


async def test_prune_removes_only_rows_older_than_each_window(
    storage: SqlStorage, backend: Backend
) -> None:
    old, new = NOW - timedelta(days=30), NOW - timedelta(hours=1)
    cutoff = NOW - timedelta(days=1)
    stale, _ = await storage.load_conversation(ALICE, TODAY)
    await storage.save_conversation(stale, {"node": "a"}, old)
    fresh, _ = await storage.load_conversation(BOB, TODAY)
    await storage.save_conversation(fresh, {"node": "b"}, new)
    await storage.claim_inbound("sms", "old", old)
    await storage.claim_inbound("sms", "new", new)
    await add_broadcast(backend, contact_ids=[stale.id], updated_at=old)
    await add_broadcast(backend, contact_ids=[fresh.id], updated_at=new)

    result = await storage.prune(
        sessions_before=cutoff, inbound_before=cutoff, deliveries_before=cutoff
    )

    assert result == PruneResult(sessions=1, inbound_ids=1, deliveries=1)
    assert await backend.rows("SELECT contact_id FROM sessions") == [(fresh.id,)]
    assert await backend.rows("SELECT message_id FROM inbound_ids") == [("new",)]
    assert await backend.rows("SELECT contact_id FROM deliveries") == [(fresh.id,)]
    assert await count(backend, "contacts") == 2  # contacts are not pruned by age
    # The inbound id is forgotten, so the same id would now be answered again.
    assert await storage.claim_inbound("sms", "old", NOW)


async def test_prune_uses_each_window_separately(storage: SqlStorage) -> None:
    contact, _ = await storage.load_conversation(ALICE, TODAY)
    await storage.save_conversation(contact, {"node": "a"}, NOW - timedelta(days=2))
    await storage.claim_inbound("sms", "m", NOW - timedelta(days=2))

    result = await storage.prune(
        sessions_before=NOW - timedelta(days=3),
        inbound_before=NOW - timedelta(days=1),
        deliveries_before=NOW,
    )

    assert result == PruneResult(sessions=0, inbound_ids=1, deliveries=0)


# -- privacy ----------------------------------------------------------------------------------


async def test_the_address_is_stored_only_in_contacts_address(
    storage: SqlStorage, backend: Backend
) -> None:
    contact, _ = await storage.load_conversation(ALICE, TODAY)
    contact.subscribed = True
    contact.consent_at = NOW
    await storage.save_conversation(contact, {"node": "sop130.menu", "locale": "es"}, NOW)
    await storage.claim_inbound(ALICE.channel, "SM123", NOW)
    await storage.add_topic_counts({(TODAY, "sop130.menu", "es", ALICE.channel): 1})
    # A broadcast delivered to Alice, with a worker and a rate reservation on record.
    broadcast = await storage.create_broadcast(
        author="cli:ana", texts={"en": "Hi"}, allow_fallback=True, now=NOW
    )
    await storage.start_broadcast(broadcast.id, NOW)
    await storage.materialize_deliveries(
        broadcast.id, locales={"en": "en"}, default_locale="en", batch_size=10, now=NOW
    )
    await storage.register_worker("w1", host="h", pid=1, now=NOW)
    [claimed] = await storage.claim_deliveries(
        broadcast.id, channel="sms", worker="w1", limit=5, now=NOW
    )
    await storage.record_deliveries(
        "w1", [DeliveryOutcome(claimed.id, "sent", provider_id="SMx")], NOW
    )
    await storage.reserve_send_time("sms", 1.0, 1000.0)
    await storage.add_audit(actor="cli:ana", action="send", detail={"broadcast": 1}, now=NOW)

    found = []
    for table, columns in EXPECTED_COLUMNS.items():
        for column in sorted(columns):
            ((hits,),) = await backend.rows(
                f'SELECT count(*) FROM {table} WHERE CAST("{column}" AS TEXT) LIKE :needle',
                needle=f"%{ALICE.id}%",
            )
            if hits:
                found.append((table, column, hits))
    assert found == [("contacts", "address", 1)]


async def test_no_address_reaches_the_log(
    storage: SqlStorage, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    contact, _ = await storage.load_conversation(ALICE, TODAY)
    await storage.claim_inbound(ALICE.channel, "SM1", NOW)
    await storage.save_conversation(contact, {"node": "a"}, NOW)
    await storage.forget(ALICE)
    await storage.save_conversation(contact, {"node": "a"}, NOW)  # the "forgotten" path logs
    await storage.prune(sessions_before=NOW, inbound_before=NOW, deliveries_before=NOW)

    assert caplog.records
    for record in caplog.records:
        assert ALICE.id not in record.getMessage()


# -- errors -----------------------------------------------------------------------------------


async def test_driver_failures_become_storage_errors(
    storage: SqlStorage, backend: Backend
) -> None:
    await backend.execute("DROP TABLE inbound_ids")

    with pytest.raises(StorageError, match="claim_inbound: database error") as info:
        await storage.claim_inbound("sms", "SM-secret-id", NOW)
    assert "SM-secret-id" not in str(info.value)
    # The storage stays usable for everything else.
    assert (await storage.load_conversation(ALICE, TODAY))[0].address == ALICE


async def test_a_failed_save_leaves_the_contact_fields_as_they_were(
    storage: SqlStorage, backend: Backend
) -> None:
    contact, _ = await storage.load_conversation(ALICE, TODAY)
    await storage.save_conversation(contact, {"node": "sop130.menu"}, NOW)
    await backend.execute("DROP TABLE sessions")  # the session write will fail
    contact.locale = "es"
    contact.subscribed = True
    contact.consent_at = NOW

    with pytest.raises(StorageError, match="save_conversation: database error"):
        await storage.save_conversation(contact, {"node": "sop130.door"}, NOW)

    assert await backend.rows("SELECT locale, subscribed, consent_at FROM contacts") == [
        (None, False, None)
    ]
    # Nothing was left open: the next write is visible to another connection at once.
    assert await storage.claim_inbound("sms", "SM-after-failure", NOW)
    assert await backend.rows("SELECT message_id FROM inbound_ids") == [("SM-after-failure",)]


async def test_calls_on_a_closed_storage_raise_storage_error(backend: Backend) -> None:
    store = backend.storage()
    with pytest.raises(StorageError, match="not open"):
        await store.claim_inbound("sms", "m", NOW)
    async with store:
        pass
    with pytest.raises(StorageError, match="not open"):
        await store.get_contact(ALICE)


async def test_a_cancelled_call_leaves_the_storage_usable(storage: SqlStorage) -> None:
    contact, _ = await storage.load_conversation(ALICE, TODAY)
    tasks = [
        asyncio.create_task(storage.save_conversation(contact, {"node": str(n)}, NOW))
        for n in range(10)
    ]
    await asyncio.sleep(0)
    for task in tasks[::2]:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)

    assert await storage.claim_inbound("sms", "after", NOW)
    _, session = await storage.load_conversation(ALICE, TODAY)
    assert session is not None


async def test_the_engine_property_sees_what_the_storage_wrote(storage: SqlStorage) -> None:
    contact, _ = await storage.load_conversation(ALICE, TODAY)
    await storage.save_conversation(contact, {"node": "a"}, NOW)

    async with storage.engine.connect() as conn:
        result = await conn.execute(sa.text("SELECT count(*) FROM sessions"))
        assert result.scalar() == 1
    await storage.close()
    with pytest.raises(StorageError, match="not open"):
        _ = storage.engine


def test_open_storage_gives_a_sql_storage_and_rejects_other_urls() -> None:
    assert isinstance(open_storage("sqlite+aiosqlite:///x.sqlite3"), SqlStorage)
    assert isinstance(open_storage("postgresql+asyncpg://u@h/db"), Storage)
    with pytest.raises(StorageError, match="unsupported database 'mysql"):
        open_storage("mysql+aiomysql://u:secret@h/db")
    with pytest.raises(StorageError, match="not a database URL"):
        open_storage("data/kyrbot.sqlite3")


async def test_an_unusable_sqlite_path_is_a_storage_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")

    with pytest.raises(StorageError, match="cannot create the directory"):
        await open_storage(f"sqlite+aiosqlite:///{blocker / 'sub' / 'db.sqlite3'}").open()

    garbage = tmp_path / "garbage.sqlite3"
    garbage.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StorageError, match="cannot open the database"):
        await open_storage(f"sqlite+aiosqlite:///{garbage}").open()


async def test_an_unreachable_postgresql_is_a_storage_error() -> None:
    store = open_storage("postgresql+asyncpg://kyrbot:secret@127.0.0.1:1/none")
    with pytest.raises(StorageError, match="cannot open the database") as info:
        await store.open()
    assert "secret" not in str(info.value)


async def test_sqlite_runs_in_wal_mode(storage: SqlStorage, backend: Backend) -> None:
    if backend.name != "sqlite":
        pytest.skip("SQLite only")
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
    storage: SqlStorage, backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    if backend.name != "sqlite":
        pytest.skip("SQLite only")
    contact, _ = await storage.load_conversation(ALICE, TODAY)
    real = sql_module._driver(storage._sqlite_conn)
    monkeypatch.setattr(sql_module, "_driver", lambda _conn: _CommitFails(real))
    contact.locale = "es"

    with pytest.raises(StorageError, match="save_conversation: database error"):
        await storage.save_conversation(contact, {"node": "sop130.menu"}, NOW)

    assert not real.in_transaction
    # Lone statements commit by themselves again: another connection sees this claim.
    assert await storage.claim_inbound("sms", "SM-after-failure", NOW)
    assert await backend.rows("SELECT message_id FROM inbound_ids") == [("SM-after-failure",)]
    assert await backend.rows("SELECT locale FROM contacts") == [(None,)]


async def test_an_in_memory_sqlite_database_works() -> None:
    async with open_storage("sqlite+aiosqlite://") as store:
        contact, _ = await store.load_conversation(ALICE, TODAY)
        await store.save_conversation(contact, {"node": "a"}, NOW)
        _, session = await store.load_conversation(ALICE, TODAY)
    assert session is not None


# -- broadcasts ---------------------------------------------------------------------------------


_numbers = itertools.count(1)


async def subscribers(
    storage: SqlStorage, specs: list[tuple[str, str | None]], *, subscribed: bool = True
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
    storage: SqlStorage,
    *,
    texts: dict[str, str] | None = None,
    locales: dict[str, str] | None = None,
    batch_size: int = 1000,
) -> int:
    broadcast = await storage.create_broadcast(
        author="cli:ana",
        texts=texts or {"en": "Update", "es": "Actualización"},
        allow_fallback=False,
        now=NOW,
    )
    assert await storage.start_broadcast(broadcast.id, NOW)
    while await storage.materialize_deliveries(
        broadcast.id,
        locales=locales or {"en": "en", "es": "es"},
        default_locale="en",
        batch_size=batch_size,
        now=NOW,
    ):
        pass
    return broadcast.id


async def test_a_version_1_database_is_brought_to_the_same_schema_as_a_fresh_one(
    backend: Backend,
) -> None:
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
    assert [v for (v,) in versions] == list(range(1, migrations.LATEST + 1))


async def test_drafts_can_be_edited_until_they_are_sent(storage: SqlStorage) -> None:
    draft = await storage.create_broadcast(
        author="telegram:42", texts={"en": "Hi", "es": "Hola"}, allow_fallback=False, now=NOW
    )
    assert draft.status == "draft"
    assert draft.created_at == NOW

    edited = await storage.edit_broadcast(draft.id, texts={"en": "Hello"}, allow_fallback=True)
    assert edited is not None
    assert edited.texts == {"en": "Hello"}
    assert edited.allow_fallback
    assert await storage.get_broadcast(draft.id) == edited

    assert await storage.start_broadcast(draft.id, NOW)
    assert not await storage.start_broadcast(draft.id, NOW)  # only once
    assert await storage.edit_broadcast(draft.id, texts={"en": "x"}, allow_fallback=True) is None
    second = await storage.create_broadcast(
        author="cli:ana", texts={"en": "Two"}, allow_fallback=True, now=NOW
    )
    assert [b.id for b in await storage.list_broadcasts()] == [second.id, draft.id]
    assert [b.id for b in await storage.sent_broadcasts()] == [draft.id]
    assert await storage.unfinished_broadcasts() == [draft.id]
    assert await storage.get_broadcast(999) is None


async def test_audience_is_counted_per_channel_and_locale(storage: SqlStorage) -> None:
    await subscribers(storage, [("sms", "es"), ("sms", "es"), ("sms", None), ("telegram", "en")])
    await subscribers(storage, [("telegram", "es")], subscribed=False)
    [gone] = await subscribers(storage, [("sms", "en")])
    gone.opted_out = True
    await storage.update_contact(gone)

    rows = {(r.channel, r.locale): r.count for r in await storage.count_audience()}

    assert rows == {("sms", None): 1, ("sms", "es"): 2, ("telegram", "en"): 1}


async def test_delivery_rows_are_written_once_per_subscriber_in_their_language(
    storage: SqlStorage, backend: Backend
) -> None:
    made = await subscribers(
        storage, [("sms", "es"), ("telegram", "en"), ("sms", None), ("telegram", "fr")] * 3
    )
    await subscribers(storage, [("sms", "es")], subscribed=False)
    broadcast_id = await started_broadcast(storage, batch_size=5)
    late, _ = await storage.load_conversation(Address("sms", "+14145559999"), TODAY)
    late.subscribed = True
    await storage.update_contact(late)  # joined after Send: not a recipient

    rows = await backend.rows(
        "SELECT contact_id, locale, channel, status FROM deliveries ORDER BY contact_id"
    )
    expected_locale = {"es": "es", "en": "en", None: "en", "fr": "en"}
    assert rows == [(c.id, expected_locale[c.locale], c.address.channel, "pending") for c in made]
    broadcast = await storage.get_broadcast(broadcast_id)
    assert broadcast is not None
    assert broadcast.materialized

    # Writing them again (a crash before the cursor moved, a second instance) adds nothing.
    await backend.execute(
        "UPDATE broadcasts SET materialized_upto = 0, materialized = :f", f=False
    )
    while await storage.materialize_deliveries(
        broadcast_id, locales={"en": "en", "es": "es"}, default_locale="en", batch_size=4, now=NOW
    ):
        pass
    assert await count(backend, "deliveries") == len(made)


async def test_claims_never_give_one_delivery_to_two_instances(backend: Backend) -> None:
    async with backend.storage() as setup:
        await subscribers(setup, [("telegram", "en")] * 60)
        broadcast_id = await started_broadcast(setup)
    one, two = backend.storage(), backend.storage()  # two processes
    await one.open()
    await two.open()
    try:

        async def drain(store: SqlStorage, worker: str) -> list[int]:
            got: list[int] = []
            while batch := await store.claim_deliveries(
                broadcast_id, channel="telegram", worker=worker, limit=7, now=NOW
            ):
                got.extend(item.id for item in batch)
                await asyncio.sleep(0)
            return got

        first, second = await asyncio.gather(drain(one, "w1"), drain(two, "w2"))
    finally:
        await one.close()
        await two.close()

    assert not set(first) & set(second)
    assert len(first) + len(second) == 60
    rows = await backend.rows("SELECT DISTINCT status, attempts FROM deliveries")
    assert rows == [("sending", 1)]


async def test_claims_close_deliveries_of_people_who_left_meanwhile(
    storage: SqlStorage, backend: Backend
) -> None:
    stays, stops, leaves = await subscribers(storage, [("sms", "en")] * 3)
    broadcast_id = await started_broadcast(storage)
    stops.opted_out = True
    leaves.subscribed = False
    await storage.update_contact(stops)
    await storage.update_contact(leaves)

    claimed = await storage.claim_deliveries(
        broadcast_id, channel="sms", worker="w", limit=10, now=NOW
    )

    assert [c.contact_id for c in claimed] == [stays.id]
    assert claimed[0].address == stays.address
    assert claimed[0].attempts == 1
    rows = dict(await backend.rows("SELECT contact_id, status FROM deliveries"))
    assert rows == {stays.id: "sending", stops.id: "opted_out", leaves.id: "skipped"}


async def test_outcomes_are_recorded_and_retries_wait_for_their_time(
    storage: SqlStorage, backend: Backend
) -> None:
    sent, retry, stopped, blocked = await subscribers(storage, [("sms", "en")] * 4)
    broadcast_id = await started_broadcast(storage)
    claimed = await storage.claim_deliveries(
        broadcast_id, channel="sms", worker="w", limit=10, now=NOW
    )
    ids = {c.contact_id: c.id for c in claimed}
    later = NOW + timedelta(minutes=1)

    await storage.record_deliveries(
        "w",
        [
            DeliveryOutcome(ids[sent.id], "sent", provider_id="SM1"),
            DeliveryOutcome(ids[retry.id], "pending", error="RateLimited", retry_at=later),
            DeliveryOutcome(
                ids[stopped.id], "opted_out", contact_id=stopped.id, mark_contact="opted_out"
            ),
            DeliveryOutcome(
                ids[blocked.id], "failed", contact_id=blocked.id, mark_contact="unreachable"
            ),
        ],
        NOW,
    )
    # Another worker cannot overwrite rows it does not hold.
    await storage.record_deliveries("intruder", [DeliveryOutcome(ids[sent.id], "failed")], NOW)

    tally = {(t.channel, t.status): t.count for t in await storage.delivery_tally(broadcast_id)}
    assert tally == {
        ("sms", "sent"): 1,
        ("sms", "pending"): 1,
        ("sms", "opted_out"): 1,
        ("sms", "failed"): 1,
    }
    assert (
        await storage.claim_deliveries(broadcast_id, channel="sms", worker="w", limit=10, now=NOW)
        == []
    )
    assert await storage.next_pending_at(broadcast_id, channel="sms") == later
    [again] = await storage.claim_deliveries(
        broadcast_id, channel="sms", worker="w", limit=10, now=later
    )
    assert again.attempts == 2
    await storage.release_deliveries("w", [again.id], later)  # never attempted: attempt undone
    assert await backend.rows(
        "SELECT status, attempts, claimed_by FROM deliveries WHERE id = :i", i=again.id
    ) == [("pending", 1, None)]
    assert (await contact_row(backend, stopped.address) or {})["opted_out"] is True
    assert (await contact_row(backend, stopped.address) or {})["subscribed"] is False
    assert (await contact_row(backend, blocked.address) or {})["unreachable"] is True
    assert await storage.next_pending_at(broadcast_id, channel="telegram") is None


async def test_a_dead_instances_in_flight_deliveries_become_unknown_for_good(
    storage: SqlStorage, backend: Backend
) -> None:
    await subscribers(storage, [("telegram", "en")] * 3)
    broadcast_id = await started_broadcast(storage)
    await storage.register_worker("dead", host="h", pid=1, now=NOW)
    await storage.register_worker("alive", host="h", pid=2, now=NOW)
    await storage.claim_deliveries(
        broadcast_id, channel="telegram", worker="dead", limit=2, now=NOW
    )
    [mine] = await storage.claim_deliveries(
        broadcast_id, channel="telegram", worker="alive", limit=2, now=NOW
    )
    assert await storage.heartbeat("alive", NOW + timedelta(seconds=5))

    lost = await storage.reap_workers(
        ["dead"], orphaned_before=NOW - timedelta(minutes=1), now=NOW
    )

    assert lost == 2
    assert [w.id for w in await storage.list_workers()] == ["alive"]
    assert not await storage.heartbeat("dead", NOW)
    rows = sorted(await backend.rows("SELECT status, claimed_by FROM deliveries"))
    assert rows == [("sending", "alive"), ("unknown", "dead"), ("unknown", "dead")]
    assert (
        await storage.claim_deliveries(
            broadcast_id, channel="telegram", worker="alive", limit=5, now=NOW
        )
        == []
    )
    # A claimer that is not registered at all is an orphan once its claim is old enough.
    await backend.execute("DELETE FROM broadcast_workers")
    assert await storage.reap_workers([], orphaned_before=NOW, now=NOW) == 0
    assert await storage.reap_workers([], orphaned_before=NOW + timedelta(seconds=1), now=NOW) == 1
    # The worker's own result still lands, over "unknown": it knows better.
    await storage.record_deliveries("alive", [DeliveryOutcome(mine.id, "sent")], NOW)
    assert await backend.rows("SELECT status FROM deliveries WHERE id = :i", i=mine.id) == [
        ("sent",)
    ]


async def test_a_broadcast_finishes_only_when_nothing_is_left_and_can_be_cancelled(
    storage: SqlStorage, backend: Backend
) -> None:
    await subscribers(storage, [("sms", "en")] * 3)
    broadcast_id = await started_broadcast(storage)
    [first] = await storage.claim_deliveries(
        broadcast_id, channel="sms", worker="w", limit=1, now=NOW
    )
    assert not await storage.finish_broadcast(broadcast_id, NOW)

    assert await storage.cancel_broadcast(broadcast_id, NOW)
    assert not await storage.cancel_broadcast(broadcast_id, NOW)
    statuses = sorted(s for (s,) in await backend.rows("SELECT status FROM deliveries"))
    assert statuses == ["cancelled", "cancelled", "sending"]  # the one in flight goes on
    await storage.record_deliveries("w", [DeliveryOutcome(first.id, "sent")], NOW)
    assert not await storage.finish_broadcast(broadcast_id, NOW)  # cancelled, not done
    assert (
        await storage.materialize_deliveries(
            broadcast_id, locales={"en": "en"}, default_locale="en", batch_size=5, now=NOW
        )
        == 0
    )
    assert await storage.unfinished_broadcasts() == []

    other = await started_broadcast(storage)
    for item in await storage.claim_deliveries(other, channel="sms", worker="w", limit=5, now=NOW):
        await storage.record_deliveries("w", [DeliveryOutcome(item.id, "sent")], NOW)
    assert await storage.finish_broadcast(other, NOW)
    finished = await storage.get_broadcast(other)
    assert finished is not None
    assert (finished.status, finished.finished_at) == ("done", NOW)


async def test_delivery_reports_find_their_delivery_by_provider_id(
    storage: SqlStorage, backend: Backend
) -> None:
    delivered, stopped = await subscribers(storage, [("sms", "en")] * 2)
    broadcast_id = await started_broadcast(storage)
    claimed = await storage.claim_deliveries(
        broadcast_id, channel="sms", worker="w", limit=5, now=NOW
    )
    await storage.record_deliveries(
        "w",
        [DeliveryOutcome(c.id, "sent", provider_id=f"SM{c.contact_id}") for c in claimed],
        NOW,
    )

    assert await storage.apply_delivery_report(
        f"SM{delivered.id}", status="delivered", error=None, opted_out=False, now=NOW
    )
    assert await storage.apply_delivery_report(
        f"SM{stopped.id}", status="opted_out", error="failed 21610", opted_out=True, now=NOW
    )
    # A late "failed" after "delivered" changes nothing, but the id is known.
    assert await storage.apply_delivery_report(
        f"SM{delivered.id}", status="failed", error="x", opted_out=False, now=NOW
    )
    assert not await storage.apply_delivery_report(
        "SMnobody", status="delivered", error=None, opted_out=False, now=NOW
    )

    rows = dict(await backend.rows("SELECT contact_id, status FROM deliveries"))
    assert rows == {delivered.id: "delivered", stopped.id: "opted_out"}
    assert (await contact_row(backend, stopped.address) or {})["opted_out"] is True


async def test_sending_time_is_shared_between_instances_without_overlap(
    backend: Backend,
) -> None:
    one, two = backend.storage(), backend.storage()
    await one.open()
    await two.open()
    try:
        starts = await asyncio.gather(
            *(store.reserve_send_time("sms", 0.5, 1000.0) for store in (one, two) * 10)
        )
        await one.pause_sending("sms", 5000.0)
        after_pause = await two.reserve_send_time("sms", 0.5, 1000.0)
        other_channel = await two.reserve_send_time("telegram", 0.1, 1000.0)
    finally:
        await one.close()
        await two.close()

    assert sorted(starts) == [1000.0 + 0.5 * n for n in range(20)]
    assert after_pause == 5000.0
    assert other_channel == 1000.0


async def test_the_audit_log_keeps_organizer_actions_newest_first(storage: SqlStorage) -> None:
    await storage.add_audit(actor="cli:ana", action="create", detail={"broadcast": 1}, now=NOW)
    await storage.add_audit(
        actor="telegram:42",
        action="send",
        detail={"broadcast": 1, "recipients": {"sms": 3}},
        now=NOW + timedelta(seconds=1),
    )

    entries = await storage.audit_log()

    assert [(e.actor, e.action, e.detail) for e in entries] == [
        ("telegram:42", "send", {"broadcast": 1, "recipients": {"sms": 3}}),
        ("cli:ana", "create", {"broadcast": 1}),
    ]
    assert entries[1].at == NOW
