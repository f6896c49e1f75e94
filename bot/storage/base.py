"""The storage contract: what the bot keeps about people, and nothing more (see DESIGN.md)."""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from bot.messages import Address


@dataclass(slots=True)
class Contact:
    """One person on one channel. The address is the only personal datum kept."""

    id: int
    address: Address
    locale: str | None = None
    subscribed: bool = False
    consent_at: datetime | None = None
    """When the person last subscribed (their consent), timezone-aware UTC."""
    opted_out: bool = False
    """The person sent an SMS opt-out word (or the provider reported one)."""
    unreachable: bool = False
    """Sending failed for good (blocked the bot, invalid number)."""
    last_seen_day: date | None = None


@dataclass(slots=True)
class SessionRecord:
    """The saved conversation state of one contact (the engine's state as plain JSON data)."""

    state: dict[str, Any]
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class CounterRow:
    """How often a topic was shown, per day, locale and channel. No contact reference."""

    day: date
    node: str
    locale: str
    channel: str
    count: int


@dataclass(frozen=True, slots=True)
class PruneResult:
    """How many rows each retention rule removed."""

    sessions: int = 0
    inbound_ids: int = 0
    deliveries: int = 0
    extra: dict[str, int] = field(default_factory=dict)


class Storage(abc.ABC):
    """Everything the bot persists, behind one interface with one contract test suite.

    Lifecycle: ``await open()`` (connects and applies migrations) -> calls -> ``await close()``.
    Also usable as ``async with storage:``. Every method is safe to call concurrently from
    several tasks; several processes may share one PostgreSQL database.
    """

    async def __aenter__(self) -> Storage:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @abc.abstractmethod
    async def open(self) -> None:
        """Connect and bring the schema up to date. Raises StorageError."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Release connections. Safe to call twice."""

    @abc.abstractmethod
    async def claim_inbound(self, channel: str, message_id: str, now: datetime) -> bool:
        """Remember a provider message id; False when it was seen before (do not answer it)."""

    @abc.abstractmethod
    async def load_conversation(
        self, address: Address, today: date
    ) -> tuple[Contact, SessionRecord | None]:
        """Get or create the contact for ``address`` and its saved session, in one round trip."""

    @abc.abstractmethod
    async def save_conversation(
        self, contact: Contact, state: Mapping[str, Any] | None, now: datetime
    ) -> None:
        """Save the contact's fields and its session state (``None`` deletes the session)."""

    @abc.abstractmethod
    async def update_contact(self, contact: Contact) -> None:
        """Save the contact's mutable fields (locale, subscription, reachability) only."""

    @abc.abstractmethod
    async def get_contact(self, address: Address) -> Contact | None:
        """The contact for ``address``, or None; never creates one."""

    @abc.abstractmethod
    async def forget(self, address: Address) -> bool:
        """Erase the contact and every row tied to it. True if there was one."""

    @abc.abstractmethod
    async def add_topic_counts(self, counts: Mapping[tuple[date, str, str, str], int]) -> None:
        """Add to the counters keyed by (day, node, locale, channel)."""

    @abc.abstractmethod
    async def topic_counts(self, *, since: date, until: date) -> list[CounterRow]:
        """Counter rows with ``since <= day <= until``, ordered by day, node, locale, channel."""

    @abc.abstractmethod
    def iter_subscribers(self, *, batch_size: int = 500) -> AsyncIterator[list[Contact]]:
        """Subscribed, reachable, not opted-out contacts in id order, a batch at a time."""

    @abc.abstractmethod
    async def prune(
        self, *, sessions_before: datetime, inbound_before: datetime, deliveries_before: datetime
    ) -> PruneResult:
        """Delete sessions, dedup ids and delivery rows older than the given times."""
