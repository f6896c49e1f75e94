"""Checks of what free-text routing learns from, and of the numbers pages give."""

from __future__ import annotations

from bot.checks.report import CheckReport
from bot.config import Config
from bot.content.examples import MIN_PER_LABEL, OUT_OF_SCOPE
from bot.conversation.version import Content
from bot.errors import Problem


def check_examples(content: Content, locales: list[str], report: CheckReport) -> None:
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


def check_numbers(config: Config, report: CheckReport) -> None:
    """Warn when the numbers the emergency and person pages give are not configured."""
    for name in config.organization.unset_numbers():
        report.warnings.append(
            Problem(
                "config",
                0,
                f"organization.{name} is not set: the emergency and 'talk to a person' pages "
                "give no number to call",
                hint="set it in the config file before people use the bot",
                code="unset_number",
            )
        )
