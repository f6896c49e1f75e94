"""The outbox and turn contracts, on every store: order per person, erasure, counters."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from bot.storage import Storage
from bot.storage.outbox import OutboxStatus
from tests.support.storage import ALICE, BOB, NOW, TODAY

LATER = NOW + timedelta(minutes=10)


async def test_a_persons_later_reply_waits_until_the_earlier_one_is_done(storage: Storage):
    outbox = storage.outbox
    await storage.load_conversation(ALICE, TODAY)
    await storage.load_conversation(BOB, TODAY)
    first = await outbox.enqueue(ALICE, ["a1"], worker="w1", now=NOW, expires_at=LATER)
    assert first is not None and first.claimed
    second = await outbox.enqueue(ALICE, ["a2"], worker="w1", now=NOW, expires_at=LATER)
    bob = await outbox.enqueue(BOB, ["b1"], worker="w1", now=NOW, expires_at=LATER)
    assert second is not None and not second.claimed and bob is not None and bob.claimed
    assert (
        await outbox.claim_outbox(worker="w2", channels=["sms", "telegram"], now=NOW, limit=9)
        == []
    )
    await outbox.outbox_retry(
        "w1", first.items[0].id, not_before=NOW + timedelta(seconds=5), error="E"
    )
    # Still the earliest unsent: a2 waits for it even though a1 is not due yet.
    assert await outbox.claim_outbox(worker="w2", channels=["sms"], now=NOW, limit=9) == []
    assert await outbox.next_outbox_due(["sms"]) == NOW + timedelta(seconds=5)
    assert await outbox.next_outbox_due(["telegram"]) is None
    [again] = await outbox.claim_outbox(
        worker="w2", channels=["sms"], now=NOW + timedelta(seconds=5), limit=9
    )
    assert (again.payload, again.attempts, again.address) == ("a1", 2, ALICE)
    await outbox.outbox_sent("w2", [again.id])
    [then] = await outbox.claim_outbox(
        worker="w2", channels=["sms"], now=NOW + timedelta(seconds=5), limit=9
    )
    assert then.payload == "a2"
    await outbox.outbox_failed("w2", then.id, error="PermanentSendError", now=NOW)
    await outbox.outbox_sent("w1", [bob.items[0].id])
    assert await outbox.outbox_counts() == {OutboxStatus.FAILED: 1}
    assert await outbox.prune_outbox(before=NOW + timedelta(seconds=1)) == 1
    assert await outbox.outbox_counts() == {}


async def test_an_unknown_contact_gets_no_outbox_row(storage: Storage):
    assert (
        await storage.outbox.enqueue(ALICE, ["x"], worker="w", now=NOW, expires_at=LATER) is None
    )


async def test_rows_a_dead_sender_held_go_out_again(storage: Storage):
    await storage.load_conversation(ALICE, TODAY)
    await storage.outbox.enqueue(ALICE, ["a1"], worker="dead", now=NOW, expires_at=LATER)
    assert await storage.outbox.release_outbox(claimed_before=NOW, now=NOW) == 0
    later = NOW + timedelta(minutes=3)
    assert await storage.outbox.release_outbox(claimed_before=later, now=later) == 1
    [item] = await storage.outbox.claim_outbox(worker="w", channels=["sms"], now=later, limit=5)
    assert item.payload == "a1"


async def test_turns_number_a_persons_messages_in_the_order_they_are_taken(storage: Storage):
    turns = storage.turns
    taken = await asyncio.gather(*(turns.take_turn(ALICE, TODAY) for _ in range(5)))
    assert sorted(t.number for t in taken) == [1, 2, 3, 4, 5]
    assert len({t.contact_id for t in taken}) == 1
    first = min(taken, key=lambda t: t.number)
    assert first.next_up
    await turns.turn_done(first)
    await turns.turn_done(first)  # twice is harmless
    assert await turns.turns_done(first.contact_id) == 1
    sixth = await turns.take_turn(ALICE, TODAY)
    assert (sixth.number, sixth.done_before, sixth.next_up) == (6, 1, False)
    assert await storage.forget(ALICE)
    assert (await turns.take_turn(ALICE, TODAY)).number == 1  # a new contact starts again


async def test_a_silent_contact_erased_by_retention_takes_its_waiting_replies_along(
    storage: Storage,
):
    await storage.load_conversation(ALICE, TODAY)
    await storage.load_conversation(BOB, TODAY + timedelta(days=1))
    await storage.outbox.enqueue(ALICE, ["a1"], worker="w", now=NOW, expires_at=LATER)
    await storage.outbox.enqueue(BOB, ["b1"], worker="w", now=NOW, expires_at=LATER)

    assert await storage.prune_contacts(seen_before=TODAY + timedelta(days=1)) == 1

    assert await storage.get_contact(ALICE) is None
    assert await storage.outbox.outbox_counts() == {OutboxStatus.SENDING: 1}  # Bob's only


async def test_several_replies_to_one_message_are_held_together_and_go_in_order(
    storage: Storage,
):
    outbox = storage.outbox
    await storage.load_conversation(ALICE, TODAY)
    first = await outbox.enqueue(ALICE, ["a1", "a2", "a3"], worker="w1", now=NOW, expires_at=LATER)
    assert first is not None and first.claimed
    assert [item.payload for item in first.items] == ["a1", "a2", "a3"]
    assert [item.id for item in first.items] == sorted(item.id for item in first.items)
    assert {item.attempts for item in first.items} == {1}
    assert {item.expires_at for item in first.items} == {LATER}
    later = await outbox.enqueue(ALICE, ["b1", "b2"], worker="w1", now=NOW, expires_at=LATER)
    assert later is not None and not later.claimed
    assert await outbox.outbox_counts() == {OutboxStatus.SENDING: 3, OutboxStatus.PENDING: 2}
    await outbox.outbox_sent("w2", [first.items[0].id])  # not the holder: nothing happens
    assert await outbox.outbox_counts() == {OutboxStatus.SENDING: 3, OutboxStatus.PENDING: 2}
    await outbox.outbox_sent("w1", [item.id for item in first.items])
    [b1] = await outbox.claim_outbox(worker="w2", channels=["sms"], now=NOW, limit=9)
    assert (b1.payload, b1.attempts) == ("b1", 1)
    await outbox.outbox_sent("w2", [b1.id])
    [b2] = await outbox.claim_outbox(worker="w2", channels=["sms"], now=NOW, limit=9)
    assert b2.payload == "b2"
