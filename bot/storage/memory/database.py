"""The rows of the in-memory store, and each store's connection to them.

Several :class:`~bot.storage.memory.MemoryStorage` objects on one :class:`MemoryDatabase`
behave like several instances on one SQL database: each keeps its own snapshots of the
contacts it read, and all see the same rows. Every call runs to its end without awaiting,
so it is atomic, as a transaction would be.
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from bot.errors import StorageError
from bot.storage.models import AuditEntry, Broadcast, Contact, Ticket, WorkerRow
from bot.storage.values import aware


def utc(value: datetime, name: str) -> datetime:
    """``value`` in UTC, as the SQL store gives times back.

    Raises:
        ValueError: ``value`` is naive (``name`` says which argument it was).
    """
    return aware(value, name).astimezone(UTC)


def is_subscriber(contact: Contact) -> bool:
    """Whether broadcasts go to this contact: subscribed, not opted out, reachable."""
    return contact.subscribed and not contact.opted_out and not contact.unreachable


@dataclass(slots=True)
class BroadcastRow:
    """A broadcast as stored: the record, and the fan-out's cursor over its audience."""

    broadcast: Broadcast
    audience_upto: int = 0
    """The highest contact id when sending started: contacts made later are not recipients."""
    materialized_upto: int = 0
    """The highest contact id that has a delivery row."""

    def record(self) -> Broadcast:
        """The broadcast as callers see it (a copy)."""
        return dataclasses.replace(self.broadcast, texts=dict(self.broadcast.texts))

    def change(self, **fields: Any) -> None:
        """Replace some fields of the record (``status=..., finished_at=...``)."""
        self.broadcast = dataclasses.replace(self.broadcast, **fields)


@dataclass(slots=True)
class DeliveryRow:
    """One recipient's copy of a broadcast, as stored."""

    id: int
    broadcast_id: int
    contact_id: int
    locale: str
    channel: str
    status: str
    updated_at: datetime
    attempts: int = 0
    provider_id: str | None = None
    error: str | None = None
    claimed_by: str | None = None
    claimed_at: datetime | None = None
    not_before: datetime | None = None
    first_attempt_at: datetime | None = None


@dataclass
class MemoryDatabase:
    """Every row of an in-memory store, table by table (ids are never reused)."""

    contacts: dict[int, Contact] = field(default_factory=dict)
    contact_ids: dict[tuple[str, str], int] = field(default_factory=dict)
    """(channel, address) -> contact id."""
    sessions: dict[int, tuple[str, datetime]] = field(default_factory=dict)
    """Contact id -> (state as JSON text, when it was saved)."""
    inbound_ids: dict[tuple[str, str], datetime] = field(default_factory=dict)
    topic_counters: dict[tuple[date, str, str, str], int] = field(default_factory=dict)
    broadcasts: dict[int, BroadcastRow] = field(default_factory=dict)
    deliveries: dict[int, DeliveryRow] = field(default_factory=dict)
    workers: dict[str, WorkerRow] = field(default_factory=dict)
    send_rate: dict[str, float] = field(default_factory=dict)
    """Channel -> the Unix time from which its sending time is free."""
    audit_log: list[AuditEntry] = field(default_factory=list)
    turns: dict[int, tuple[int, int]] = field(default_factory=dict)
    """Contact id -> (numbers taken, highest number handled) (:mod:`bot.storage.turns`)."""
    outbox: dict[int, Any] = field(default_factory=dict)
    """Outbox row id -> the row (:class:`~bot.storage.memory.outbox.OutboxRow`)."""
    console_tokens: dict[str, tuple[str, int, datetime]] = field(default_factory=dict)
    """Token hash -> (kind, organizer, expires at): the web console's links and sessions."""
    tickets: dict[str, Ticket] = field(default_factory=dict)
    """Ticket id -> handoff ticket (no text, no address)."""
    _ids: dict[str, itertools.count[int]] = field(default_factory=dict)

    def next_id(self, table: str) -> int:
        """A new id for a row of ``table``: 1, 2, 3...."""
        return next(self._ids.setdefault(table, itertools.count(1)))

    def drop_deliveries(self, ids: list[int]) -> None:
        """Delete these delivery rows."""
        for delivery_id in ids:
            del self.deliveries[delivery_id]


class MemoryConnection:
    """One store's way to a :class:`MemoryDatabase`, refused while the store is not open.

    Args:
        database: the rows (shared with other stores, or this store's own).
    """

    def __init__(self, database: MemoryDatabase) -> None:
        self.database = database
        self._open = False

    def open(self) -> None:
        """Let calls through."""
        self._open = True

    def close(self) -> None:
        """Refuse calls until opened again (the rows stay)."""
        self._open = False

    def rows(self) -> MemoryDatabase:
        """The rows, for one call.

        Raises:
            StorageError: the store is not open.
        """
        if not self._open:
            raise StorageError("the storage is not open")
        return self.database
