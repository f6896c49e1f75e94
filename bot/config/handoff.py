"""The handoff section of the config: the volunteers' group, who answers, office hours."""

from __future__ import annotations

from datetime import time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator

from bot.config.section import Section as _Section

_DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def parse_days(text: str) -> frozenset[int]:
    """Weekday numbers (Monday 0) from ``"mon-fri"``, ``"sat,sun"`` or ``"mon-wed, fri"``.

    Raises:
        ValueError: a name is not a three-letter English day name.
    """
    days: set[int] = set()
    for part in text.lower().replace(" ", "").split(","):
        first, _, last = part.partition("-")
        if first not in _DAY_NAMES or (last and last not in _DAY_NAMES):
            raise ValueError(f"{part!r} is not a day or range of days such as mon-fri")
        start, end = _DAY_NAMES.index(first), _DAY_NAMES.index(last or first)
        days.update((start + i) % 7 for i in range((end - start) % 7 + 1))
    return frozenset(days)


class OfficeHoursWindow(_Section):
    """When volunteers answer on some days (``handoff.office_hours[]``)."""

    days: str
    """Days as ``mon-fri``, ``sat,sun`` or ``mon``."""
    start: time
    """Local time (``handoff.timezone``) from which volunteers answer, ``"09:00"``."""
    end: time
    """Local time until which they answer, ``"17:00"`` (after ``start``)."""

    @field_validator("days")
    @classmethod
    def _days_are_days(cls, value: str) -> str:
        parse_days(value)
        return value

    def model_post_init(self, __context: Any) -> None:
        """Check that the window ends after it starts."""
        if self.end <= self.start:
            raise ValueError(f"end {self.end} is not after start {self.start}")


class HandoffConfig(_Section):
    """Talking to a volunteer through a Telegram group (``handoff.*``); docs/HANDOFF.md."""

    telegram_chat_id: int | None = None
    """The volunteers' Telegram group. Unset: the bot offers only the phone numbers."""
    volunteer_ids: list[int] | None = None
    """Telegram user ids allowed to answer in that group; default ``organizers.telegram_ids``."""
    office_hours: list[OfficeHoursWindow] = Field(default_factory=list)
    """When someone is on duty; none listed: always."""
    timezone: str = "UTC"
    """The zone ``office_hours`` are written in, such as ``America/Chicago``."""
    idle_minutes: int = Field(default=30, ge=1)
    """A ticket nobody wrote in for this long is closed, with a message to the person."""
    group_messages_per_minute: float = Field(default=20, gt=0, le=20)
    """Messages the bot sends to the group per minute at most (Telegram allows 20)."""

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"{value!r} is not a known time zone (such as America/Chicago)"
            ) from None
        return value
