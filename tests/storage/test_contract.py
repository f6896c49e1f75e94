"""The storage contract: one suite, run against SQLite and (when configured) PostgreSQL.

Every test checks real effects in the database, read through a connection of its own.
"""

from __future__ import annotations

import asyncio
import json
import logging
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
    PruneResult,
    SessionRecord,
    Storage,
    migrations,
    open_storage,
    tables,
)
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
    },
    "audit_log": {"id", "at", "actor", "action", "detail"},
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
def statements() -> Iterator[list[str]]:
    """SQL statements sent to any database while the test runs (all engines)."""
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(" ".join(statement.split()))

    sa.event.listen(sa.Engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
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


async def test_an_in_memory_sqlite_database_works() -> None:
    async with open_storage("sqlite+aiosqlite://") as store:
        contact, _ = await store.load_conversation(ALICE, TODAY)
        await store.save_conversation(contact, {"node": "a"}, NOW)
        _, session = await store.load_conversation(ALICE, TODAY)
    assert session is not None
