"""The Babel extractor for dialog YAML and the list of strings the dialogs need translated."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping
from typing import IO, Any

from bot.content.dialogs import DialogSet, parse_dialog_text
from bot.errors import Problem

logger = logging.getLogger(__name__)

KEYWORDS_NOTE = (
    "Comma-separated words and phrases people type when they mean this topic: slang, words "
    "without accents, Spanglish. One-letter typos are forgiven already; never shown."
)
VOICE_NOTE = "Said instead of the page's text on a phone call: plain spoken words, no links."
LABEL_NOTE = "A menu choice: keep it short (it is numbered in SMS, a button in Telegram)."


def extract_dialogs(
    fileobj: IO[bytes], keywords: Any, comment_tags: Any, options: Mapping[str, Any]
) -> Iterator[tuple[int, str, tuple[str, str], list[str]]]:
    """Babel extractor for dialog YAML: one entry per node text, choice label and keyword list.

    Registered under the ``babel.extractors`` entry point as ``kyrbot_dialogs``. Each entry
    carries ``msgctxt`` (``dialog.node``, ``dialog.node:choice:target``,
    ``dialog.node:keywords``) and the author's note as a translator comment.
    """
    text = fileobj.read().decode("utf-8")
    name = getattr(fileobj, "name", "<dialog>")
    problems: list[Problem] = []
    _dialog, _main, nodes = parse_dialog_text(text, str(name), problems)
    for problem in problems:
        logger.warning("%s", problem)
    yield from dialog_messages(nodes)


def dialog_messages(
    nodes: Iterable[Any],
) -> Iterator[tuple[int, str, tuple[str, str], list[str]]]:
    """The translatable strings of some nodes, in Babel's extractor tuple form."""
    for node in nodes:
        comments = [node.note] if node.note else []
        yield node.line, "pgettext", (node.say_context, node.say), comments
        if node.voice:
            yield node.voice_line, "pgettext", (node.voice_context, node.voice), [VOICE_NOTE]
        for choice in node.choices:
            notes = [LABEL_NOTE] + ([choice.note] if choice.note else [])
            yield choice.line, "pgettext", (node.choice_context(choice), choice.label), notes
        if node.keywords:
            yield (
                node.keywords_line,
                "pgettext",
                (node.keywords_context, node.keywords),
                [KEYWORDS_NOTE],
            )


def expected_messages(dialogs: DialogSet) -> set[tuple[str, str]]:
    """Every ``(msgctxt, msgid)`` the dialogs need translated."""
    return {
        (ctx, msgid) for _line, _f, (ctx, msgid), _c in dialog_messages(dialogs.nodes.values())
    }
