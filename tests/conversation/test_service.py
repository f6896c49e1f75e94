"""The conversation service: order per contact, dedup, saved state, errors, forget-me, privacy."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from datetime import timedelta

import pytest
import sqlalchemy as sa

from bot.content import strings as texts
from bot.conversation import service as conversation
from bot.conversation.service import ConversationService
from bot.messages import Address, Inbound
from tests.support.content import menu_choice_ids
from tests.support.paths import NOW

PHONE = Address("sms", "+15550100123")


def inbound(text: str, *, seconds: int = 0, message_id: str | None = None, address=PHONE, **kw):
    return Inbound(address, text, NOW + timedelta(seconds=seconds), message_id=message_id, **kw)


async def test_state_is_saved_between_messages(service: ConversationService, content):
    await service.handle(inbound("2"))
    [reply] = await service.handle(inbound("1", seconds=1))
    first = content.dialogs.node("kyr.menu").choices[0]
    assert reply.node == first.target
    assert reply.locale == "es"
    contact = await service.storage.get_contact(PHONE)
    assert contact is not None and contact.locale == "es"


async def test_twenty_messages_sent_at_once_are_answered_in_order(service, storage, content):
    script = ["2", "1", "0", "2", "atrás", "menu", "1", "1", "volver", "3"] * 2
    sequential = ConversationService(content=content, storage=storage)
    other = Address("sms", "+15550100999")
    expected = []
    for i, text in enumerate(script):
        expected.append(await sequential.handle(inbound(text, seconds=i, address=other)))
    concurrent = await asyncio.gather(
        *(service.handle(inbound(text, seconds=i)) for i, text in enumerate(script))
    )
    assert [[r.text for r in replies] for replies in concurrent] == [
        [r.text for r in replies] for replies in expected
    ]


async def test_an_event_seen_before_is_not_answered_twice(service):
    first = await service.handle(inbound("2", message_id="SM1"))
    again = await service.handle(inbound("2", message_id="SM1", seconds=1))
    assert first and again == ()


async def test_duplicate_deliveries_racing_each_other_get_one_answer(service):
    results = await asyncio.gather(
        *(service.handle(inbound("2", message_id="SM-race")) for _ in range(5))
    )
    assert sum(1 for r in results if r) == 1


async def test_an_internal_error_gives_a_translated_apology_and_the_menu(service, monkeypatch):
    await service.handle(inbound("2"))

    def explode(*_args, **_kwargs):
        raise RuntimeError("secret internals +15550100123")

    monkeypatch.setattr(service.content.engine, "step", explode)
    [reply] = await service.handle(inbound("1", seconds=1))
    spanish_apology = service.content.translator.text("es", texts.APOLOGY)
    assert reply.text == spanish_apology != texts.APOLOGY.msgid
    assert "secret" not in reply.text and "Error" not in reply.text
    assert [c.id for c in reply.choices] == menu_choice_ids(service.content.engine)


async def test_forget_me_erases_the_contact_and_all_their_rows(sqlite_service, sqlite_storage):
    service, storage = sqlite_service, sqlite_storage
    await service.handle(inbound("2", message_id="SM-a"))
    await service.handle(inbound("1", seconds=1, message_id="SM-b"))
    contact = await storage.get_contact(PHONE)
    assert contact is not None
    [reply] = await service.handle(inbound("BORRAR", seconds=2))
    assert reply.text == service.content.translator.text("es", texts.FORGOTTEN)
    assert await storage.get_contact(PHONE) is None
    engine = storage.engine  # the SQLAlchemy engine of the store under test
    async with engine.connect() as conn:
        contacts = (await conn.execute(sa.text("SELECT count(*) FROM contacts"))).scalar()
        sessions = (await conn.execute(sa.text("SELECT count(*) FROM sessions"))).scalar()
        deliveries = (await conn.execute(sa.text("SELECT count(*) FROM deliveries"))).scalar()
    assert (contacts, sessions, deliveries) == (0, 0, 0)


async def test_after_forget_me_the_next_message_starts_over(service):
    await service.handle(inbound("2"))
    await service.handle(inbound("borrar", seconds=1))
    [reply] = await service.handle(inbound("xyzzy", seconds=2))
    assert [c.id for c in reply.choices][:2] == ["l:en", "l:es"]


async def test_topic_counters_are_kept_without_any_contact_reference(
    sqlite_service, sqlite_storage
):
    service, storage = sqlite_service, sqlite_storage
    await service.handle(inbound("2"))
    await service.handle(inbound("1", seconds=1))
    await service.flush_counters()
    rows = await storage.topic_counts(since=NOW.date(), until=NOW.date())
    assert {(r.node, r.locale, r.channel) for r in rows} >= {("kyr.menu", "es", "sms")}
    assert all(r.count >= 1 for r in rows)
    async with storage.engine.connect() as conn:
        columns = (await conn.execute(sa.text("SELECT * FROM topic_counters"))).keys()
    assert set(columns) == {"day", "node", "locale", "channel", "count"}


async def test_counters_are_written_once_enough_pile_up_and_kept_when_a_write_fails(
    service, storage, monkeypatch
):
    monkeypatch.setattr(conversation, "_COUNTER_FLUSH_AT", 4)
    real_add = storage.add_topic_counts
    failures = []

    async def fail_once(counts):
        if not failures:
            failures.append(sum(counts.values()))
            raise RuntimeError("database away")
        await real_add(counts)

    monkeypatch.setattr(storage, "add_topic_counts", fail_once)
    await service.handle(inbound("2"))  # Spanish: the menu, counted
    for n in range(1, 4):
        await service.handle(inbound("0", seconds=n))
    await asyncio.sleep(0.05)  # the scheduled write fails; the counts stay buffered
    assert failures == [4]
    assert await storage.topic_counts(since=NOW.date(), until=NOW.date()) == []
    for n in range(4, 8):
        await service.handle(inbound("0", seconds=n))
    await asyncio.sleep(0.05)

    rows = await storage.topic_counts(since=NOW.date(), until=NOW.date())
    assert sum(r.count for r in rows) == 8


async def test_subscribing_records_consent_time_and_unsubscribing_clears_it(service, storage):
    await service.handle(inbound("2"))
    subscribe = service.content.dialogs.node_for_action("subscribe")
    assert subscribe is not None
    await service.handle(inbound("", seconds=2, choice_id=f"n:{subscribe.id}"))
    contact = await storage.get_contact(PHONE)
    assert contact.subscribed and contact.consent_at == NOW + timedelta(seconds=2)


async def test_logs_contain_no_address_and_no_message_text(service, caplog, monkeypatch):
    caplog.set_level(logging.DEBUG)
    secret_text = "mi vecino Juan Perez vive en 123 Calle Falsa"
    await service.handle(inbound("2", message_id="SM-log-1"))
    await service.handle(inbound(secret_text, seconds=1, message_id="SM-log-2"))
    await service.handle(inbound(secret_text, seconds=1, message_id="SM-log-2"))  # duplicate

    def explode(*_args, **_kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(service.content.engine, "step", explode)
    await service.handle(inbound(secret_text, seconds=2))
    logged = "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records) + "".join(
        caplog.text
    )
    assert caplog.records, "the service should log what it does"
    assert PHONE.id not in logged and "5550100123" not in logged
    assert "Juan" not in logged and "Calle" not in logged


async def test_contact_unreachable_marks_the_contact(service, storage):
    await service.handle(inbound("2"))
    await service.contact_unreachable(PHONE, opted_out=True)
    contact = await storage.get_contact(PHONE)
    assert contact.opted_out and not contact.subscribed


async def test_content_swapped_mid_conversation_keeps_the_conversation(service, content):
    await service.handle(inbound("2"))
    service.swap_content(replace(content))
    [reply] = await service.handle(inbound("1", seconds=1))
    assert reply.locale == "es"


@pytest.mark.parametrize("text", ["", "   ", "\x00\x01", "🙂" * 50, "ש" * 30, "x" * 10_000])
async def test_odd_messages_get_a_helpful_reply(service, text):
    await service.handle(inbound("2"))
    replies = await service.handle(inbound(text, seconds=1))
    assert replies and all(r.text.strip() for r in replies)
