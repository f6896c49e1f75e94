"""The conversation store's contract, on every store: dedup, contacts, sessions, counters.

Everything is checked through the interface, read back by a second store on the same rows
where it matters (as another process, or the same one after a restart, would read it).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import date, timedelta, timezone

import pytest

from bot.messages import Address
from bot.storage import Contact, SessionRecord, Storage
from tests.support.storage import (
    ALICE,
    BOB,
    NOW,
    TODAY,
    Backend,
    started_broadcast,
    subscribers,
    tally,
)

# -- dedup ------------------------------------------------------------------------------------


async def test_claim_inbound_is_true_once_per_channel_and_id(storage: Storage) -> None:
    assert await storage.claim_inbound("sms", "SM1", NOW) is True
    assert await storage.claim_inbound("sms", "SM1", NOW) is False
    assert await storage.claim_inbound("telegram", "SM1", NOW) is True


async def test_twenty_concurrent_claims_of_one_id_give_exactly_one_true(
    storage: Storage, backend: Backend
) -> None:
    async with backend.storage() as other:  # a second process on the same database
        results = await asyncio.gather(
            *((storage if i % 2 else other).claim_inbound("sms", "SMrace", NOW) for i in range(20))
        )

    assert sorted(results) == [False] * 19 + [True]


# -- conversations ----------------------------------------------------------------------------


async def test_load_conversation_creates_the_contact_once(storage: Storage) -> None:
    contact, session = await storage.load_conversation(ALICE, TODAY)

    assert session is None
    assert contact == Contact(id=contact.id, address=ALICE, last_seen_day=TODAY)
    again, session = await storage.load_conversation(ALICE, TODAY)
    assert (again, session) == (contact, None)
    assert await storage.get_contact(ALICE) == contact


async def test_concurrent_first_loads_of_one_address_make_one_contact(
    storage: Storage, backend: Backend
) -> None:
    async with backend.storage() as other:
        results = await asyncio.gather(
            *((storage if i % 2 else other).load_conversation(BOB, TODAY) for i in range(20))
        )

    assert {contact.id for contact, _ in results} == {results[0][0].id}


async def test_the_last_seen_day_follows_the_days_a_contact_writes(
    storage: Storage, backend: Backend
) -> None:
    await storage.load_conversation(ALICE, TODAY)
    tomorrow = TODAY + timedelta(days=1)

    contact, _ = await storage.load_conversation(ALICE, tomorrow)

    assert contact.last_seen_day == tomorrow
    async with backend.storage() as fresh:
        assert (await fresh.get_contact(ALICE) or contact).last_seen_day == tomorrow


async def test_save_conversation_stores_the_contact_and_the_session(
    storage: Storage, backend: Backend
) -> None:
    contact, _ = await storage.load_conversation(ALICE, TODAY)
    contact.locale = "es"
    contact.subscribed = True
    contact.consent_at = NOW
    state = {"node": "sop130.warrants", "back": ["sop130.menu"], "misses": 0, "text": "¿Qué?"}

    await storage.save_conversation(contact, state, NOW)

    async with backend.storage() as fresh:  # nothing cached: read back from the database
        loaded, session = await fresh.load_conversation(ALICE, TODAY)
    assert loaded == contact
    assert session == SessionRecord(state=state, updated_at=NOW)


async def test_saving_again_replaces_the_session_and_none_deletes_it(storage: Storage) -> None:
    contact, _ = await storage.load_conversation(ALICE, TODAY)
    later = NOW + timedelta(minutes=5)
    await storage.save_conversation(contact, {"node": "a"}, NOW)
    await storage.save_conversation(contact, {"node": "b"}, later)

    _, session = await storage.load_conversation(ALICE, TODAY)
    assert session == SessionRecord(state={"node": "b"}, updated_at=later)

    await storage.save_conversation(contact, None, later)
    _, session = await storage.load_conversation(ALICE, TODAY)
    assert session is None
    assert await storage.get_contact(ALICE) == contact


async def test_a_loaded_session_is_a_copy_the_caller_may_change(storage: Storage) -> None:
    contact, _ = await storage.load_conversation(ALICE, TODAY)
    await storage.save_conversation(contact, {"node": "a", "back": []}, NOW)

    _, session = await storage.load_conversation(ALICE, TODAY)
    assert session is not None
    session.state["back"].append("changed")
    contact.locale = "es"  # not saved

    again, session = await storage.load_conversation(ALICE, TODAY)
    assert session is not None
    assert session.state == {"node": "a", "back": []}
    assert again.locale is None


async def test_save_keeps_a_field_another_process_changed_meanwhile(
    storage: Storage, backend: Backend
) -> None:
    contact, _ = await storage.load_conversation(ALICE, TODAY)
    async with backend.storage() as broadcaster:
        reported = await broadcaster.get_contact(ALICE)
        assert reported is not None
        reported.unreachable = True
        await broadcaster.update_contact(reported)

    contact.locale = "es"  # this conversation changed only the language
    await storage.save_conversation(contact, {"node": "a"}, NOW)

    async with backend.storage() as fresh:
        stored = await fresh.get_contact(ALICE)
    assert stored is not None
    assert (stored.locale, stored.unreachable) == ("es", True)


async def test_save_after_forget_does_not_bring_the_contact_back(storage: Storage) -> None:
    contact, _ = await storage.load_conversation(ALICE, TODAY)
    assert await storage.forget(ALICE)

    await storage.save_conversation(contact, {"node": "a"}, NOW)
    contact.locale = "es"
    await storage.save_conversation(contact, {"node": "b"}, NOW)
    await storage.update_contact(contact)

    assert await storage.get_contact(ALICE) is None
    again, session = await storage.load_conversation(ALICE, TODAY)
    assert (again.locale, session) == (None, None)


async def test_a_contact_another_process_forgot_meanwhile_stays_forgotten(
    storage: Storage, backend: Backend
) -> None:
    contact, _ = await storage.load_conversation(ALICE, TODAY)
    async with backend.storage() as other:
        assert await other.forget(ALICE)

    await storage.save_conversation(contact, {"node": "a"}, NOW)  # nothing changed but state
    contact.locale = "es"
    await storage.save_conversation(contact, {"node": "b"}, NOW)
    await storage.update_contact(contact)

    assert await storage.get_contact(ALICE) is None


async def test_update_contact_writes_the_fields_and_no_session(
    storage: Storage, backend: Backend
) -> None:
    contact, _ = await storage.load_conversation(ALICE, TODAY)
    contact.opted_out = True
    contact.subscribed = False
    contact.unreachable = True

    await storage.update_contact(contact)

    async with backend.storage() as fresh:
        stored, session = await fresh.load_conversation(ALICE, TODAY)
    assert (stored.opted_out, stored.subscribed, stored.unreachable) == (True, False, True)
    assert session is None


async def test_datetimes_come_back_aware_utc_whatever_zone_went_in(
    storage: Storage, backend: Backend
) -> None:
    chicago = timezone(timedelta(hours=-6))
    local = NOW.astimezone(chicago)
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


async def test_naive_datetimes_are_refused(storage: Storage) -> None:
    naive = NOW.replace(tzinfo=None)
    contact, _ = await storage.load_conversation(ALICE, TODAY)
    with pytest.raises(ValueError, match="timezone-aware"):
        await storage.claim_inbound("sms", "x", naive)
    with pytest.raises(ValueError, match="timezone-aware"):
        await storage.save_conversation(contact, {}, naive)
    contact.consent_at = naive
    with pytest.raises(ValueError, match="timezone-aware"):
        await storage.save_conversation(contact, {}, NOW)
    with pytest.raises(ValueError, match="timezone-aware"):
        await storage.prune(sessions_before=NOW, inbound_before=NOW, deliveries_before=naive)
    assert await storage.claim_inbound("sms", "x", NOW)  # the refused claim left nothing


async def test_a_state_that_is_not_json_is_refused_before_writing(storage: Storage) -> None:
    contact, _ = await storage.load_conversation(ALICE, TODAY)
    with pytest.raises(TypeError):
        await storage.save_conversation(contact, {"when": NOW}, NOW)
    with pytest.raises(ValueError, match="JSON"):
        await storage.save_conversation(contact, {"score": float("nan")}, NOW)

    assert (await storage.load_conversation(ALICE, TODAY))[1] is None


# -- contacts ---------------------------------------------------------------------------------


async def test_get_contact_never_creates_one(storage: Storage) -> None:
    assert await storage.get_contact(ALICE) is None
    assert await storage.get_contact(ALICE) is None

    created, _ = await storage.load_conversation(ALICE, TODAY)
    assert await storage.get_contact(ALICE) == created
    assert await storage.get_contact(Address("telegram", ALICE.id)) is None


async def test_forget_erases_the_contact_and_everything_tied_to_it(storage: Storage) -> None:
    alice, bob = await subscribers(storage, [("sms", "en"), ("telegram", "en")])
    for contact in (alice, bob):
        await storage.save_conversation(contact, {"node": "a"}, NOW)
    broadcast_id = await started_broadcast(storage)
    await storage.claim_inbound("sms", "SM1", NOW)
    await storage.add_topic_counts({(TODAY, "sop130.menu", "en", "sms"): 1})

    assert await storage.forget(alice.address) is True

    assert await storage.get_contact(alice.address) is None
    assert await tally(storage, broadcast_id) == {("telegram", "pending"): 1}
    again, session = await storage.load_conversation(alice.address, TODAY)
    assert (again.subscribed, session) == (False, None)
    # Bob and the rows without a contact reference are untouched.
    assert (await storage.load_conversation(bob.address, TODAY))[1] is not None
    assert not await storage.claim_inbound("sms", "SM1", NOW)
    assert [r.count for r in await storage.topic_counts(since=TODAY, until=TODAY)] == [1]
    assert await storage.forget(Address("sms", "+19995550000")) is False


async def test_a_forgotten_address_starts_over_as_a_new_contact(storage: Storage) -> None:
    contact, _ = await storage.load_conversation(ALICE, TODAY)
    contact.locale = "es"
    contact.subscribed = True
    contact.consent_at = NOW
    await storage.save_conversation(contact, {"node": "a"}, NOW)
    await storage.forget(ALICE)

    again, session = await storage.load_conversation(ALICE, TODAY)

    assert session is None
    assert (again.locale, again.subscribed, again.consent_at) == (None, False, None)


# -- counters ---------------------------------------------------------------------------------


async def test_topic_counts_add_up_and_read_back_in_order(storage: Storage) -> None:
    d1, d2, d3 = date(2026, 3, 1), date(2026, 3, 2), date(2026, 3, 3)
    await storage.add_topic_counts(
        {(d2, "sop130.menu", "es", "sms"): 2, (d1, "sop130.warrants", "en", "telegram"): 1}
    )
    await storage.add_topic_counts({(d2, "sop130.menu", "es", "sms"): 3})
    await storage.add_topic_counts({(d3, "sop130.menu", "en", "sms"): 7})
    await storage.add_topic_counts({(d2, "sop130.about", "es", "sms"): 1})
    await storage.add_topic_counts({(d2, "sop130.door", "es", "sms"): 0})
    await storage.add_topic_counts({})

    rows = await storage.topic_counts(since=d1, until=d2)

    assert [(r.day, r.node, r.locale, r.channel, r.count) for r in rows] == [
        (d1, "sop130.warrants", "en", "telegram", 1),
        (d2, "sop130.about", "es", "sms", 1),
        (d2, "sop130.menu", "es", "sms", 5),
    ]
    assert [r.count for r in await storage.topic_counts(since=d3, until=d3)] == [7]
    assert await storage.topic_counts(since=d3, until=d1) == []


async def test_concurrent_counter_updates_lose_nothing(storage: Storage, backend: Backend) -> None:
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


# -- privacy ----------------------------------------------------------------------------------


async def test_no_address_reaches_the_log(
    storage: Storage, caplog: pytest.LogCaptureFixture
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
