"""The report ``kyrbot check`` prints: coverage, problems, SMS cost, examples."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.content.examples import OUT_OF_SCOPE
from bot.errors import Problem

TELEGRAM_LIMIT = 4096


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
    voice: list[dict[str, Any]] = field(default_factory=list)
    """Per page and locale: about how many seconds it takes to say on a call."""
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
            "voice": self.voice,
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


TYPICAL_CONVERSATION = ("menu", "emergency", "door", "traffic_stop", "arrested")
"""The pages of a typical first conversation, for the SMS cost line of the report."""


def typical_cost(report: CheckReport) -> dict[str, tuple[int, int]]:
    """Per locale: SMS segments of a typical conversation with accents folded, and kept."""
    wanted = {f"kyr.{name}" for name in TYPICAL_CONVERSATION}
    costs: dict[str, tuple[int, int]] = {}
    for entry in report.messages:
        if entry["id"] in wanted:
            folded, kept = costs.get(entry["locale"], (0, 0))
            costs[entry["locale"]] = (
                folded + entry["sms_folded"]["segments"],
                kept + entry["sms_accents"]["segments"],
            )
    return costs


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
    if report.voice:
        longest = max(report.voice, key=lambda v: v["seconds"])
        lines.append(
            f"Voice: {len(report.voice)} pages checked; longest is {longest['id']} "
            f"({longest['locale']}) at about {longest['seconds']} s"
        )
    for locale, (folded, kept) in typical_cost(report).items():
        lines.append(
            f"{locale} typical conversation by SMS ({len(TYPICAL_CONVERSATION)} pages): "
            f"{folded} segments with accents folded, {kept} with every accent"
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
