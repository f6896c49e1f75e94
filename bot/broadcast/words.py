"""Words in an organizer's language: texts, language and status names, numbers, money, dates."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from babel import Locale, UnknownLocaleError
from babel.dates import format_datetime
from babel.numbers import format_currency, format_decimal, format_percent

from bot.broadcast import refusals as R
from bot.content.i18n import SOURCE_LOCALE, Translator, babel_locale
from bot.content.strings import Text
from bot.errors import (
    BroadcastError,
)


def _fill(template: str, values: Mapping[str, object]) -> str:
    try:
        return template.format(**values)
    except (KeyError, IndexError, ValueError):
        return template


class Words:
    """Organizer strings, numbers and dates in one locale.

    Args:
        translator: the catalogs; ``None`` gives the English source texts.
        locale: the organizer's locale.
    """

    def __init__(self, translator: Translator | None = None, locale: str = SOURCE_LOCALE) -> None:
        self.translator = translator
        self.locale = locale
        self._babel = babel_locale(locale)

    def __call__(self, text: Text, **values: object) -> str:
        """``text`` translated, placeholders filled (English if the translation is broken)."""
        template = (
            self.translator.text(self.locale, text) if self.translator is not None else text.msgid
        )
        try:
            return template.format(**values)
        except (KeyError, IndexError, ValueError):
            return _fill(text.msgid, values)

    def language(self, code: str, *, capital: bool = False) -> str:
        """A language's name in this locale.

        "Spanish" in English; "español", or "Español" with ``capital`` at a line's start.
        """
        try:
            name = Locale.parse(code.replace("-", "_")).get_display_name(self._babel)
        except (UnknownLocaleError, ValueError, TypeError):
            name = None
        name = name or code
        return name[:1].upper() + name[1:] if capital else name

    def number(self, value: float) -> str:
        """A count with this locale's digit grouping."""
        return str(format_decimal(value, locale=self._babel))

    def money(self, amount: float) -> str:
        """An amount in US dollars (Twilio bills in USD), every significant digit kept."""
        return str(
            format_currency(amount, "USD", locale=self._babel, decimal_quantization=False)
            if amount and amount < 0.01
            else format_currency(amount, "USD", locale=self._babel)
        )

    def percent(self, fraction: float) -> str:
        """``0.34`` as "34%"."""
        return str(format_percent(fraction, locale=self._babel))

    def when(self, moment: datetime) -> str:
        """A date and time in the server's local time zone, in this locale."""
        return str(format_datetime(moment.astimezone(), format="medium", locale=self._babel))

    def status(self, status: str) -> str:
        """A broadcast status as words."""
        text = R.STATUS_NAMES.get(status)
        return self(text) if text is not None else status


def render_refusal(error: BroadcastError, words: Words) -> str:
    """A refusal in ``words``' language: language codes and statuses as words, counts grouped."""
    shown: dict[str, object] = {}
    for name, value in error.values.items():
        if name == "language" and isinstance(value, str):
            shown[name] = words.language(value)
        elif name == "languages" and isinstance(value, list | tuple):
            shown[name] = ", ".join(words.language(str(v)) for v in value)
        elif name == "status" and isinstance(value, str):
            shown[name] = words.status(value)
        elif isinstance(value, int) and name != "id":
            shown[name] = words.number(value)
        else:
            shown[name] = value
    return words(Text(*error.text), **shown)


def refusal(text: Text, **values: object) -> BroadcastError:
    """The refusal ``text`` with ``values``, its message in English."""
    draft = BroadcastError((text.context, text.msgid), "", **values)
    return BroadcastError((text.context, text.msgid), render_refusal(draft, Words()), **values)
