"""Ticket ids and how tickets read in the volunteers' group: short, random, and anonymous."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable

from bot.storage.models import Ticket

ALPHABET = "ACDEFHJKMNPRTUVWXY34679"
"""Letters and digits no one confuses when reading or typing (no 0/O, 1/I/L, 2/Z, 5/S, 8/B)."""

ID_LENGTH = 3

_ID = re.compile(rf"\b([{ALPHABET}]{{{ID_LENGTH},6}})\b")
_HEADED = re.compile(rf"^\S+ ([{ALPHABET}]{{{ID_LENGTH},6}}) · ")
"""The head the bot writes on every relayed message (``volunteers:header``)."""


def new_ticket_id(length: int = ID_LENGTH, choice: Callable[[str], str] = secrets.choice) -> str:
    """A random ticket id such as ``K7P``: it says nothing about the person or the time."""
    return "".join(choice(ALPHABET) for _ in range(length))


def parse_ticket_id(text: str) -> str | None:
    """The ticket id a volunteer typed (``k7p`` or ``K7P``), or None."""
    candidate = text.strip().upper()
    match = _ID.fullmatch(candidate)
    return match.group(1) if match else None


def ticket_id_of(relayed: str) -> str | None:
    """The ticket id at the head of a message the bot relayed ("Ticket K7P · ..."), or None."""
    match = _HEADED.match(relayed)
    return match.group(1) if match else None


def page_label(page: str | None) -> str | None:
    """A page id without its dialog (``kyr.arrested`` -> ``arrested``)."""
    if not page:
        return None
    return page.rsplit(".", 1)[-1]


def header_values(ticket: Ticket, channel_name: str, no_page: str) -> dict[str, str]:
    """What fills the group's ticket header: id, language, channel name, the page.

    Never the address, the chat id or the contact id: volunteers cannot learn who it is.
    """
    return {
        "ticket": ticket.id,
        "locale": ticket.locale,
        "channel": channel_name,
        "page": page_label(ticket.page) or no_page,
    }
