"""The broadcast store's contract, on every store: drafts, their life, audience, audit log."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.messages import Address
from bot.storage import DeliveryOutcome, Storage
from tests.support.storage import NOW, TODAY, started_broadcast, subscribers, tally


async def test_drafts_can_be_edited_until_they_are_sent(storage: Storage) -> None:
    draft = await storage.create_broadcast(
        author="telegram:42", texts={"en": "Hi", "es": "Hola"}, allow_fallback=False, now=NOW
    )
    assert (draft.status, draft.author, draft.texts) == (
        "draft",
        "telegram:42",
        {"en": "Hi", "es": "Hola"},
    )
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
    assert [b.id for b in await storage.list_broadcasts(limit=1)] == [second.id]
    assert [b.id for b in await storage.sent_broadcasts()] == [draft.id]
    assert await storage.unfinished_broadcasts() == [draft.id]
    assert await storage.get_broadcast(999) is None


async def test_the_archive_lists_the_latest_started_first(storage: Storage) -> None:
    ids = []
    for minutes in (0, 10, 5):
        draft = await storage.create_broadcast(
            author="cli:ana", texts={"en": f"{minutes}"}, allow_fallback=True, now=NOW
        )
        assert await storage.start_broadcast(draft.id, NOW + timedelta(minutes=minutes))
        ids.append(draft.id)
    await storage.create_broadcast(
        author="cli:ana", texts={"en": "d"}, allow_fallback=True, now=NOW
    )

    sent = await storage.sent_broadcasts(limit=2)

    assert [b.id for b in sent] == [ids[1], ids[2]]
    assert sent[0].started_at == NOW + timedelta(minutes=10)


async def test_audience_is_counted_per_channel_and_locale(storage: Storage) -> None:
    await subscribers(storage, [("sms", "es"), ("sms", "es"), ("sms", None), ("telegram", "en")])
    await subscribers(storage, [("telegram", "es")], subscribed=False)
    [gone] = await subscribers(storage, [("sms", "en")])
    gone.opted_out = True
    await storage.update_contact(gone)

    rows = {(r.channel, r.locale): r.count for r in await storage.count_audience()}

    assert rows == {("sms", None): 1, ("sms", "es"): 2, ("telegram", "en"): 1}


async def test_iter_subscribers_yields_reachable_subscribers_in_id_order(
    storage: Storage,
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


async def test_iter_subscribers_with_none_and_with_a_full_last_batch(storage: Storage) -> None:
    assert [batch async for batch in storage.iter_subscribers()] == []
    for n in range(4):
        contact, _ = await storage.load_conversation(Address("sms", f"+1{n}"), TODAY)
        contact.subscribed = True
        await storage.save_conversation(contact, None, NOW)

    assert [len(b) async for b in storage.iter_subscribers(batch_size=2)] == [2, 2]
    with pytest.raises(ValueError, match="batch_size"):
        await anext(aiter(storage.iter_subscribers(batch_size=0)))


async def test_iter_subscribers_holds_nothing_open_between_batches(storage: Storage) -> None:
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


async def test_a_broadcast_finishes_only_when_nothing_is_left_and_can_be_cancelled(
    storage: Storage,
) -> None:
    await subscribers(storage, [("sms", "en")] * 3)
    broadcast_id = await started_broadcast(storage)
    [first] = await storage.claim_deliveries(
        broadcast_id, channel="sms", worker="w", limit=1, now=NOW
    )
    assert not await storage.finish_broadcast(broadcast_id, NOW)

    assert await storage.cancel_broadcast(broadcast_id, NOW)
    assert not await storage.cancel_broadcast(broadcast_id, NOW)
    # The one in flight goes on.
    assert await tally(storage, broadcast_id) == {("sms", "cancelled"): 2, ("sms", "sending"): 1}
    await storage.record_deliveries("w", [DeliveryOutcome(first.id, "sent")], NOW)
    assert not await storage.finish_broadcast(broadcast_id, NOW)  # cancelled, not done
    cancelled = await storage.get_broadcast(broadcast_id)
    assert cancelled is not None
    assert (cancelled.status, cancelled.finished_at) == ("cancelled", NOW)
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
    assert not await storage.cancel_broadcast(other, NOW)


async def test_a_broadcast_finishes_only_once_every_delivery_row_is_written(
    storage: Storage,
) -> None:
    await subscribers(storage, [("sms", "en")] * 2)
    draft = await storage.create_broadcast(
        author="cli:ana", texts={"en": "Hi"}, allow_fallback=True, now=NOW
    )
    assert await storage.start_broadcast(draft.id, NOW)

    async def write_batch() -> int:
        return await storage.materialize_deliveries(
            draft.id, locales={"en": "en"}, default_locale="en", batch_size=1, now=NOW
        )

    async def send_all() -> None:
        for item in await storage.claim_deliveries(
            draft.id, channel="sms", worker="w", limit=5, now=NOW
        ):
            await storage.record_deliveries("w", [DeliveryOutcome(item.id, "sent")], NOW)

    assert await write_batch() == 1
    await send_all()
    assert not await storage.finish_broadcast(draft.id, NOW)  # one recipient has no row yet
    assert await write_batch() == 1
    assert await write_batch() == 0  # all written: now marked so
    assert not await storage.finish_broadcast(draft.id, NOW)  # the second is still pending
    await send_all()
    assert await storage.finish_broadcast(draft.id, NOW)
    assert not await storage.finish_broadcast(draft.id, NOW)


async def test_a_draft_can_be_cancelled_and_never_starts(storage: Storage) -> None:
    draft = await storage.create_broadcast(
        author="cli:ana", texts={"en": "Hi"}, allow_fallback=True, now=NOW
    )

    assert await storage.cancel_broadcast(draft.id, NOW)

    assert not await storage.start_broadcast(draft.id, NOW)
    assert not await storage.cancel_broadcast(999, NOW)
    assert await storage.sent_broadcasts() == []


async def test_the_audit_log_keeps_organizer_actions_newest_first(storage: Storage) -> None:
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
    assert [e.action for e in await storage.audit_log(limit=1)] == ["send"]
