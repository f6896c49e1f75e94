"""Office hours: whether a volunteer is on duty at a moment, and the hours in plain words."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time
from zoneinfo import ZoneInfo

from babel.dates import format_time, get_day_names

from bot.config import HandoffConfig, parse_days


@dataclass(frozen=True, slots=True)
class Window:
    """Volunteers answer on ``days`` (Monday 0) from ``start`` until ``end``, local time."""

    days: frozenset[int]
    start: time
    end: time


@dataclass(frozen=True, slots=True)
class OfficeHours:
    """When someone is on duty; no windows at all means always (``handoff.office_hours``)."""

    windows: tuple[Window, ...]
    zone: ZoneInfo

    @classmethod
    def from_config(cls, config: HandoffConfig) -> OfficeHours:
        """The hours ``handoff.office_hours`` and ``handoff.timezone`` describe."""
        windows = tuple(Window(parse_days(w.days), w.start, w.end) for w in config.office_hours)
        return cls(windows, ZoneInfo(config.timezone))

    @property
    def always(self) -> bool:
        """True when no hours are configured: someone is always on duty."""
        return not self.windows

    def on_duty(self, now: datetime) -> bool:
        """Whether a volunteer answers at ``now`` (timezone-aware)."""
        if self.always:
            return True
        local = now.astimezone(self.zone)
        moment = local.time().replace(tzinfo=None)
        return any(local.weekday() in w.days and w.start <= moment < w.end for w in self.windows)

    def describe(self, locale: str) -> str:
        """The hours in ``locale``'s words, such as ``lun.-vie. 9:00-17:00``; "" if always."""
        names = get_day_names("abbreviated", locale=locale)
        parts = []
        for window in self.windows:
            parts.append(
                f"{_days(window.days, names)} "
                f"{format_time(window.start, 'H:mm', locale=locale)}-"
                f"{format_time(window.end, 'H:mm', locale=locale)}"
            )
        return ", ".join(parts)


def _days(days: frozenset[int], names: object) -> str:
    ordered: Sequence[int] = sorted(days)
    label = [str(names[d]) for d in ordered]  # type: ignore[index]
    contiguous = ordered == list(range(ordered[0], ordered[-1] + 1))
    if len(ordered) > 2 and contiguous:
        return f"{label[0]}-{label[-1]}"
    return ", ".join(label)
