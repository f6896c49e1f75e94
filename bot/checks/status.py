"""``kyrbot check`` for the web console's content page: run once in a thread, then cached."""

from __future__ import annotations

import asyncio
import logging
import re

from bot.checks.report import CheckReport
from bot.checks.run import run_checks
from bot.config import Config
from bot.content.i18n import SOURCE_LOCALE
from bot.errors import Problem
from bot.organizer.web.content_pages import ContentStatus, LocaleStatus

logger = logging.getLogger(__name__)

_PROBLEMS_SHOWN = 20


def content_status(report: CheckReport, locales: list[str]) -> ContentStatus:
    """A check report as the content page shows it: per locale, and the first problems."""

    def count(problems: list[Problem], locale: str) -> int:
        return sum(1 for p in problems if _locale_of(p, locales) in (locale, None))

    rows = []
    for locale in locales:
        stats = report.locales.get(locale)
        rows.append(
            LocaleStatus(
                locale=locale,
                source=locale == SOURCE_LOCALE,
                translated=stats.translated if stats else 0,
                fuzzy=stats.fuzzy if stats else 0,
                missing=stats.missing if stats else 0,
                errors=count(report.errors, locale),
                warnings=count(report.warnings, locale),
            )
        )
    problems = tuple(str(p) for p in [*report.errors, *report.warnings][:_PROBLEMS_SHOWN])
    return ContentStatus(
        locales=tuple(rows),
        errors=len(report.errors),
        warnings=len(report.warnings),
        problems=problems,
    )


def _locale_of(problem: Problem, locales: list[str]) -> str | None:
    """The locale a problem is about, from its file (``locales/es/...``); None: all of them."""
    for locale in locales:
        if locale != SOURCE_LOCALE and re.search(rf"(^|/){re.escape(locale)}(/|\.)", problem.file):
            return locale
    return None


class CheckStatus:
    """Runs the content check at most once per content version, off the event loop.

    Args:
        config: the config ``kyrbot serve`` runs with.
    """

    def __init__(self, config: Config) -> None:
        self._config = config
        self._task: asyncio.Task[ContentStatus] | None = None

    def refresh(self) -> None:
        """Check again on the next request (after a content reload)."""
        self._task = None

    async def __call__(self) -> ContentStatus | None:
        """The check's results; ``None`` while the first run is still going."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())
        if not self._task.done():
            return None
        try:
            return self._task.result()
        except Exception:
            logger.exception("The content check failed")
            self._task = None
            return None

    async def _run(self) -> ContentStatus:
        report = await asyncio.to_thread(run_checks, self._config)
        return content_status(report, list(self._config.locales))
