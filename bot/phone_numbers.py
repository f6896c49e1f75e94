"""Phone numbers in the one form the bot stores and sends to: E.164 (``+14145550123``).

Twilio usually posts E.164 already, but not always: a number without ``+``, with spaces or
dashes, or a WhatsApp sender (the caller strips ``whatsapp:`` first). Normalising at each
channel's edge makes one person one contact whatever shape their number arrived in.
"""

from __future__ import annotations

import re
from typing import Final

import phonenumbers

_CANONICAL_NANP: Final = re.compile(r"\+1[2-9][0-9]{9}")
"""A North American number already in E.164: what phonenumbers would return unchanged.

Twilio sends most senders this way, and parsing costs every SMS webhook far more than this
match (``tests/test_phone_numbers.py`` checks both give the same answer)."""


def to_e164(raw: str, default_region: str) -> str | None:
    """``raw`` as an E.164 number, or ``None`` when it is not a phone number.

    Args:
        raw: the number as received (``"4145550123"``, ``"+1 414-555-0123"``).
        default_region: the ISO country code a number without ``+`` belongs to
            (``twilio.default_region``, ``"US"``).

    Returns:
        ``"+14145550123"``; ``None`` for text that is no possible number (the caller then
        keeps the id as given).
    """
    text = raw.strip()
    if _CANONICAL_NANP.fullmatch(text):
        return text
    if not text or len(text) > 40:
        return None
    try:
        number = phonenumbers.parse(text, default_region.upper() or None)
    except phonenumbers.NumberParseException:
        return None
    # A local-only length (seven US digits) names no one without its area code.
    reason = phonenumbers.is_possible_number_with_reason(number)
    if reason != phonenumbers.ValidationResult.IS_POSSIBLE:
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
