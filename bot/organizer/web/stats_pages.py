"""The console's stats page: topics per week by language and channel, misses, subscribers.

The weekly numbers are :meth:`BroadcastService.weekly_stats`' (what ``kyrbot stats`` and
``/stats`` show); subscribers come from the console store. Each chart is drawn by
:mod:`bot.organizer.web.charts` with its numbers in a table beside it.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from aiohttp import web
from babel.dates import format_date

from bot.broadcast.drafts import utcnow
from bot.broadcast.outcomes import WeekCount
from bot.broadcast.service import BroadcastService
from bot.broadcast.words import Words
from bot.content.i18n import babel_locale
from bot.conversation.service import NOT_UNDERSTOOD_TOPIC
from bot.organizer.web import texts as T
from bot.organizer.web.charts import Chart, stacked, svg
from bot.organizer.web.guard import Guard, Visit
from bot.organizer.web.pages import Pages
from bot.routes import Route
from bot.storage.console import ConsoleStore, GrowthRow

WEEKS = 8


@dataclass(frozen=True, slots=True)
class StatsPages:
    """The stats page.

    Attributes:
        service: the broadcast service (weekly topic counts, channel names).
        store: subscriber counts.
        guard: lets only organizers in.
        pages: renders the templates.
        now: the clock.
    """

    service: BroadcastService
    store: ConsoleStore
    guard: Guard
    pages: Pages
    now: Callable[[], datetime] = utcnow

    def routes(self) -> list[Route]:
        """The routes this page answers."""
        return [Route("GET", "/console/stats", self.guard.guarded(self.stats))]

    async def stats(self, _request: web.Request, visit: Visit) -> web.StreamResponse:
        """Four charts, each with its table, and the topics most opened."""
        words = visit.words
        today = self.now().date()
        rows = await self.service.weekly_stats(weeks=WEEKS, today=today)
        weeks = week_starts(today, WEEKS)
        labels = [format_date(w, format="d MMM", locale=babel_locale(words.locale)) for w in weeks]
        topics = [r for r in rows if r.node != NOT_UNDERSTOOD_TOPIC]
        misses = [r for r in rows if r.node == NOT_UNDERSTOOD_TOPIC]
        language = lambda r: words.language(r.locale, capital=True)  # noqa: E731
        channel = lambda r: self._channel_name(r.channel)  # noqa: E731
        charts = [
            _weekly("by-language", words(T.CHART_BY_LANGUAGE), weeks, labels, topics, language),
            _weekly("by-channel", words(T.CHART_BY_CHANNEL), weeks, labels, topics, channel),
            _weekly(
                "not-understood", words(T.CHART_NOT_UNDERSTOOD), weeks, labels, misses, language
            ),
            _growth(
                words(T.CHART_SUBSCRIBERS),
                weeks,
                labels,
                await self.store.subscriber_growth(),
                self._channel_name,
            ),
        ]
        totals = Counter[str]()
        for r in topics:
            totals[r.node] += r.count
        top = [(node, words.number(n)) for node, n in totals.most_common(15)]
        return self.pages.render(
            "stats.html",
            words,
            charts=[(chart, svg(chart), _table(chart, words)) for chart in charts],
            top=top,
            weeks=WEEKS,
            organizer=visit.organizer,
            csrf=visit.csrf,
        )

    def _channel_name(self, name: str) -> str:
        capabilities = self.service.channels.get(name)
        return capabilities.display_name if capabilities and capabilities.display_name else name


def week_starts(today: date, weeks: int) -> list[date]:
    """The Mondays of the last ``weeks`` weeks, oldest first (this week's last)."""
    monday = today - timedelta(days=today.weekday())
    return [monday - timedelta(weeks=weeks - 1 - i) for i in range(weeks)]


def _weekly(
    key: str,
    title: str,
    weeks: Sequence[date],
    labels: Sequence[str],
    rows: Sequence[WeekCount],
    series_of: Callable[[WeekCount], str],
) -> Chart:
    index = {week: i for i, week in enumerate(weeks)}
    values: dict[str, list[int]] = defaultdict(lambda: [0] * len(weeks))
    for r in rows:
        if r.week in index:
            values[series_of(r)][index[r.week]] += r.count
    return stacked(key, title, labels, sorted(values.items()))


def _growth(
    title: str,
    weeks: Sequence[date],
    labels: Sequence[str],
    rows: Sequence[GrowthRow],
    name_of: Callable[[str], str],
) -> Chart:
    values: dict[str, list[int]] = defaultdict(lambda: [0] * len(weeks))
    for r in rows:
        for i, week in enumerate(weeks):
            if r.day is None or r.day < week + timedelta(days=7):
                values[name_of(r.channel)][i] += r.count
    return stacked("subscribers", title, labels, sorted(values.items()))


def _table(chart: Chart, words: Words) -> dict[str, object]:
    """The chart's numbers as table rows: one per week, a column per series, and the total."""
    header = [words(T.COL_WEEK), *(name for name, _v in chart.series), words(T.COL_TOTAL)]
    totals = chart.totals()
    body = [
        [column, *(words.number(v[i]) for _n, v in chart.series), words.number(totals[i])]
        for i, column in enumerate(chart.columns)
    ]
    return {"header": header, "rows": body}
