"""Everything ``kyrbot check`` reports about dialogs and catalogs, for authors and translators."""

from __future__ import annotations

import string
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from babel.messages.catalog import Catalog

from bot.broadcast import texts as broadcast_texts
from bot.channels.sms.render import render_sms
from bot.config import Config
from bot.content import strings as texts
from bot.content.babel import dialog_messages
from bot.content.examples import MIN_PER_LABEL, OUT_OF_SCOPE
from bot.content.i18n import SOURCE_LOCALE
from bot.content.strings import Text
from bot.conversation.matching import split_phrases
from bot.conversation.render import Renderer
from bot.conversation.version import Content, load_content
from bot.errors import ContentError, Problem
from bot.sms_text import segment_info

TELEGRAM_LIMIT = 4096
STRINGS_FILE = "bot/content/strings.py"


@dataclass
class LocaleStats:
    """Coverage of one locale's catalog against what the content needs."""

    translated: int = 0
    fuzzy: int = 0
    missing: int = 0
    obsolete: int = 0

    def as_dict(self) -> dict[str, int]:
        """The four counts, keyed as in ``kyrbot check --json``."""
        return {
            "translated": self.translated,
            "fuzzy": self.fuzzy,
            "missing": self.missing,
            "obsolete": self.obsolete,
        }


@dataclass
class CheckReport:
    """The result of one check run."""

    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    locales: dict[str, LocaleStats] = field(default_factory=dict)
    messages: list[dict[str, Any]] = field(default_factory=list)
    examples: dict[str, dict[str, int]] = field(default_factory=dict)
    """Per locale: training examples per label (free-text routing)."""
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """True when there are no errors (warnings allowed)."""
        return not self.errors

    def as_json(self) -> dict[str, Any]:
        """The stable ``--json`` shape."""
        return {
            "errors": [_problem_json(p) for p in self.errors],
            "warnings": [_problem_json(p) for p in self.warnings],
            "locales": {loc: stats.as_dict() for loc, stats in self.locales.items()},
            "messages": self.messages,
            "examples": self.examples,
        }


def _problem_json(problem: Problem) -> dict[str, Any]:
    return {
        "file": problem.file,
        "line": problem.line,
        "code": problem.code,
        "message": problem.message,
        "hint": problem.hint,
        "text": str(problem),
    }


def code_texts() -> list[Text]:
    """Every translatable string defined in code (content/strings.py, broadcast/texts.py)."""
    found: dict[Text, None] = {}
    for value in [*vars(texts).values(), *vars(broadcast_texts).values()]:
        if isinstance(value, Text):
            found.setdefault(value, None)
        elif isinstance(value, dict):
            for item in value.values():
                if isinstance(item, Text):
                    found.setdefault(item, None)
    return list(found)


def run_checks(config: Config, *, only_locale: str | None = None) -> CheckReport:
    """Check dialogs and catalogs against each other and against the SMS budget."""
    import time

    started = time.perf_counter()
    report = CheckReport()
    try:
        content = load_content(config)
    except ContentError as exc:
        report.errors.extend(exc.problems)
        report.seconds = time.perf_counter() - started
        return report
    locales = [loc for loc in config.locales if only_locale in (None, loc)]
    expected = _expected(content)
    for locale in locales:
        if locale == SOURCE_LOCALE:
            continue
        catalog = content.catalogs[locale].catalog
        assert catalog is not None
        path = content.catalogs[locale].path
        report.locales[locale] = _coverage(catalog, path, locale, expected, report)
        _check_translations(catalog, path, locale, expected, report)
    _check_sms(content, config, locales, report)
    _check_system_sms(content, config, locales, report)
    _check_examples(content, locales, report)
    report.seconds = time.perf_counter() - started
    return report


def _check_examples(content: Content, locales: list[str], report: CheckReport) -> None:
    """Examples per label per locale; thin labels, labels filed twice, locales with none."""
    examples = content.examples
    routed = sorted({e.label for e in examples.examples} - {OUT_OF_SCOPE})
    where = examples.files[0] if examples.files else "dialogs/examples"
    for locale in locales:
        counts = examples.counts(locale)
        report.examples[locale] = counts
        if not counts:
            report.warnings.append(
                Problem(
                    where,
                    0,
                    f"{locale}: no examples; free text in this language is routed by its "
                    "keywords first, then by the other languages' examples",
                    code="examples_missing",
                )
            )
            continue
        for label in examples.thin_labels(locale, routed):
            report.warnings.append(
                Problem(
                    f"{where}",
                    0,
                    f"{locale}: label {label!r} has {counts.get(label, 0)} examples "
                    f"(at least {MIN_PER_LABEL} wanted)",
                    code="examples_thin",
                )
            )
    for first, second in examples.duplicates:
        if first.locale in locales:
            report.warnings.append(
                Problem(
                    second.file,
                    second.line,
                    f"{second.text!r} is filed under {second.label!r} and under "
                    f"{first.label!r} (line {first.line})",
                    code="examples_duplicate",
                )
            )


def _expected(content: Content) -> dict[tuple[str, str], tuple[str, int]]:
    """(msgctxt, msgid) -> where the source text lives."""
    found: dict[tuple[str, str], tuple[str, int]] = {}
    files = {node.id: node.file for node in content.dialogs.nodes.values()}
    for line, _func, (ctx, msgid), _comments in dialog_messages(content.dialogs.nodes.values()):
        node_id = ctx.split(":", 1)[0]
        found[(ctx, msgid)] = (files.get(node_id, ""), line)
    for text in code_texts():
        found[(text.context, text.msgid)] = (STRINGS_FILE, 0)
    return found


def _coverage(
    catalog: Catalog,
    path: str,
    locale: str,
    expected: dict[tuple[str, str], tuple[str, int]],
    report: CheckReport,
) -> LocaleStats:
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


def _check_translations(
    catalog: Catalog,
    path: str,
    locale: str,
    expected: dict[tuple[str, str], tuple[str, int]],
    report: CheckReport,
) -> None:
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


def _check_sms(content: Content, config: Config, locales: list[str], report: CheckReport) -> None:
    renderer = Renderer(content, config.organization, config.content.last_reviewed)
    budget = config.sms.segment_budget
    engine = content.engine
    for node in content.dialogs.nodes.values():
        for locale in locales:
            # The longest form a page takes: with the one-time disclaimer on topic pages.
            plan = engine.page(node.id, locale)
            reply = renderer.render(plan, locale)
            fold = config.sms.fold_accents.get(locale, False)
            sms = render_sms(reply, fold_accents=fold)
            info = segment_info(sms)
            entry: dict[str, Any] = {
                "id": node.id,
                "locale": locale,
                "sms": {"text": sms, "encoding": info.encoding, "segments": info.segments},
            }
            folded = render_sms(reply, fold_accents=True)
            folded_info = segment_info(folded)
            entry["sms_folded"] = {
                "encoding": folded_info.encoding,
                "segments": folded_info.segments,
            }
            report.messages.append(entry)
            where = _where(content, node.file, node.line, locale, node.say_context, node.say)
            if info.segments > budget:
                report.errors.append(
                    Problem(
                        where[0],
                        where[1],
                        f"{node.id} in {locale} takes {info.segments} SMS segments "
                        f"({info.encoding}); the budget is {budget}",
                        hint="shorten it or move part to a 'more:' page"
                        + (
                            f"; folding accents would make it {folded_info.segments}"
                            if folded_info.segments < info.segments
                            else ""
                        ),
                        code="sms_budget",
                    )
                )
            if len(reply.text) > TELEGRAM_LIMIT:
                report.errors.append(
                    Problem(
                        where[0],
                        where[1],
                        f"{node.id} in {locale} is longer than one Telegram message",
                        code="telegram_length",
                    )
                )


def _check_system_sms(
    content: Content, config: Config, locales: list[str], report: CheckReport
) -> None:
    """The replies the bot writes itself (not understood, apology...) obey the budget too."""
    renderer = Renderer(content, config.organization, config.content.last_reviewed)
    budget = config.sms.segment_budget
    for locale in locales:
        for name, plan in content.engine.system_pages(locale).items():
            reply = renderer.render(plan, locale)
            sms = render_sms(reply, fold_accents=config.sms.fold_accents.get(locale, False))
            info = segment_info(sms)
            report.messages.append(
                {
                    "id": name,
                    "locale": locale,
                    "sms": {"text": sms, "encoding": info.encoding, "segments": info.segments},
                }
            )
            if info.segments > budget:
                first = plan.lines[0].text if plan.lines else None
                where = (
                    _where(content, STRINGS_FILE, 0, locale, first.context, first.msgid)
                    if first is not None
                    else (STRINGS_FILE, 0)
                )
                report.errors.append(
                    Problem(
                        where[0],
                        where[1],
                        f"{name} in {locale} takes {info.segments} SMS segments "
                        f"({info.encoding}); the budget is {budget}",
                        hint="shorten the system texts it is made of",
                        code="sms_budget",
                    )
                )


def _where(
    content: Content, file: str, line: int, locale: str, context: str, msgid: str
) -> tuple[str, int]:
    if locale == SOURCE_LOCALE:
        return file, line
    catalog = content.catalogs[locale].catalog
    message = catalog.get(msgid, context=context) if catalog is not None else None
    if message is not None and message.lineno is not None:
        return content.catalogs[locale].path, message.lineno + 1
    return content.catalogs[locale].path, 0


def format_report(report: CheckReport) -> str:
    """Human-readable report: errors, warnings (abridged), coverage, SMS summary."""
    lines: list[str] = []
    for problem in report.errors:
        lines.append(f"error: {problem}")
    warnings_by_code: dict[str, list[Problem]] = {}
    for problem in report.warnings:
        warnings_by_code.setdefault(problem.code, []).append(problem)
    for code, problems in warnings_by_code.items():
        for problem in problems[:10]:
            lines.append(f"warning: {problem}")
        if len(problems) > 10:
            lines.append(f"warning: ... and {len(problems) - 10} more '{code}' warnings")
    for locale, stats in report.locales.items():
        total = stats.translated + stats.fuzzy + stats.missing
        share = 100.0 * stats.translated / total if total else 100.0
        lines.append(
            f"{locale}: {stats.translated} translated ({share:.0f}%), {stats.fuzzy} fuzzy, "
            f"{stats.missing} missing, {stats.obsolete} obsolete"
        )
    if report.messages:
        worst = max(report.messages, key=lambda m: m["sms"]["segments"])
        lines.append(
            f"SMS: {len(report.messages)} pages checked; longest is {worst['id']} "
            f"({worst['locale']}) at {worst['sms']['segments']} segments, "
            f"{worst['sms']['encoding']}"
        )
    for locale, counts in report.examples.items():
        if counts:
            topics = {k: v for k, v in counts.items() if k != OUT_OF_SCOPE}
            lines.append(
                f"{locale} examples: {sum(counts.values())} ({len(topics)} labels, "
                f"fewest {min(topics.values(), default=0)}, out of scope "
                f"{counts.get(OUT_OF_SCOPE, 0)})"
            )
    verdict = "OK" if report.ok else f"{len(report.errors)} error(s)"
    lines.append(f"{verdict} ({report.seconds:.2f}s)")
    return "\n".join(lines)
