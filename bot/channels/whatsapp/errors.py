"""Twilio's WhatsApp error codes as the bot's typed send errors (:mod:`bot.errors`).

Titles from Twilio's error list: 63003 "Channel could not find To address", 63014 "Channel
message blocked by user action", 63015 sandbox recipient not joined, 63016 "Outside messaging
window", 63017/63018 rate limits, 63024 "Invalid message recipient", 63027 "Template does not
exist for a language and locale", 63028 wrong number of template parameters, 63038 the daily
message limit. Anything else falls back to the SMS mapping (HTTP 429, 5xx, 21610...).
"""

from __future__ import annotations

from typing import Final

from twilio.base.exceptions import TwilioException

from bot.channels.sms.send import send_error_from_twilio
from bot.errors import PermanentSendError, RateLimited, RecipientUnreachable, SendError

BLOCKED_CODES: Final = frozenset({"63014"})
"""The person blocked the business or opted out in WhatsApp: stop sending to them."""
UNREACHABLE_CODES: Final = frozenset({"63003", "63015", "63024"})
"""No WhatsApp user at that number (or the sandbox was never joined)."""
OUTSIDE_WINDOW_CODES: Final = frozenset({"63016"})
"""A free-form message outside the 24-hour window: only a template may go."""
RATE_LIMIT_CODES: Final = frozenset({"63017", "63018", "63038"})
"""Too fast for the account, the channel or today's messaging tier: retry later."""
TEMPLATE_CODES: Final = frozenset({"63027", "63028", "21655", "21656"})
"""The configured template is wrong (missing, other variables, bad SID): fix the config."""


def whatsapp_send_error(exc: TwilioException) -> SendError:
    """The :class:`~bot.errors.SendError` for a Twilio REST error on a WhatsApp send."""
    raw = getattr(exc, "code", None)
    code = str(raw) if raw is not None else None
    status = getattr(exc, "status", None)
    message = f"Twilio WhatsApp error {code} (HTTP {status})"
    if code in BLOCKED_CODES:
        return RecipientUnreachable(message, blocked=True, code=code)
    if code in UNREACHABLE_CODES:
        return RecipientUnreachable(message, code=code)
    if code in OUTSIDE_WINDOW_CODES:
        return PermanentSendError(f"{message}: outside the 24-hour window", code=code)
    if code in RATE_LIMIT_CODES:
        return RateLimited(message, code=code)
    if code in TEMPLATE_CODES:
        return PermanentSendError(f"{message}: check twilio.whatsapp.templates", code=code)
    return send_error_from_twilio(exc)
