"""``kyrbot stats`` counts chats with volunteers: opened, answered, median wait for an answer."""

from __future__ import annotations

from datetime import timedelta

from bot.broadcast.words import Words
from bot.handoff.stats import TicketCounts, ticket_counts
from bot.organizer.reports import format_ticket_counts
from bot.storage.base import Storage
from tests.support.storage import ALICE, BOB, NOW, TODAY


async def test_counts_take_answered_tickets_and_the_median_first_answer(storage: Storage) -> None:
    waits = {"AAA": 2, "CCC": 10, "DDD": 4}
    for n, (ticket_id, minutes) in enumerate([*waits.items(), ("EEE", None)]):
        contact, _ = await storage.load_conversation(
            ALICE if n == 0 else BOB if n == 1 else type(ALICE)("sms", f"+1414555010{n}"), TODAY
        )
        await storage.open_ticket(
            ticket_id=ticket_id,
            contact_id=contact.id,
            channel="sms",
            locale="es",
            page=None,
            now=NOW,
        )
        if minutes is not None:
            answered_at = NOW + timedelta(minutes=minutes)
            await storage.claim_ticket(ticket_id, "telegram:1", answered_at)
            await storage.count_ticket_message(ticket_id, to_person=True, now=answered_at)
        await storage.close_ticket(ticket_id, reason="volunteer", now=NOW + timedelta(hours=1))

    counts = await ticket_counts(storage, since=NOW - timedelta(days=7))

    assert counts == TicketCounts(opened=4, answered=3, median_first_answer=timedelta(minutes=4))
    assert format_ticket_counts(counts, Words(), weeks=1) == (
        "Chats with volunteers in the last 1 weeks: 4 opened, 3 answered; median time to a first "
        "answer: 4 minutes."
    )
    none = await ticket_counts(storage, since=NOW + timedelta(days=1))
    assert "0 opened, 0 answered; median time to a first answer: none yet." in (
        format_ticket_counts(none, Words(), weeks=8)
    )
