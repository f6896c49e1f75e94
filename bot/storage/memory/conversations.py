"""The conversation store in memory: contacts, sessions, dedup ids and topic counters."""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

from typing_extensions import override

from bot.messages import Address
from bot.storage.base import ConversationStore
from bot.storage.memory.database import MemoryConnection, is_subscriber, utc
from bot.storage.models import Contact, CounterRow, PruneResult, SessionRecord
from bot.storage.snapshots import ContactSnapshots
from bot.storage.values import aware, dumps

logger = logging.getLogger(__name__)


class MemoryConversations(ConversationStore):
    """:class:`ConversationStore` on a :class:`MemoryConnection`.

    Args:
        connection: the rows, shared with the store's other parts.
    """

    def __init__(self, connection: MemoryConnection) -> None:
        self._connection = connection
        self._known = ContactSnapshots()

    def forget_snapshots(self) -> None:
        """Drop what this store remembers of contacts (call when the store closes)."""
        self._known.clear()

    @override
    async def claim_inbound(self, channel: str, message_id: str, now: datetime) -> bool:
        seen_at = utc(now, "now")
        claimed = self._connection.rows().inbound_ids
        if (channel, message_id) in claimed:
            return False
        claimed[channel, message_id] = seen_at
        return True

    @override
    async def load_conversation(
        self, address: Address, today: date
    ) -> tuple[Contact, SessionRecord | None]:
        rows = self._connection.rows()
        contact_id = rows.contact_ids.get((address.channel, address.id))
        if contact_id is None:
            contact_id = rows.next_id("contacts")
            rows.contact_ids[address.channel, address.id] = contact_id
            rows.contacts[contact_id] = Contact(id=contact_id, address=address)
        stored = rows.contacts[contact_id]
        stored.last_seen_day = today
        contact = dataclasses.replace(stored)
        self._known.remember(contact)
        saved = rows.sessions.get(contact_id)
        if saved is None:
            return contact, None
        return contact, SessionRecord(state=json.loads(saved[0]), updated_at=saved[1])

    @override
    async def save_conversation(
        self, contact: Contact, state: Mapping[str, Any] | None, now: datetime
    ) -> None:
        updated_at = utc(now, "now")
        changed = self._known.changes(contact)
        state_json = None if state is None else dumps(dict(state))
        rows = self._connection.rows()
        if not self._write(contact, changed, "save_conversation"):
            return
        if state_json is None:
            rows.sessions.pop(contact.id, None)
        else:
            rows.sessions[contact.id] = (state_json, updated_at)

    @override
    async def update_contact(self, contact: Contact) -> None:
        changed = self._known.changes(contact)
        if changed:
            self._write(contact, changed, "update_contact")

    def _write(self, contact: Contact, changed: Mapping[str, Any], what: str) -> bool:
        """Write the changed fields; False (and nothing written) if the contact is gone."""
        stored = self._connection.rows().contacts.get(contact.id)
        if stored is None:
            self._known.drop(contact.id)
            logger.debug("%s: the contact was forgotten meanwhile; not saved", what)
            return False
        for name, value in changed.items():
            setattr(stored, name, value.astimezone(UTC) if isinstance(value, datetime) else value)
        self._known.remember(contact)
        return True

    @override
    async def get_contact(self, address: Address) -> Contact | None:
        rows = self._connection.rows()
        contact_id = rows.contact_ids.get((address.channel, address.id))
        if contact_id is None:
            return None
        contact = dataclasses.replace(rows.contacts[contact_id])
        self._known.remember(contact)
        return contact

    @override
    async def forget(self, address: Address) -> bool:
        rows = self._connection.rows()
        contact_id = rows.contact_ids.get((address.channel, address.id))
        if contact_id is None:
            return False
        self._erase(contact_id)
        return True

    def _erase(self, contact_id: int) -> None:
        rows = self._connection.rows()
        contact = rows.contacts.pop(contact_id)
        rows.contact_ids.pop((contact.address.channel, contact.address.id), None)
        rows.sessions.pop(contact_id, None)
        rows.turns.pop(contact_id, None)
        for ticket_id in [t.id for t in rows.tickets.values() if t.contact_id == contact_id]:
            del rows.tickets[ticket_id]
        rows.drop_deliveries(
            [d.id for d in rows.deliveries.values() if d.contact_id == contact_id]
        )
        for row_id in [i for i, row in rows.outbox.items() if row.contact_id == contact_id]:
            del rows.outbox[row_id]  # the SQL store's ON DELETE CASCADE
        self._known.drop(contact_id)

    @override
    async def prune_contacts(self, *, seen_before: date, limit: int = 500) -> int:
        stale = [
            contact.id
            for contact in sorted(self._connection.rows().contacts.values(), key=_by_id)
            if not is_subscriber(contact)
            and (contact.last_seen_day is None or contact.last_seen_day < seen_before)
        ][:limit]
        for contact_id in stale:
            self._erase(contact_id)
        return len(stale)

    @override
    async def add_topic_counts(self, counts: Mapping[tuple[date, str, str, str], int]) -> None:
        added = {key: count for key, count in counts.items() if count}
        if not added:
            return
        counters = self._connection.rows().topic_counters
        for key, count in added.items():
            counters[key] = counters.get(key, 0) + count

    @override
    async def topic_counts(self, *, since: date, until: date) -> list[CounterRow]:
        counters = self._connection.rows().topic_counters
        return [
            CounterRow(day, node, locale, channel, count)
            for (day, node, locale, channel), count in sorted(counters.items())
            if since <= day <= until
        ]

    @override
    async def prune_conversations(
        self, *, sessions_before: datetime, inbound_before: datetime
    ) -> PruneResult:
        aware(sessions_before, "sessions_before")
        aware(inbound_before, "inbound_before")
        rows = self._connection.rows()
        old_sessions = [cid for cid, (_, at) in rows.sessions.items() if at < sessions_before]
        old_ids = [key for key, at in rows.inbound_ids.items() if at < inbound_before]
        for contact_id in old_sessions:
            del rows.sessions[contact_id]
        for key in old_ids:
            del rows.inbound_ids[key]
        return PruneResult(sessions=len(old_sessions), inbound_ids=len(old_ids))


def _by_id(contact: Contact) -> int:
    return contact.id
