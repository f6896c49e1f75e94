"""Ticket counts for organizers: opened, answered, and the median time to a first answer."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.storage.base import TicketStore


@dataclass(frozen=True, slots=True)
class TicketCounts:
    """How the handoff went over a period; counts and a duration only, nobody identifiable."""

    opened: int
    answered: int
    """Tickets whose person got at least one answer from a volunteer."""
    median_first_answer: timedelta | None
    """The median wait from opening to the first answer, over answered tickets."""


async def ticket_counts(store: TicketStore, *, since: datetime) -> TicketCounts:
    """The counts of tickets opened at or after ``since`` (erased tickets are not counted)."""
    tickets = await store.tickets_since(since)
    waits = [
        (t.first_answer_at - t.opened_at).total_seconds()
        for t in tickets
        if t.first_answer_at is not None and t.to_person > 0
    ]
    median = timedelta(seconds=statistics.median(waits)) if waits else None
    return TicketCounts(opened=len(tickets), answered=len(waits), median_first_answer=median)
