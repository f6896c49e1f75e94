"""Phone numbers in one form (E.164), so one person is one contact however the number was typed."""

from __future__ import annotations

import phonenumbers


def to_e164(raw: str, default_region: str) -> str | None:
    """``raw`` as an E.164 number (``+14145550101``), or None when it is not a phone number.

    Args:
        raw: a number as a provider or person wrote it (``(414) 555-0101``, ``+1 414...``).
        default_region: the ISO country (``"US"``) of numbers written without ``+``.

    None means the caller keeps the id as given (a chat id, a WhatsApp sender without a
    number): it is then hashed and encrypted as it is.
    """
    text = raw.strip()
    if not text or not any(ch.isdigit() for ch in text):
        return None
    try:
        parsed = phonenumbers.parse(text, default_region.upper() or None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
