"""What the SQL conversation store writes, read back with SQL of the test's own.

SQL only: these check rows and statements (the SQLite driver path against the Core one),
and failures only a database has; the behaviour itself is the contract in
``tests/storage/test_conversations.py``.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from bot.errors import StorageError
from bot.messages import Address
from bot.storage import SqlStorage
from tests.support.keys import TEST_VAULT
from tests.support.storage import (
    ALICE,
    NOW,
    TODAY,
    SqlBackend,
    as_date,
    as_utc,
    started_broadcast,
    subscribers,
)


async def contact_row(backend: SqlBackend, address: Address) -> dict[str, Any] | None:
    rows = await backend.rows(
        "SELECT id, locale, subscribed, consent_at, opted_out, unreachable, last_seen_day "
        "FROM contacts WHERE channel = :channel AND address_hash = :address_hash",
        channel=address.channel,
        address_hash=TEST_VAULT.lookup(address),
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


async def test_claimed_ids_are_stored_with_the_time_they_were_claimed(
    storage: SqlStorage, backend: SqlBackend
) -> None:
    await storage.claim_inbound("sms", "SM1", NOW)
    await storage.claim_inbound("sms", "SM1", NOW + timedelta(seconds=1))
    await storage.claim_inbound("telegram", "SM1", NOW)

    rows = await backend.rows("SELECT channel, message_id, seen_at FROM inbound_ids ORDER BY 1")
    assert [(c, m, as_utc(t)) for c, m, t in rows] == [
        ("sms", "SM1", NOW),
        ("telegram", "SM1", NOW),
    ]


async def test_a_new_contact_is_one_row_of_defaults(
    storage: SqlStorage, backend: SqlBackend
) -> None:
    contact, _ = await storage.load_conversation(ALICE, TODAY)
    await storage.load_conversation(ALICE, TODAY)

    assert await contact_row(backend, ALICE) == {
        "id": contact.id,
        "locale": None,
        "subscribed": False,
        "consent_at": None,
        "opted_out": False,
        "unreachable": False,
        "last_seen_day": TODAY,
    }
    assert await backend.count("contacts") == 1


async def test_last_seen_day_is_written_only_when_the_day_changes(
    storage: SqlStorage, backend: SqlBackend, statements: list[str]
) -> None:
    await storage.load_conversation(ALICE, TODAY)
    statements.clear()

    await storage.load_conversation(ALICE, TODAY)
    assert not [s for s in statements if s.startswith("UPDATE")]

    tomorrow = TODAY + timedelta(days=1)
    await storage.load_conversation(ALICE, tomorrow)
    assert len([s for s in statements if s.startswith("UPDATE contacts")]) == 1
    row = await contact_row(backend, ALICE)
    assert row is not None
    assert row["last_seen_day"] == tomorrow


async def test_the_contact_fields_and_session_are_stored_as_written(
    storage: SqlStorage, backend: SqlBackend
) -> None:
    contact, _ = await storage.load_conversation(ALICE, TODAY)
    consent = NOW - timedelta(days=3)
    contact.subscribed, contact.consent_at, contact.opted_out = True, consent, True
    state = {"node": "sop130.door", "back": [], "text": "¿Puedo no abrir?"}

    await storage.save_conversation(contact, state, NOW)

    row = await contact_row(backend, ALICE)
    assert row is not None
    assert (row["subscribed"], row["consent_at"], row["opted_out"]) == (True, consent, True)
    (stored_state, updated_at), *_ = await backend.rows(
        "SELECT state, updated_at FROM sessions WHERE contact_id = :id", id=contact.id
    )
    assert json.loads(stored_state) == state
    assert as_utc(updated_at) == NOW


@pytest.mark.parametrize("garbage", ["{not json", "[1, 2]", "null"])
async def test_an_unreadable_session_starts_the_conversation_over(
    storage: SqlStorage, backend: SqlBackend, garbage: str
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


async def test_forget_leaves_no_row_tied_to_the_contact(
    storage: SqlStorage, backend: SqlBackend
) -> None:
    alice, bob = await subscribers(storage, [("sms", "en"), ("telegram", "en")])
    for contact in (alice, bob):
        await storage.save_conversation(contact, {"node": "a"}, NOW)
    await started_broadcast(storage)

    assert await storage.forget(alice.address)

    assert await backend.rows("SELECT id FROM contacts") == [(bob.id,)]
    assert await backend.rows("SELECT contact_id FROM sessions") == [(bob.id,)]
    assert await backend.rows("SELECT contact_id FROM deliveries") == [(bob.id,)]


async def test_driver_failures_become_storage_errors(
    storage: SqlStorage, backend: SqlBackend
) -> None:
    await backend.execute("DROP TABLE inbound_ids")

    with pytest.raises(StorageError, match="claim_inbound: database error") as info:
        await storage.claim_inbound("sms", "SM-secret-id", NOW)
    assert "SM-secret-id" not in str(info.value)
    # The storage stays usable for everything else.
    assert (await storage.load_conversation(ALICE, TODAY))[0].address == ALICE


async def test_a_failed_save_leaves_the_contact_fields_as_they_were(
    storage: SqlStorage, backend: SqlBackend
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


async def test_a_stored_reply_is_one_row_by_contact_id_until_it_is_sent(
    backend: SqlBackend, storage: SqlStorage
):
    await storage.load_conversation(ALICE, TODAY)
    later = NOW + timedelta(minutes=10)
    enqueued = await storage.outbox.enqueue(ALICE, ["r1"], worker="w1", now=NOW, expires_at=later)
    assert enqueued is not None
    [item] = enqueued.items
    [contact_id] = [row[0] for row in await backend.rows("SELECT id FROM contacts")]
    [row] = await backend.rows(
        "SELECT id, contact_id, channel, payload, status, attempts, created_at, updated_at, "
        "expires_at, not_before, claimed_by, claimed_at, error FROM outbox"
    )
    assert row[:6] == (item.id, contact_id, "sms", "r1", "sending", 1)
    assert [as_utc(value) for value in row[6:9]] == [NOW, NOW, later]
    assert (row[9], row[10], as_utc(row[11]), row[12]) == (None, "w1", NOW, None)
    # Due rows are found by time comparisons in SQL: the stored text must compare as Core's.
    assert (
        await storage.outbox.release_outbox(claimed_before=NOW + timedelta(seconds=1), now=NOW)
        == 1
    )
    [again] = await storage.outbox.claim_outbox(worker="w2", channels=["sms"], now=NOW, limit=5)
    await storage.outbox.outbox_sent("w2", [again.id])
    assert await backend.rows("SELECT id FROM outbox") == []
