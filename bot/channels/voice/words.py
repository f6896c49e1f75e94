"""What a call says besides the pages: how to choose, the keys, the hotline; marked for catalogs.

Each is ``pgettext(context, English)`` like :mod:`bot.content.strings`; :func:`translated`
looks every one up per locale once, when the channel is built.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from bot.content.strings import LANGUAGE_NAME, LANGUAGE_PROMPT, Text, pgettext

# Translators: read aloud after a page, once per choice; {label} is the choice, {n} its key.
PRESS = pgettext("voice:press", "{label}: press {n}.")
# Translators: read aloud after the choices of every page but the menu.
MENU_KEY = pgettext("voice:menu_key", "For the main menu, press 0.")
# Translators: read aloud after the choices; * is the star key.
REPEAT_KEY = pgettext("voice:repeat_key", "To hear this again, press star.")
# Translators: read in the other language, in its voice: "Para español, oprima numeral."
LANGUAGE_KEY = pgettext("voice:language_key", "For English, press the pound key.")
# Translators: read aloud after the keys: callers may answer in words too.
SAY_IT = pgettext("voice:say_it", "Or say in a few words what you need.")
# Translators: when the caller said or pressed nothing before the time ran out.
NO_ANSWER = pgettext("voice:no_answer", "I did not hear an answer.")
# Translators: before the call is connected to the hotline.
DIALING = pgettext("voice:dialing", "Connecting you to a person now. Please stay on the line.")
# Translators: on "talk to a person" when no hotline number is configured.
NO_HOTLINE = pgettext("voice:no_hotline", "This line cannot connect you to a person right now.")
# Translators: when the caller has been silent twice; the call ends.
GOODBYE = pgettext("voice:goodbye", "Thank you for calling. Goodbye.")
# Translators: said instead of a web address in a page read aloud; {site} is the address.
LINK = pgettext("voice:link", "the website {site}")

WORDS: dict[str, Text] = {
    "press": PRESS,
    "menu_key": MENU_KEY,
    "repeat_key": REPEAT_KEY,
    "language_key": LANGUAGE_KEY,
    "say_it": SAY_IT,
    "no_answer": NO_ANSWER,
    "dialing": DIALING,
    "no_hotline": NO_HOTLINE,
    "goodbye": GOODBYE,
    "link": LINK,
    "language_prompt": LANGUAGE_PROMPT,
    "language_name": LANGUAGE_NAME,
}
"""Every word a call needs, by name."""


def translated(
    text_of: Callable[[str, Text], str], locales: Iterable[str]
) -> dict[str, dict[str, str]]:
    """``{locale: {name: text}}`` for :data:`WORDS` through ``text_of(locale, text)``."""
    return {loc: {name: text_of(loc, text) for name, text in WORDS.items()} for loc in locales}


def english() -> dict[str, str]:
    """The English words, for a preview or test that has no catalogs."""
    return {name: text.msgid for name, text in WORDS.items()}
