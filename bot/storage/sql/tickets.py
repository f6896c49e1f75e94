"""The ticket store in SQL: handoff tickets by id and contact reference, never a message text."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection
from typing_extensions import override

from bot.storage.base import TicketStore
from bot.storage.models import Contact, Ticket, TicketStatus
from bot.storage.sql.database import Database, begin_write
from bot.storage.sql.rows import CONTACT_COLUMNS, contact_from_row
from bot.storage.sql.tables import contacts, tickets
from bot.storage.values import aware

_COLUMNS: Final = (
    tickets.c.id,
    tickets.c.contact_id,
    tickets.c.channel,
    tickets.c.locale,
    tickets.c.page,
    tickets.c.opened_at,
    tickets.c.last_activity_at,
    tickets.c.status,
    tickets.c.claimed_by,
    tickets.c.first_answer_at,
    tickets.c.closed_at,
    tickets.c.close_reason,
    tickets.c.to_volunteers,
    tickets.c.to_person,
)
_OPEN: Final = tickets.c.status == TicketStatus.OPEN


def _ticket(row: Any) -> Ticket:
    return Ticket(
        id=row[0],
        contact_id=int(row[1]),
        channel=row[2],
        locale=row[3],
        page=row[4],
        opened_at=row[5],
        last_activity_at=row[6],
        status=row[7],
        claimed_by=row[8],
        first_answer_at=row[9],
        closed_at=row[10],
        close_reason=row[11],
        to_volunteers=int(row[12]),
        to_person=int(row[13]),
    )


class SqlTickets(TicketStore):
    """:class:`~bot.storage.base.TicketStore` on the shared :class:`Database`."""

    def __init__(self, db: Database) -> None:
        self._db = db

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
        aware(now, "now")
        values = {
            "id": ticket_id,
            "contact_id": contact_id,
            "channel": channel,
            "locale": locale,
            "page": page,
            "status": TicketStatus.OPEN,
            "opened_at": now,
            "last_activity_at": now,
        }
        return await self._db.run("open_ticket", _open, values)

    @override
    async def get_ticket(self, ticket_id: str) -> Ticket | None:
        return await self._db.run("get_ticket", _one, tickets.c.id == ticket_id)

    @override
    async def open_ticket_of(self, contact_id: int) -> Ticket | None:
        return await self._db.run(
            "open_ticket_of", _one, sa.and_(tickets.c.contact_id == contact_id, _OPEN)
        )

    @override
    async def open_tickets(self) -> list[Ticket]:
        return await self._db.run("open_tickets", _many, _OPEN, tickets.c.opened_at)

    @override
    async def claim_ticket(self, ticket_id: str, volunteer: str, now: datetime) -> Ticket | None:
        aware(now, "now")
        return await self._db.run("claim_ticket", _claim, ticket_id, volunteer, now)

    @override
    async def count_ticket_message(
        self, ticket_id: str, *, to_person: bool, now: datetime
    ) -> None:
        aware(now, "now")
        column = tickets.c.to_person if to_person else tickets.c.to_volunteers
        await self._db.run("count_ticket_message", _count, ticket_id, column.name, now)

    @override
    async def close_ticket(self, ticket_id: str, *, reason: str, now: datetime) -> bool:
        aware(now, "now")
        return await self._db.run("close_ticket", _close, ticket_id, reason, now)

    @override
    async def idle_tickets(self, *, before: datetime) -> list[Ticket]:
        aware(before, "before")
        return await self._db.run(
            "idle_tickets",
            _many,
            sa.and_(_OPEN, tickets.c.last_activity_at < before),
            tickets.c.opened_at,
        )

    @override
    async def tickets_since(self, since: datetime) -> list[Ticket]:
        aware(since, "since")
        return await self._db.run(
            "tickets_since", _many, tickets.c.opened_at >= since, tickets.c.opened_at
        )

    @override
    async def ticket_contact(self, contact_id: int) -> Contact | None:
        found = await self._db.run("ticket_contact", _contact, contact_id)
        if found is None:
            return None
        channel, cipher, row = found
        return contact_from_row(self._db.vault.reveal(channel, cipher), row)

    @override
    async def prune_tickets(self, *, closed_before: datetime) -> int:
        aware(closed_before, "closed_before")
        return await self._db.run("prune_tickets", _prune, closed_before)


# -- the functions that run inside one transaction ---------------------------------------------


def _open(conn: Connection, values: dict[str, Any]) -> Ticket | None:
    begin_write(conn)
    existing = _one(conn, sa.and_(tickets.c.contact_id == values["contact_id"], _OPEN))
    if existing is not None:
        return existing
    taken = conn.execute(sa.select(tickets.c.id).where(tickets.c.id == values["id"])).first()
    if taken is not None:
        return None
    try:
        conn.execute(tickets.insert().values(values))
    except sa_exc.IntegrityError:  # another instance took the id (or the contact went)
        return None
    return _one(conn, tickets.c.id == values["id"])


def _one(conn: Connection, where: Any) -> Ticket | None:
    row = conn.execute(sa.select(*_COLUMNS).where(where).limit(1)).first()
    return _ticket(row) if row is not None else None


def _many(conn: Connection, where: Any, order: Any) -> list[Ticket]:
    rows = conn.execute(sa.select(*_COLUMNS).where(where).order_by(order, tickets.c.id))
    return [_ticket(row) for row in rows]


def _claim(conn: Connection, ticket_id: str, volunteer: str, now: datetime) -> Ticket | None:
    begin_write(conn)
    conn.execute(
        tickets.update()
        .where(tickets.c.id == ticket_id, _OPEN, tickets.c.claimed_by.is_(None))
        .values(claimed_by=volunteer, first_answer_at=now)
    )
    return _one(conn, sa.and_(tickets.c.id == ticket_id, _OPEN))


def _count(conn: Connection, ticket_id: str, column: str, now: datetime) -> None:
    conn.execute(
        tickets.update()
        .where(tickets.c.id == ticket_id)
        .values({column: tickets.c[column] + 1, "last_activity_at": now})
    )


def _close(conn: Connection, ticket_id: str, reason: str, now: datetime) -> bool:
    result = conn.execute(
        tickets.update()
        .where(tickets.c.id == ticket_id, _OPEN)
        .values(status=TicketStatus.CLOSED, closed_at=now, close_reason=reason)
    )
    return bool(result.rowcount == 1)


def _contact(conn: Connection, contact_id: int) -> tuple[str, bytes, Any] | None:
    """The contact's channel, sealed address and contact columns (decrypted by the caller)."""
    row = conn.execute(
        sa.select(contacts.c.channel, contacts.c.address_cipher, *CONTACT_COLUMNS).where(
            contacts.c.id == contact_id
        )
    ).first()
    if row is None:
        return None
    return row[0], row[1], row[2:]


def _prune(conn: Connection, closed_before: datetime) -> int:
    result = conn.execute(
        tickets.delete().where(
            tickets.c.status == TicketStatus.CLOSED, tickets.c.closed_at < closed_before
        )
    )
    return int(result.rowcount)
