"""The ticket store in memory: handoff tickets by id and contact reference, never a text."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from datetime import datetime

from typing_extensions import override

from bot.storage.base import TicketStore
from bot.storage.memory.database import MemoryConnection, utc
from bot.storage.models import Contact, Ticket, TicketStatus


class MemoryTickets(TicketStore):
    """:class:`~bot.storage.base.TicketStore` on a :class:`MemoryDatabase`."""

    def __init__(self, connection: MemoryConnection) -> None:
        self._connection = connection

    def _rows(self) -> dict[str, Ticket]:
        return self._connection.rows().tickets

    @override
    async def open_ticket(
        self,
        *,
        ticket_id: str,
        contact_id: int,
        channel: str,
        locale: str,
        page: str | None,
        now: datetime,
    ) -> Ticket | None:
        at = utc(now, "now")
        rows = self._rows()
        existing = await self.open_ticket_of(contact_id)
        if existing is not None:
            return existing
        if ticket_id in rows or contact_id not in self._connection.rows().contacts:
            return None
        ticket = Ticket(
            id=ticket_id,
            contact_id=contact_id,
            channel=channel,
            locale=locale,
            page=page,
            opened_at=at,
            last_activity_at=at,
        )
        rows[ticket_id] = ticket
        return ticket

    @override
    async def get_ticket(self, ticket_id: str) -> Ticket | None:
        return self._rows().get(ticket_id)

    @override
    async def open_ticket_of(self, contact_id: int) -> Ticket | None:
        return next(
            (
                t
                for t in self._rows().values()
                if t.contact_id == contact_id and t.status == TicketStatus.OPEN
            ),
            None,
        )

    @override
    async def open_tickets(self) -> list[Ticket]:
        return _ordered(t for t in self._rows().values() if t.status == TicketStatus.OPEN)

    @override
    async def claim_ticket(self, ticket_id: str, volunteer: str, now: datetime) -> Ticket | None:
        at = utc(now, "now")
        rows = self._rows()
        ticket = rows.get(ticket_id)
        if ticket is None or ticket.status != TicketStatus.OPEN:
            return None
        if ticket.claimed_by is None:
            ticket = dataclasses.replace(ticket, claimed_by=volunteer, first_answer_at=at)
            rows[ticket_id] = ticket
        return ticket

    @override
    async def count_ticket_message(
        self, ticket_id: str, *, to_person: bool, now: datetime
    ) -> None:
        at = utc(now, "now")
        rows = self._rows()
        ticket = rows.get(ticket_id)
        if ticket is None:
            return
        if to_person:
            ticket = dataclasses.replace(ticket, to_person=ticket.to_person + 1)
        else:
            ticket = dataclasses.replace(ticket, to_volunteers=ticket.to_volunteers + 1)
        rows[ticket_id] = dataclasses.replace(ticket, last_activity_at=at)

    @override
    async def close_ticket(self, ticket_id: str, *, reason: str, now: datetime) -> bool:
        at = utc(now, "now")
        rows = self._rows()
        ticket = rows.get(ticket_id)
        if ticket is None or ticket.status != TicketStatus.OPEN:
            return False
        rows[ticket_id] = dataclasses.replace(
            ticket, status=TicketStatus.CLOSED, closed_at=at, close_reason=reason
        )
        return True

    @override
    async def idle_tickets(self, *, before: datetime) -> list[Ticket]:
        limit = utc(before, "before")
        return _ordered(
            t
            for t in self._rows().values()
            if t.status == TicketStatus.OPEN and t.last_activity_at < limit
        )

    @override
    async def tickets_since(self, since: datetime) -> list[Ticket]:
        start = utc(since, "since")
        return _ordered(t for t in self._rows().values() if t.opened_at >= start)

    @override
    async def ticket_contact(self, contact_id: int) -> Contact | None:
        contact = self._connection.rows().contacts.get(contact_id)
        return dataclasses.replace(contact) if contact is not None else None

    @override
    async def prune_tickets(self, *, closed_before: datetime) -> int:
        limit = utc(closed_before, "closed_before")
        rows = self._rows()
        old = [
            t.id
            for t in rows.values()
            if t.status == TicketStatus.CLOSED and t.closed_at is not None and t.closed_at < limit
        ]
        for ticket_id in old:
            del rows[ticket_id]
        return len(old)


def _ordered(found: Iterable[Ticket]) -> list[Ticket]:
    return sorted(found, key=lambda t: (t.opened_at, t.id))
