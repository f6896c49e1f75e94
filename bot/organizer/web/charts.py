"""Charts drawn on the server as SVG: stacked bars per week, with the numbers as a table.

No chart library and no script: a chart is a small SVG string the page embeds, with a
title for screen readers, and the same numbers go in a table beside it (the template
renders :class:`Chart` both ways), so nothing is only in the picture.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from typing import Final

PALETTE: Final = ("#1f5fa8", "#c2571a", "#2e7d32", "#7b3fa0", "#8a6d00", "#5c5c5c")
"""Series colours: dark enough for white text nearby, told apart also by the legend order."""

_WIDTH: Final = 640
_HEIGHT: Final = 240
_LEFT: Final = 44
_BOTTOM: Final = 36
_TOP: Final = 12


@dataclass(frozen=True, slots=True)
class Chart:
    """One chart's numbers: a value per column (week) for each series (language, channel).

    Attributes:
        key: a short id for the page (``"by-language"``).
        title: what it shows, in the reader's language.
        columns: the column labels (weeks), in order.
        series: ``(name, values)`` pairs, one value per column.
    """

    key: str
    title: str
    columns: tuple[str, ...]
    series: tuple[tuple[str, tuple[int, ...]], ...]

    def totals(self) -> list[int]:
        """Each column's total over the series."""
        return [sum(values[i] for _name, values in self.series) for i in range(len(self.columns))]

    @property
    def empty(self) -> bool:
        """Whether there is nothing to draw."""
        return not self.columns or not any(self.totals())


def _nice_top(value: int) -> int:
    """A round number at or above ``value`` for the scale's top."""
    if value <= 5:
        return max(value, 1)
    magnitude: int = 10 ** (len(str(value)) - 1)
    for step in (1, 2, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return value  # pragma: no cover


def svg(chart: Chart) -> str:
    """The chart as an SVG element: stacked bars, a scale, week labels and a legend."""
    totals = chart.totals()
    top = _nice_top(max(totals, default=0))
    plot_w = _WIDTH - _LEFT - 8
    plot_h = _HEIGHT - _BOTTOM - _TOP
    count = max(len(chart.columns), 1)
    slot = plot_w / count
    bar = max(slot * 0.6, 2.0)
    title_id = f"chart-{escape(chart.key)}-title"
    parts = [
        f'<svg class="chart" viewBox="0 0 {_WIDTH} {_HEIGHT + 22 * len(chart.series)}" '
        f'role="img" aria-labelledby="{title_id}" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{title_id}">{escape(chart.title)}</title>',
    ]
    for fraction in (0.0, 0.5, 1.0) if top % 2 == 0 else (0.0, 1.0):
        y = _TOP + plot_h * (1 - fraction)
        parts.append(
            f'<line x1="{_LEFT}" x2="{_WIDTH - 8}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
            f'<text x="{_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{round(top * fraction)}</text>"
        )
    for i, column in enumerate(chart.columns):
        x = _LEFT + slot * i + (slot - bar) / 2
        base: float = _TOP + plot_h
        for s, (_name, values) in enumerate(chart.series):
            height = plot_h * values[i] / top if top else 0.0
            if height <= 0:
                continue
            base -= height
            colour = PALETTE[s % len(PALETTE)]
            parts.append(
                f'<rect x="{x:.1f}" y="{base:.1f}" width="{bar:.1f}" height="{height:.1f}" '
                f'fill="{colour}"/>'
            )
        if count <= 12 or i % 2 == 0:
            parts.append(
                f'<text x="{x + bar / 2:.1f}" y="{_TOP + plot_h + 16}" '
                f'text-anchor="middle">{escape(column)}</text>'
            )
    for s, (name, _values) in enumerate(chart.series):
        y = _HEIGHT + 22 * s
        colour = PALETTE[s % len(PALETTE)]
        parts.append(
            f'<rect x="{_LEFT}" y="{y - 10}" width="12" height="12" fill="{colour}"/>'
            f'<text x="{_LEFT + 18}" y="{y}">{escape(name)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def stacked(
    key: str,
    title: str,
    columns: Sequence[str],
    series: Sequence[tuple[str, Sequence[int]]],
) -> Chart:
    """A :class:`Chart` from plain sequences."""
    return Chart(
        key=key,
        title=title,
        columns=tuple(columns),
        series=tuple((name, tuple(values)) for name, values in series),
    )
