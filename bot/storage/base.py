"""The storage contracts: one small interface per consumer, and Storage, which has them all.

What is stored, and nothing more, is listed in DESIGN.md (Storage). Every implementation
passes the one contract suite in ``tests/storage``. Common to every method below: datetimes
are timezone-aware (a naive one is refused with ValueError) and come back in UTC; a database
failure, or a call on a store that is not open, raises :class:`~bot.errors.StorageError`;
calls are safe from several tasks at once, and several instances may share one database.
"""

from __future__ import annotations

import abc
import dataclasses
import logging
from collections.abc import AsyncIterator, Mapping
from datetime import date, datetime
from typing import Any, Self

from bot.messages import Address
from bot.storage.fanout import FanoutStore
from bot.storage.models import (
    AudienceRow,
    AuditEntry,
    Broadcast,
    BroadcastStatus,
    ClaimedDelivery,
    Contact,
    CounterRow,
    DeliveryNote,
    DeliveryOutcome,
    DeliveryStatus,
    DeliveryTally,
    PruneResult,
    SessionRecord,
    Ticket,
    TicketStatus,
    WorkerRow,
)
from bot.storage.outbox import OutboxStore
from bot.storage.tickets import TicketStore
from bot.storage.turns import TurnStore
from bot.storage.values import aware

logger = logging.getLogger(__name__)

__all__ = [
    "AudienceRow",
    "AuditEntry",
    "Broadcast",
    "BroadcastStatus",
    "BroadcastStore",
    "ClaimedDelivery",
    "Contact",
    "ConversationStore",
    "CounterRow",
    "DeliveryNote",
    "DeliveryOutcome",
    "DeliveryStatus",
    "DeliveryTally",
    "FanoutStore",
    "PruneResult",
    "SessionRecord",
    "Storage",
    "Ticket",
    "TicketStatus",
    "TicketStore",
    "WorkerRow",
]


class ConversationStore(abc.ABC):
    """What the conversation service keeps: contacts, sessions, dedup ids, topic counters.

    The per-message path is :meth:`claim_inbound`, :meth:`load_conversation` and
    :meth:`save_conversation`; implementations keep it to one short round trip each.
    """

    @abc.abstractmethod
    async def claim_inbound(self, channel: str, message_id: str, now: datetime) -> bool:
        """Remember a provider's message id: True the first time anyone claims it.

        False means ``(channel, message_id)`` was seen before: do not answer it again.
        """

    @abc.abstractmethod
    async def load_conversation(
        self, address: Address, today: date
    ) -> tuple[Contact, SessionRecord | None]:
        """Get or create the contact for ``address``, with its session (None if it has none).

        The contact's ``last_seen_day`` becomes ``today`` (written only when it changes).
        Concurrent first loads of one address, from any instance, make one contact.
        """

    @abc.abstractmethod
    async def save_conversation(
        self, contact: Contact, state: Mapping[str, Any] | None, now: datetime
    ) -> None:
        """Save the contact's changed fields and its session state, atomically.

        Only fields that differ from what this store last read or wrote are written, so a
        field another instance changed meanwhile (say, ``unreachable``) is not undone. A
        contact forgotten meanwhile is not brought back (nothing is written).

        Args:
            contact: the contact as the conversation left it.
            state: the session state as JSON data, stamped with ``now``; None deletes it.
            now: when the conversation happened.

        Raises:
            TypeError: ``state`` is not JSON data (checked before anything is written).
            ValueError: ``state`` holds NaN or infinity.
        """

    @abc.abstractmethod
    async def update_contact(self, contact: Contact) -> None:
        """Save the contact's changed fields only (as :meth:`save_conversation`, no session)."""

    @abc.abstractmethod
    async def get_contact(self, address: Address) -> Contact | None:
        """The contact for ``address``, or None; never creates one."""

    @abc.abstractmethod
    async def forget(self, address: Address) -> bool:
        """Erase the contact and every row tied to it; True if there was one.

        Sessions, deliveries and tickets go; dedup ids and topic counters carry no contact
        reference and stay. The address, if it writes again, starts over as a new contact.
        """

    @abc.abstractmethod
    async def add_topic_counts(self, counts: Mapping[tuple[date, str, str, str], int]) -> None:
        """Add ``counts`` to the counters keyed by ``(day, node, locale, channel)``.

        Concurrent additions from any instance are never lost; zero counts write nothing.
        """

    @abc.abstractmethod
    async def topic_counts(self, *, since: date, until: date) -> list[CounterRow]:
        """Counter rows with ``since <= day <= until``, ordered by day, node, locale, channel."""

    @abc.abstractmethod
    async def prune_conversations(
        self, *, sessions_before: datetime, inbound_before: datetime
    ) -> PruneResult:
        """Delete sessions and dedup ids older than their retention windows.

        Sessions saved before ``sessions_before`` and dedup ids seen before
        ``inbound_before`` go; contacts are never pruned by age. A pruned id counts as new.
        Returns how many of each went (``deliveries`` is 0).
        """

    @abc.abstractmethod
    async def prune_contacts(self, *, seen_before: date, limit: int = 500) -> int:
        """Erase up to ``limit`` contacts that are not subscribers, last seen before that day.

        Each goes as :meth:`forget` erases it, with every row tied to it; subscribers stay
        however long they are silent. Returns how many went (call again until 0).
        """


class BroadcastStore(abc.ABC):
    """What organizers write and read: broadcast drafts and their life, audience, audit log.

    A broadcast goes ``draft`` -> ``sending`` -> ``done``, or to ``cancelled`` from either
    of the first two (:class:`BroadcastStatus`).
    """

    @abc.abstractmethod
    async def create_broadcast(
        self, *, author: str, texts: Mapping[str, str], allow_fallback: bool, now: datetime
    ) -> Broadcast:
        """Save a new draft written by ``author`` (an organizer) at ``now``, and return it."""

    @abc.abstractmethod
    async def edit_broadcast(
        self, broadcast_id: int, *, texts: Mapping[str, str], allow_fallback: bool
    ) -> Broadcast | None:
        """Replace a draft's texts; None when there is no such draft (sent ones never change)."""

    @abc.abstractmethod
    async def get_broadcast(self, broadcast_id: int) -> Broadcast | None:
        """The broadcast with this id, or None."""

    @abc.abstractmethod
    async def list_broadcasts(self, *, limit: int = 20) -> list[Broadcast]:
        """The ``limit`` most recently created broadcasts, newest first."""

    @abc.abstractmethod
    async def sent_broadcasts(self, *, limit: int = 5) -> list[Broadcast]:
        """The archive: broadcasts that went out (sending or done), latest started first."""

    @abc.abstractmethod
    async def unfinished_broadcasts(self) -> list[int]:
        """Ids of the broadcasts being sent (status ``sending``), oldest first."""

    @abc.abstractmethod
    async def count_audience(self, *, recent_since: datetime | None = None) -> list[AudienceRow]:
        """Current subscribers counted per channel and contact locale (counts, not a list).

        A subscriber is subscribed, not opted out and reachable. With ``recent_since``,
        :attr:`AudienceRow.recent` counts those whose last message (``last_inbound_at``, kept
        on channels with a reply window) is at or after it.
        """

    @abc.abstractmethod
    async def subscribers(self, *, after: int, limit: int) -> list[Contact]:
        """Up to ``limit`` current subscribers with ids above ``after``, in id order."""

    async def iter_subscribers(self, *, batch_size: int = 500) -> AsyncIterator[list[Contact]]:
        """The current subscribers in id order, ``batch_size`` at a time.

        Each batch is read by itself, so nothing is held open while the caller works, and
        writes made meanwhile are seen by the batches after them.

        Raises:
            ValueError: ``batch_size`` is below 1 (on the first iteration).
        """
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        after = 0
        while batch := await self.subscribers(after=after, limit=batch_size):
            yield batch
            if len(batch) < batch_size:
                return
            after = batch[-1].id

    @abc.abstractmethod
    async def start_broadcast(self, broadcast_id: int, now: datetime) -> bool:
        """Draft -> sending, fixing the audience (contacts that exist now); False if no draft."""

    @abc.abstractmethod
    async def cancel_broadcast(self, broadcast_id: int, now: datetime) -> bool:
        """Draft or sending -> cancelled; False if it was neither.

        Its pending deliveries become ``cancelled``; those in flight go on and are recorded.
        """

    @abc.abstractmethod
    async def finish_broadcast(self, broadcast_id: int, now: datetime) -> bool:
        """Sending -> done once all delivery rows exist and none is open; True if this did it."""

    @abc.abstractmethod
    async def add_audit(
        self, *, actor: str, action: str, detail: Mapping[str, Any], now: datetime
    ) -> None:
        """Append one organizer action to the audit log (``detail``: JSON, no personal data)."""

    @abc.abstractmethod
    async def audit_log(self, *, limit: int = 100) -> list[AuditEntry]:
        """The ``limit`` most recent audit entries, newest first."""


class Storage(ConversationStore, BroadcastStore, FanoutStore, TicketStore):
    """Everything the bot persists: the four consumer interfaces behind one lifecycle.

    Lifecycle: ``await open()`` -> calls -> ``await close()``, or ``async with storage:``.
    A store that is not open refuses every call with StorageError.
    """

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    @abc.abstractmethod
    def turns(self) -> TurnStore:
        """The per-contact message numbers (:mod:`bot.storage.turns`), on the same database."""

    @property
    @abc.abstractmethod
    def outbox(self) -> OutboxStore:
        """The replies waiting to be sent (:mod:`bot.storage.outbox`), on the same database."""

    @abc.abstractmethod
    async def open(self) -> None:
        """Connect and bring the schema up to date (StorageError if either fails); idempotent."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Release connections; safe to call twice."""

    def check_files(self) -> None:
        """A quick check, cheap enough for every message: the store's files are in place.

        Default: nothing to check (a store without files).

        Raises:
            StorageError: a file was deleted, replaced or made read-only.
        """

    async def check_health(self) -> None:
        """Check that the store can take writes now (default: nothing to check).

        Raises:
            StorageError: why not, in words an operator can act on.
        """

    async def prune(
        self,
        *,
        sessions_before: datetime,
        inbound_before: datetime,
        deliveries_before: datetime,
        contacts_seen_before: date | None = None,
    ) -> PruneResult:
        """Apply the retention windows; returns how many rows each removed.

        Sessions, dedup ids and deliveries older than their window are deleted, and, given
        ``contacts_seen_before``, the contacts :meth:`prune_contacts` erases.
        """
        for name, value in (
            ("sessions_before", sessions_before),
            ("inbound_before", inbound_before),
            ("deliveries_before", deliveries_before),
        ):
            aware(value, name)  # all refused before anything is deleted
        result = await self.prune_conversations(
            sessions_before=sessions_before, inbound_before=inbound_before
        )
        erased = 0
        if contacts_seen_before is not None:
            while batch := await self.prune_contacts(seen_before=contacts_seen_before):
                erased += batch
        result = dataclasses.replace(
            result,
            deliveries=await self.prune_deliveries(before=deliveries_before),
            contacts=erased,
        )
        if result.sessions or result.inbound_ids or result.deliveries or result.contacts:
            logger.info(
                "pruned %d sessions, %d dedup ids, %d deliveries, %d contacts",
                result.sessions,
                result.inbound_ids,
                result.deliveries,
                result.contacts,
            )
        return result
