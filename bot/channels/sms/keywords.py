"""The SMS compliance keywords (opt-out, opt-in, help) in English and Spanish, and their matcher.

A keyword counts only when it is the whole message: "STOP" opts out, "what if the police stop
me" is a question. Matching ignores case, accents, surrounding spaces and surrounding
punctuation or emoji ("¡Alto!", "stop.", "Ayúda"). The adapter turns a match into an
``Inbound`` command; the engine decides the answer.

English opt-out words are the ones Twilio's default opt-out handling answers itself (and blocks
further messages); a match marks that with :attr:`KeywordMatch.provider_answered`, so the
adapter can stay silent when ``twilio.provider_handles_opt_out`` is on.
"""

from __future__ import annotations

import enum
import unicodedata
from dataclasses import dataclass
from typing import Final


class KeywordAction(enum.Enum):
    """What a keyword asks for; the value is the ``Inbound.command`` the engine receives."""

    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    OPT_IN_IF_OPTED_OUT = "opt_in_if_opted_out"
    """"YES": an opt-in only for someone opted out; ordinary text for everyone else."""
    HELP = "help"


@dataclass(frozen=True, slots=True)
class Keyword:
    """One keyword of the table.

    Attributes:
        word: the keyword, upper case and without accents.
        action: what it asks for.
        language: the language it belongs to (``"en"`` or ``"es"``).
        provider_answers: Twilio's default opt-out handling answers this word itself.
    """

    word: str
    action: KeywordAction
    language: str
    provider_answers: bool = False


_OPT_OUT, _OPT_IN, _YES, _HELP = (
    KeywordAction.OPT_OUT,
    KeywordAction.OPT_IN,
    KeywordAction.OPT_IN_IF_OPTED_OUT,
    KeywordAction.HELP,
)

KEYWORDS: Final[tuple[Keyword, ...]] = (
    # Twilio's default opt-out words (REVOKE and OPTOUT since May 2025); Twilio replies itself.
    *(
        Keyword(word, _OPT_OUT, "en", provider_answers=True)
        for word in ("STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT")
    ),
    # Twilio has no Spanish defaults, so the bot always answers these.
    *(Keyword(word, _OPT_OUT, "es") for word in ("PARAR", "BAJA", "CANCELAR", "ALTO")),
    Keyword("START", _OPT_IN, "en"),
    Keyword("UNSTOP", _OPT_IN, "en"),
    Keyword("YES", _YES, "en"),
    Keyword("ALTA", _OPT_IN, "es"),
    Keyword("SUSCRIBIR", _OPT_IN, "es"),
    Keyword("HELP", _HELP, "en"),
    Keyword("INFO", _HELP, "en"),
    Keyword("AYUDA", _HELP, "es"),
)
"""Every compliance keyword, in one table."""

_BY_WORD: Final[dict[str, Keyword]] = {keyword.word: keyword for keyword in KEYWORDS}


@dataclass(frozen=True, slots=True)
class KeywordMatch:
    """A message that is exactly one compliance keyword.

    Attributes:
        keyword: the keyword it matched.
        exact: the message was the bare word (only case and surrounding spaces differ),
            which is how Twilio matches; ``False`` when accents or punctuation were ignored.
    """

    keyword: Keyword
    exact: bool

    @property
    def action(self) -> KeywordAction:
        """What the keyword asks for."""
        return self.keyword.action

    @property
    def provider_answered(self) -> bool:
        """Twilio's default handling has already answered this message."""
        return self.keyword.provider_answers and self.exact


def normalize_keyword(text: str) -> str:
    """Upper-case ``text`` without accents, surrounding spaces, punctuation or symbols.

    Args:
        text: a whole SMS body.

    Returns:
        The candidate keyword, for example ``"AYUDA"`` for ``" ¡Ayúda! "``.
    """
    if text.isascii():  # most messages: nothing to decompose
        bare = text
    else:
        decomposed = unicodedata.normalize("NFKD", text)
        bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    start, end = 0, len(bare)
    while start < end and not bare[start].isalnum():
        start += 1
    while end > start and not bare[end - 1].isalnum():
        end -= 1
    return bare[start:end].upper()


def classify(text: str) -> KeywordMatch | None:
    """Say whether a whole SMS body is a compliance keyword, and which.

    Args:
        text: the SMS body exactly as received.

    Returns:
        The match, or ``None`` for anything else (including sentences that contain a keyword).
    """
    if len(text) > 40:  # longer than any keyword with generous punctuation: a sentence
        return None
    keyword = _BY_WORD.get(normalize_keyword(text))
    if keyword is None:
        return None
    return KeywordMatch(keyword=keyword, exact=text.strip().upper() == keyword.word)
