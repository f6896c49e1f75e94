"""What WhatsApp sends besides the pages: the short notice a template may carry; for catalogs."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from bot.content.strings import Text, pgettext

# Translators: the one variable of the approved WhatsApp template, when it carries a notice
# rather than the update itself (outside WhatsApp's 24-hour window). "updates" is the word
# that opens the latest updates in your language.
NOTICE = pgettext(
    "whatsapp:template_notice",
    'There is a new update about your rights with police and ICE. Reply "updates" to read it.',
)


def notices(text_of: Callable[[str, Text], str], locales: Iterable[str]) -> dict[str, str]:
    """``{locale: notice}`` through ``text_of(locale, text)``."""
    return {locale: text_of(locale, NOTICE) for locale in locales}
