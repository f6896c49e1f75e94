"""The ticket store's contract, on every store: open, claim once, count, close, erase, prune."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from bot.storage import Storage
from tests.support.storage import ALICE, BOB, NOW, TODAY, Backend


async def open_for(
    storage: Storage, ticket_id: str = "K7P", *, address=ALICE, page="kyr.arrested"
):
    contact, _ = await storage.load_conversation(address, TODAY)
    ticket = await storage.open_ticket(
        ticket_id=ticket_id,
        contact_id=contact.id,
        channel=address.channel,
        locale="es",
        page=page,
        now=NOW,
    )
    assert ticket is not None
    return contact, ticket


async def test_an_opened_ticket_reads_back_with_its_facts_and_no_text(
    storage: Storage, backend: Backend
) -> None:
    contact, ticket = await open_for(storage)

    async with backend.storage() as other:  # another instance reads the same row
        again = await other.get_ticket("K7P")
    assert again == ticket
    assert (again.contact_id, again.channel, again.locale, again.page) == (
        contact.id,
        "sms",
        "es",
        "kyr.arrested",
    )
    assert (again.status, again.opened_at, again.claimed_by, again.to_volunteers) == (
        "open",
        NOW,
        None,
        0,
    )
    assert await storage.open_ticket_of(contact.id) == ticket
    assert await storage.open_tickets() == [ticket]


async def test_a_contact_has_one_open_ticket_and_a_taken_id_is_refused(storage: Storage) -> None:
    contact, ticket = await open_for(storage)
    again = await storage.open_ticket(
        ticket_id="XYZ", contact_id=contact.id, channel="sms", locale="es", page=None, now=NOW
    )
    assert again == ticket  # the open one, unchanged
    bob, _ = await storage.load_conversation(BOB, TODAY)
    taken = await storage.open_ticket(
        ticket_id="K7P", contact_id=bob.id, channel="telegram", locale="en", page=None, now=NOW
    )
    assert taken is None


async def test_exactly_one_of_two_volunteers_claims_a_ticket_even_from_two_instances(
    storage: Storage, backend: Backend
) -> None:
    await open_for(storage)
    async with backend.storage() as other:
        results = await asyncio.gather(
            *(
                (storage if i % 2 else other).claim_ticket("K7P", f"telegram:{i}", NOW)
                for i in range(10)
            )
        )
    holders = {r.claimed_by for r in results if r is not None}
    assert len(holders) == 1
    [holder] = holders
    ticket = await storage.get_ticket("K7P")
    assert ticket is not None and ticket.claimed_by == holder and ticket.first_answer_at == NOW
    later = await storage.claim_ticket("K7P", "telegram:late", NOW + timedelta(minutes=1))
    assert later is not None and later.claimed_by == holder
    assert later.first_answer_at == NOW


async def test_messages_are_counted_and_an_idle_ticket_is_found_by_its_last_message(
    storage: Storage,
) -> None:
    await open_for(storage)
    await storage.count_ticket_message("K7P", to_person=False, now=NOW + timedelta(minutes=5))
    await storage.count_ticket_message("K7P", to_person=False, now=NOW + timedelta(minutes=6))
    await storage.count_ticket_message("K7P", to_person=True, now=NOW + timedelta(minutes=7))
    ticket = await storage.get_ticket("K7P")
    assert ticket is not None
    assert (ticket.to_volunteers, ticket.to_person) == (2, 1)
    assert ticket.last_activity_at == NOW + timedelta(minutes=7)
    assert await storage.idle_tickets(before=NOW + timedelta(minutes=7)) == []
    assert [t.id for t in await storage.idle_tickets(before=NOW + timedelta(minutes=8))] == ["K7P"]


async def test_closing_is_once_and_a_closed_ticket_is_neither_open_nor_claimable(
    storage: Storage,
) -> None:
    contact, _ = await open_for(storage)
    assert await storage.close_ticket("K7P", reason="volunteer", now=NOW) is True
    assert await storage.close_ticket("K7P", reason="idle", now=NOW) is False
    assert await storage.close_ticket("NOPE", reason="idle", now=NOW) is False
    ticket = await storage.get_ticket("K7P")
    assert ticket is not None
    assert (ticket.status, ticket.close_reason, ticket.closed_at) == ("closed", "volunteer", NOW)
    assert await storage.open_ticket_of(contact.id) is None
    assert await storage.claim_ticket("K7P", "telegram:1", NOW) is None
    assert await storage.open_tickets() == []


async def test_forget_erases_the_contacts_tickets(storage: Storage) -> None:
    await open_for(storage)
    await open_for(storage, "BOB", address=BOB)
    assert await storage.forget(ALICE)
    assert await storage.get_ticket("K7P") is None
    assert [t.id for t in await storage.tickets_since(NOW - timedelta(days=1))] == ["BOB"]


async def test_the_ticket_contact_is_found_by_its_id_only(storage: Storage) -> None:
    contact, ticket = await open_for(storage)
    found = await storage.ticket_contact(ticket.contact_id)
    assert found is not None and found.address == ALICE and found.id == contact.id
    assert await storage.ticket_contact(contact.id + 999) is None


async def test_prune_deletes_only_tickets_closed_before_the_window(storage: Storage) -> None:
    await open_for(storage)
    await open_for(storage, "BOB", address=BOB)
    await storage.close_ticket("K7P", reason="idle", now=NOW)
    assert await storage.prune_tickets(closed_before=NOW) == 0
    assert await storage.prune_tickets(closed_before=NOW + timedelta(seconds=1)) == 1
    assert [t.id for t in await storage.open_tickets()] == ["BOB"]


async def test_naive_times_are_refused(storage: Storage) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        await storage.tickets_since(NOW.replace(tzinfo=None))
