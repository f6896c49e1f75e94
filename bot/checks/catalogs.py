"""Catalog checks: coverage, stale and obsolete entries, placeholders, PO locations."""

from __future__ import annotations

import string
from collections.abc import Iterator
from typing import Any

from babel.messages.catalog import Catalog

from bot.broadcast import refusals
from bot.channels.voice import words as voice_words
from bot.channels.whatsapp import words as whatsapp_words
from bot.checks.report import CheckReport, LocaleStats
from bot.content import strings as texts
from bot.content.babel import dialog_messages
from bot.content.i18n import SOURCE_LOCALE
from bot.content.strings import Text
from bot.conversation.matching import split_phrases
from bot.conversation.version import Content
from bot.errors import Problem
from bot.handoff import texts as handoff_texts
from bot.organizer import texts as organizer_texts
from bot.organizer.web import texts as console_texts

STRINGS_FILE = "bot/content/strings.py"


def code_texts() -> list[Text]:
    """Every translatable string in code: code strings, channels, organizers, refusals, handoff."""
    found: dict[Text, None] = {}
    modules = (
        texts,
        organizer_texts,
        console_texts,
        refusals,
        handoff_texts,
        voice_words,
        whatsapp_words,
    )
    for value in [v for module in modules for v in vars(module).values()]:
        if isinstance(value, Text):
            found.setdefault(value, None)
        elif isinstance(value, dict):
            for item in value.values():
                if isinstance(item, Text):
                    found.setdefault(item, None)
    return list(found)


def expected_texts(content: Content) -> dict[tuple[str, str], tuple[str, int]]:
    """(msgctxt, msgid) -> where the source text lives."""
    found: dict[tuple[str, str], tuple[str, int]] = {}
    files = {node.id: node.file for node in content.dialogs.nodes.values()}
    for line, _func, (ctx, msgid), _comments in dialog_messages(content.dialogs.nodes.values()):
        node_id = ctx.split(":", 1)[0]
        found[(ctx, msgid)] = (files.get(node_id, ""), line)
    for text in code_texts():
        found[(text.context, text.msgid)] = (STRINGS_FILE, 0)
    return found


def coverage(
    catalog: Catalog,
    path: str,
    locale: str,
    expected: dict[tuple[str, str], tuple[str, int]],
    report: CheckReport,
) -> LocaleStats:
    """Count translated, fuzzy, missing and obsolete entries; warn about stale ones."""
    stats = LocaleStats()
    present: set[tuple[str | None, str]] = set()
    for message in _messages(catalog):
        key = (message.context, message.id)
        present.add(key)
        if key not in expected:
            stats.obsolete += 1
            continue
        if message.fuzzy:
            stats.fuzzy += 1
            report.warnings.append(
                Problem(
                    path,
                    (message.lineno or 0) + 1,
                    f"fuzzy (stale) translation of {message.context}: the English changed; "
                    "it is not used until reviewed",
                    hint="check the translation, then remove the '#, fuzzy' line",
                    code="fuzzy",
                )
            )
        elif message.string:
            stats.translated += 1
    stats.obsolete += len(catalog.obsolete)
    for key, (file, line) in expected.items():
        message = catalog.get(key[1], context=key[0])
        if message is None or (not message.string and not message.fuzzy):
            stats.missing += 1
            report.warnings.append(
                Problem(
                    path,
                    (message.lineno or 0) + 1 if message is not None else 0,
                    f"missing {locale} translation of {key[0]} (English is shown instead)",
                    hint=f"source: {file}:{line}" if line else f"source: {file}",
                    code="missing",
                )
            )
    return stats


def _messages(catalog: Catalog) -> Iterator[Any]:
    for message in catalog:
        if message.id and not isinstance(message.id, tuple):
            yield message


def _placeholders(text: str) -> set[str] | None:
    try:
        return {name for _lit, name, _spec, _conv in string.Formatter().parse(text) if name}
    except ValueError:
        return None


def check_translations(
    catalog: Catalog,
    path: str,
    locale: str,
    expected: dict[tuple[str, str], tuple[str, int]],
    report: CheckReport,
) -> None:
    """Report placeholder mismatches and broken command lists in one catalog."""
    for message in _messages(catalog):
        if not message.string or message.fuzzy or (message.context, message.id) not in expected:
            continue
        line = (message.lineno or 0) + 1
        context = message.context or ""
        if context.endswith(":keywords") or context.startswith("command:"):
            if not split_phrases(message.string):
                report.errors.append(
                    Problem(
                        path,
                        line,
                        f"the word list of {context} is empty or has no usable words",
                        hint="write words separated by commas",
                        code="keywords",
                    )
                )
            continue
        source = _placeholders(message.id) or set()
        translated = _placeholders(message.string)
        if translated is None:
            report.errors.append(
                Problem(
                    path,
                    line,
                    f"unbalanced {{ }} in the {locale} translation of {context}",
                    hint="placeholders look like {hotline}; copy them exactly",
                    code="placeholder",
                )
            )
            continue
        for name in sorted(source - translated):
            report.errors.append(
                Problem(
                    path,
                    line,
                    f"placeholder {{{name}}} is missing from the {locale} translation "
                    f"of {context}",
                    hint="copy it exactly as in the English text",
                    code="placeholder",
                )
            )
        for name in sorted(translated - source):
            report.errors.append(
                Problem(
                    path,
                    line,
                    f"placeholder {{{name}}} in the {locale} translation of {context} is not in "
                    "the English text (misspelt or added?)",
                    hint="the English has: "
                    + (", ".join("{" + s + "}" for s in sorted(source)) or "none"),
                    code="placeholder",
                )
            )


def po_location(
    content: Content, file: str, line: int, locale: str, context: str, msgid: str
) -> tuple[str, int]:
    """Where a message sits in a locale's PO file (path and line), for problems."""
    if locale == SOURCE_LOCALE:
        return file, line
    catalog = content.catalogs[locale].catalog
    message = catalog.get(msgid, context=context) if catalog is not None else None
    if message is not None and message.lineno is not None:
        return content.catalogs[locale].path, message.lineno + 1
    return content.catalogs[locale].path, 0
