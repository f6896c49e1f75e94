"""How a reply looks as an SMS: text, numbered choices and one navigation line, in few segments.

Pure and free of the twilio package, so ``kyrbot chat --as sms`` can import it quickly.

Layout (every character counts, so it is plain and short)::

    Text of the reply, as the engine wrote it.

    1 First choice
    2 Second choice
    0 Menú / English

* Choices are numbered from 1 in the order given, one per line: ``"<n> <label>"``.
* Navigation options share one last line, joined by ``" / "`` (all GSM-7 characters; the
  middle dot would make the whole message UCS-2). The menu option (id ``c:menu``) is shown as
  ``"0 <label>"``: typing 0 means "menu" everywhere. Any other navigation option (such as the
  language switch ``c:lang``, labelled in the language it switches to) is shown as its label
  alone, which is what the person types.
* A blank line separates the text from the options only when it costs no extra segment.
* Typographic punctuation is made plain, and (when enabled for the locale) á í ó ú become
  a i o u, only when that saves a segment: see :func:`bot.sms_text.text_variants`.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from typing import Final

from bot.messages import Reply
from bot.sms_text import (
    MAX_MESSAGE_CHARS,
    is_gsm7,
    segment_info,
    split_message,
    text_variants,
    tidy_whitespace,
)

NAV_KEYS: Final[Mapping[str, str]] = {"c:menu": "0"}
"""What a person types for a navigation option, by choice id; others are typed as labelled."""
NAV_SEPARATOR: Final = " / "


def choice_lines(reply: Reply) -> list[str]:
    """The option lines of ``reply``: numbered choices, then the navigation line if any.

    Args:
        reply: a translated reply.

    Returns:
        Lines such as ``"1 Qué dice SOP 130"`` and ``"0 Menú / English"``.
    """
    lines = [f"{n} {_one_line(choice.label)}" for n, choice in enumerate(reply.choices, start=1)]
    nav = [
        f"{NAV_KEYS[choice.id]} {_one_line(choice.label)}"
        if choice.id in NAV_KEYS
        else _one_line(choice.label)
        for choice in reply.nav
    ]
    if nav:
        lines.append(NAV_SEPARATOR.join(nav))
    return lines


def layouts(reply: Reply) -> list[str]:
    """The candidate bodies for ``reply``, roomiest first, before any character substitution.

    Args:
        reply: a translated reply.

    Returns:
        One body when there are no options, else two: with and without a blank line
        between the text and the options.
    """
    text = tidy_whitespace(unicodedata.normalize("NFC", reply.text))
    options = "\n".join(choice_lines(reply))
    options = unicodedata.normalize("NFC", options)
    if not options:
        return [text]
    if not text:
        return [options]
    return [f"{text}\n\n{options}", f"{text}\n{options}"]


def render_sms(reply: Reply, *, fold_accents: bool) -> str:
    """Render one reply as the SMS text a person receives, in as few segments as it allows.

    Among the layouts (:func:`layouts`) and the faithful text variants
    (:func:`bot.sms_text.text_variants`), the first with the fewest segments wins, trying
    every layout of the text as written before changing any character.

    Args:
        reply: a translated reply with its choices and navigation options.
        fold_accents: whether á í ó ú may be written a i o u (``sms.fold_accents`` for
            the reply's locale).

    Returns:
        The complete body; it may exceed 1,600 characters (see :func:`render_sms_parts`).
    """
    candidates = layouts(reply)
    best, best_segments = candidates[0], segment_info(candidates[0]).segments
    for body in candidates[1:]:
        segments = segment_info(body).segments
        if segments < best_segments:
            best, best_segments = body, segments
    if best_segments <= 1 or is_gsm7(best):
        # Nothing is cheaper than one segment, and substitutions only touch non-GSM-7 text.
        return best
    for variant_index in (1, 2):
        for body in candidates:
            variants = text_variants(body, fold=fold_accents)
            if variant_index < len(variants):
                segments = segment_info(variants[variant_index]).segments
                if segments < best_segments:
                    best, best_segments = variants[variant_index], segments
    return best


def render_sms_parts(
    reply: Reply, *, fold_accents: bool, limit: int = MAX_MESSAGE_CHARS
) -> list[str]:
    """Render ``reply`` and split it into bodies of at most ``limit`` characters.

    Args:
        reply: a translated reply.
        fold_accents: as for :func:`render_sms`.
        limit: the most characters one message body may hold (Twilio: 1,600).

    Returns:
        One body per SMS message, split at paragraph boundaries; ``[]`` if empty.
    """
    return split_message(render_sms(reply, fold_accents=fold_accents), limit=limit)


def _one_line(label: str) -> str:
    return " ".join(label.split())
