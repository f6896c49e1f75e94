"""Which contact fields a store must write: those changed since it last read or wrote them.

A store writes only those, so an unchanged contact is not rewritten on every message, and a
field another instance changed meanwhile (a broadcast marking someone unreachable) is not
undone by a conversation that never touched it.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Final

from bot.storage.models import Contact
from bot.storage.values import aware

FIELD_NAMES: Final = (
    "locale",
    "subscribed",
    "consent_at",
    "opted_out",
    "unreachable",
    "last_seen_day",
    "last_inbound_at",
)
"""The contact fields a conversation may change, in :func:`fields` order."""

ContactFields = tuple[str | None, bool, datetime | None, bool, bool, date | None, datetime | None]

_UNKNOWN: Final = (object(),) * len(FIELD_NAMES)
"""Compares unequal to anything: every field counts as changed when nothing was read."""

SNAPSHOT_LIMIT: Final = 10_000
"""How many contacts' last-read fields are remembered (the oldest are dropped)."""


def fields(contact: Contact) -> ContactFields:
    """The contact's changeable fields, in :data:`FIELD_NAMES` order."""
    return (
        contact.locale,
        contact.subscribed,
        contact.consent_at,
        contact.opted_out,
        contact.unreachable,
        contact.last_seen_day,
        contact.last_inbound_at,
    )


class ContactSnapshots:
    """The fields of recently seen contacts, as one store last read or wrote them."""

    def __init__(self) -> None:
        self._known: dict[int, ContactFields] = {}

    def changes(self, contact: Contact) -> dict[str, Any]:
        """The contact's fields (name -> value) that differ from the last snapshot.

        All of them when there is none (the contact came from elsewhere, or was dropped).

        Raises:
            ValueError: ``contact.consent_at`` is a naive datetime.
        """
        if contact.consent_at is not None:
            aware(contact.consent_at, "contact.consent_at")
        if contact.last_inbound_at is not None:
            aware(contact.last_inbound_at, "contact.last_inbound_at")
        known = self._known.get(contact.id, _UNKNOWN)
        return {
            name: value
            for name, value, old in zip(FIELD_NAMES, fields(contact), known, strict=True)
            if value != old
        }

    def remember(self, contact: Contact) -> None:
        """Take a snapshot of the contact as it is now in the database."""
        known = self._known
        known.pop(contact.id, None)
        known[contact.id] = fields(contact)
        if len(known) > SNAPSHOT_LIMIT:
            del known[next(iter(known))]

    def drop(self, contact_id: int) -> None:
        """Forget the snapshot of one contact (it was erased)."""
        self._known.pop(contact_id, None)

    def clear(self) -> None:
        """Forget every snapshot (the store closed)."""
        self._known.clear()
