"""How rows become records: the contact columns every query reads, and their readers."""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any, Final

from bot.messages import Address
from bot.storage.models import Contact, SessionRecord
from bot.storage.sql.tables import contacts

logger = logging.getLogger(__name__)

CONTACT_COLUMNS: Final = (
    contacts.c.id,
    contacts.c.locale,
    contacts.c.subscribed,
    contacts.c.consent_at,
    contacts.c.opted_out,
    contacts.c.unreachable,
    contacts.c.last_seen_day,
    contacts.c.last_inbound_at,
)
"""A contact's id and changeable fields, in the order :func:`contact_from_row` reads them."""
CONTACT_WIDTH: Final = len(CONTACT_COLUMNS)
"""How many leading columns of a row :func:`contact_from_row` reads."""


def contact_from_row(address: Address, row: Any) -> Contact:
    """A contact from a row that starts with the :data:`CONTACT_COLUMNS`."""
    cid, locale, subscribed, consent_at, opted_out, unreachable, last_seen_day, inbound_at = row[
        :CONTACT_WIDTH
    ]
    return Contact(
        id=cid,
        address=address,
        locale=locale,
        subscribed=subscribed,
        consent_at=consent_at,
        opted_out=opted_out,
        unreachable=unreachable,
        last_seen_day=last_seen_day,
        last_inbound_at=inbound_at,
    )


def session_from_row(state: str | None, updated_at: datetime | None) -> SessionRecord | None:
    """A saved session from its JSON text; None when there is none or it is unreadable."""
    if state is None or updated_at is None:
        return None
    try:
        data = json.loads(state)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        # Never written by this code; start the conversation over rather than fail forever.
        logger.warning("a stored session state is not a JSON object; starting over")
        return None
    return SessionRecord(state=data, updated_at=updated_at)
