"""Who a Twilio webhook is from: the sender's id as the bot stores it (E.164 when a number)."""

from __future__ import annotations

from typing import Final

from bot.phone_numbers import to_e164

WHATSAPP_PREFIX: Final = "whatsapp:"
"""How Twilio marks a WhatsApp address (``whatsapp:+14145550123``)."""


def is_whatsapp(sender: str) -> bool:
    """Whether a ``From`` value is a WhatsApp address."""
    return sender[: len(WHATSAPP_PREFIX)].lower() == WHATSAPP_PREFIX


def sender_id(raw: str, default_region: str) -> str:
    """The contact id for a ``From`` value: E.164 when it is a phone number, else as given.

    ``whatsapp:`` is stripped first; an id that is no phone number (a WhatsApp business-scoped
    id, a ``client:`` caller) is kept as it came.
    """
    text = raw.strip()
    if is_whatsapp(text):
        text = text[len(WHATSAPP_PREFIX) :]
    return to_e164(text, default_region) or text


def whatsapp_address(contact_id: str) -> str:
    """The ``To``/``From`` value Twilio expects for a WhatsApp contact id or sender number."""
    return contact_id if is_whatsapp(contact_id) else WHATSAPP_PREFIX + contact_id
