"""The console's content page: translations, ``kyrbot check``, routing figures, review dates.

It shows translation coverage and check results per locale, the routing figures from the
last evaluation, and the review dates the about page shows.

The check itself belongs to :mod:`bot.checks`, above this layer: the composition root hands
the page a function that runs it (:data:`StatusSource`), and the page shows what it returns.
Routing figures are read from the last row of the figures table in ``docs/ROUTING.md``
(``console.routing_figures``), where each evaluation run is recorded.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from aiohttp import web
from babel.dates import format_date

from bot.content.i18n import babel_locale
from bot.organizer.web import texts as T
from bot.organizer.web.guard import Guard, Visit
from bot.organizer.web.pages import Pages
from bot.routes import Route


@dataclass(frozen=True, slots=True)
class LocaleStatus:
    """One language's translation coverage and check results."""

    locale: str
    source: bool = False
    """The source language (English): nothing to translate, so no coverage is shown."""
    translated: int = 0
    fuzzy: int = 0
    missing: int = 0
    errors: int = 0
    warnings: int = 0


@dataclass(frozen=True, slots=True)
class ContentStatus:
    """What ``kyrbot check`` found, per language, and its first problems."""

    locales: tuple[LocaleStatus, ...]
    errors: int
    warnings: int
    problems: tuple[str, ...] = field(default_factory=tuple)


StatusSource = Callable[[], Awaitable[ContentStatus | None]]
"""Returns the content check's results (``None`` while it is still running)."""


@dataclass(frozen=True, slots=True)
class RoutingFigures:
    """The last row of the routing figures table: its header and cells."""

    header: tuple[str, ...]
    row: tuple[str, ...]


def routing_figures(path: Path) -> RoutingFigures | None:
    """The last row of the first Markdown table whose header starts ``| date |``, or None."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    header: tuple[str, ...] | None = None
    last: tuple[str, ...] | None = None
    for line in lines:
        stripped = line.strip()
        if not stripped.startswith("|"):
            if last is not None:
                break  # the end of the figures table
            continue
        cells = tuple(cell.strip().replace("**", "") for cell in stripped.strip("|").split("|"))
        if header is None:
            if cells and cells[0].lower() == "date":
                header = cells
        elif not all(set(cell) <= set("-: ") for cell in cells):
            last = cells
    if header is None or last is None:
        return None
    return RoutingFigures(header, last)


@dataclass(frozen=True, slots=True)
class ContentPages:
    """The content status page.

    Attributes:
        status: runs (or returns the cached) content check.
        routing_file: where the routing figures table is.
        last_reviewed: ``content.last_reviewed``.
        legal_review: ``content.legal_review``.
        guard: lets only organizers in.
        pages: renders the templates.
    """

    status: StatusSource
    routing_file: Path
    last_reviewed: date | None
    legal_review: date | None
    guard: Guard
    pages: Pages

    def routes(self) -> list[Route]:
        """The routes this page answers."""
        return [Route("GET", "/console/content", self.guard.guarded(self.content))]

    async def content(self, _request: web.Request, visit: Visit) -> web.StreamResponse:
        """Coverage, check results, routing figures and review dates."""
        words = visit.words
        locale = babel_locale(words.locale)
        reviewed = (
            words(T.LAST_REVIEWED, date=format_date(self.last_reviewed, "long", locale=locale))
            if self.last_reviewed is not None
            else words(T.NOT_REVIEWED)
        )
        legal = (
            words(T.LEGAL_REVIEW, date=format_date(self.legal_review, "long", locale=locale))
            if self.legal_review is not None
            else words(T.NO_LEGAL_REVIEW)
        )
        status = await self.status()
        rows: Sequence[dict[str, str]] = []
        if status is not None:
            rows = [
                {
                    "language": words.language(s.locale, capital=True),
                    "translated": "—" if s.source else words.number(s.translated),
                    "fuzzy": "—" if s.source else words.number(s.fuzzy),
                    "missing": "—" if s.source else words.number(s.missing),
                    "errors": words.number(s.errors),
                    "warnings": words.number(s.warnings),
                }
                for s in status.locales
            ]
        return self.pages.render(
            "content.html",
            words,
            status=200,
            check=status,
            rows=rows,
            routing=routing_figures(self.routing_file),
            routing_file=str(self.routing_file),
            reviewed=reviewed,
            legal=legal,
            organizer=visit.organizer,
            csrf=visit.csrf,
        )
