"""The handoff's storage contract: tickets to volunteers, by id and contact reference only."""

from __future__ import annotations

import abc
from datetime import datetime

from bot.storage.models import Contact, Ticket

__all__ = ["TicketStore"]


class TicketStore(abc.ABC):
    """What the handoff to volunteers keeps: tickets, by id and contact reference only.

    Contract: a ticket row holds its id, channel, locale, the contact's row id, the page it
    came from, times and message counts, and who claimed it; never a message text and never
    an address. A contact has at most one open ticket. :meth:`claim_ticket` is atomic across
    instances: exactly one volunteer wins a ticket. :meth:`ConversationStore.forget` erases a
    contact's tickets with the contact; :meth:`prune_tickets` applies retention.
    """

    @abc.abstractmethod
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
        """Open a ticket for the contact; None when ``ticket_id`` is taken (pick another).

        If the contact already has an open ticket, that one is returned unchanged.
        """

    @abc.abstractmethod
    async def get_ticket(self, ticket_id: str) -> Ticket | None:
        """The ticket with this id (open or closed), or None."""

    @abc.abstractmethod
    async def open_ticket_of(self, contact_id: int) -> Ticket | None:
        """The contact's open ticket, or None."""

    @abc.abstractmethod
    async def open_tickets(self) -> list[Ticket]:
        """Every open ticket, oldest first."""

    @abc.abstractmethod
    async def claim_ticket(self, ticket_id: str, volunteer: str, now: datetime) -> Ticket | None:
        """Let ``volunteer`` answer an open ticket: the first to claim it keeps it.

        Returns the ticket as it now stands (``claimed_by`` says who holds it), or None when
        it is not open. The first claim also sets ``first_answer_at``.
        """

    @abc.abstractmethod
    async def count_ticket_message(
        self, ticket_id: str, *, to_person: bool, now: datetime
    ) -> None:
        """Count one relayed message (to the person, or to the volunteers) and note the time."""

    @abc.abstractmethod
    async def close_ticket(self, ticket_id: str, *, reason: str, now: datetime) -> bool:
        """Close an open ticket; False when it was not open (already closed, or unknown)."""

    @abc.abstractmethod
    async def idle_tickets(self, *, before: datetime) -> list[Ticket]:
        """Open tickets with no message since ``before``, oldest first."""

    @abc.abstractmethod
    async def tickets_since(self, since: datetime) -> list[Ticket]:
        """Tickets opened at or after ``since``, oldest first (for counts and medians)."""

    @abc.abstractmethod
    async def ticket_contact(self, contact_id: int) -> Contact | None:
        """The contact a ticket refers to (to send an answer on its channel), or None."""

    @abc.abstractmethod
    async def prune_tickets(self, *, closed_before: datetime) -> int:
        """Delete tickets closed before ``closed_before``; returns how many went."""
