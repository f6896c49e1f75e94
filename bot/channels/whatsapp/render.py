"""How a reply looks on WhatsApp: the text, then numbered choices with bold keys.

Pure and free of the twilio package, so ``kyrbot chat --as whatsapp`` imports it quickly.

Layout::

    Text of the reply, as the engine wrote it.

    *1* First choice
    *2* Second choice
    *0* Menú · English

There are no SMS segments to save, so the layout is roomy (a blank line before the choices,
accents kept); a short first line ending in ``:`` ("More topics:") is a heading and is bold.
Only Twilio's body limit applies: a longer reply goes as several messages of at most 1,600
characters, split at paragraphs.
"""

from __future__ import annotations

import unicodedata
from typing import Final

from bot.messages import Reply
from bot.sms_text import MAX_MESSAGE_CHARS, split_message, tidy_whitespace

NAV_KEYS: Final = {"c:menu": "0"}
"""What a person types for a navigation option, by choice id; others are typed as labelled."""
NAV_SEPARATOR: Final = " · "
_HEADING_CHARS: Final = 60


def bold(text: str) -> str:
    """``text`` in WhatsApp's bold (``*text*``); empty text stays empty."""
    return f"*{text}*" if text else text


def _one_line(label: str) -> str:
    return " ".join(label.split())


def _with_heading(text: str) -> str:
    first, sep, rest = text.partition("\n")
    if first.endswith(":") and len(first) <= _HEADING_CHARS and "*" not in first:
        return bold(first) + sep + rest
    return text


def render_whatsapp(reply: Reply) -> str:
    """The whole WhatsApp text for ``reply`` (it may exceed one message; see parts)."""
    text = _with_heading(tidy_whitespace(unicodedata.normalize("NFC", reply.text)))
    lines = [f"{bold(str(n))} {_one_line(c.label)}" for n, c in enumerate(reply.choices, 1)]
    nav = [
        f"{bold(NAV_KEYS[c.id])} {_one_line(c.label)}" if c.id in NAV_KEYS else _one_line(c.label)
        for c in reply.nav
    ]
    if nav:
        lines.append(NAV_SEPARATOR.join(nav))
    options = unicodedata.normalize("NFC", "\n".join(lines))
    if not options:
        return text
    if not text:
        return options
    return f"{text}\n\n{options}"


def render_whatsapp_parts(reply: Reply, *, limit: int = MAX_MESSAGE_CHARS) -> list[str]:
    """``reply`` as WhatsApp message bodies of at most ``limit`` characters (Twilio: 1,600)."""
    return split_message(render_whatsapp(reply), limit=limit)
