"""What a broadcast's texts must be: one per configured language, English always, one SMS long."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Final

from bot.broadcast import refusals as R
from bot.broadcast.words import refusal
from bot.content.i18n import SOURCE_LOCALE
from bot.sms_text import MAX_MESSAGE_CHARS

FALLBACK_LOCALE: Final = SOURCE_LOCALE
"""The language a recipient gets when theirs has no text (only if the organizer allowed it)."""


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def text_locales(config_locales: Sequence[str], texts: Mapping[str, str]) -> dict[str, str]:
    """For each configured locale, the locale of the text its readers get."""
    return {loc: (loc if loc in texts else FALLBACK_LOCALE) for loc in config_locales}


def validate_texts(
    texts: Mapping[str, str], *, locales: Sequence[str], allow_fallback: bool
) -> dict[str, str]:
    """The texts, stripped and checked against the configured languages.

    Raises:
        BroadcastError: a text is for an unconfigured language, empty or longer than one SMS
            message (1,600 characters); English is missing; or another configured language
            is missing and the English fallback was not explicitly allowed.
    """
    clean: dict[str, str] = {}
    for locale, text in texts.items():
        if locale not in locales:
            raise refusal(R.ERROR_UNKNOWN_LANGUAGE, language=locale, languages=list(locales))
        value = (text or "").strip()
        if not value:
            raise refusal(R.ERROR_EMPTY, language=locale)
        if len(value) > MAX_MESSAGE_CHARS:
            raise refusal(
                R.ERROR_TOO_LONG, language=locale, length=len(value), limit=MAX_MESSAGE_CHARS
            )
        clean[locale] = value
    if FALLBACK_LOCALE not in clean:
        raise refusal(R.ERROR_NO_ENGLISH)
    missing = [loc for loc in locales if loc not in clean]
    if missing and not allow_fallback:
        raise refusal(R.ERROR_MISSING, languages=missing)
    return {loc: clean[loc] for loc in locales if loc in clean}
