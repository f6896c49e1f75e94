"""What sending a broadcast would do: who gets which text, and what it costs on each channel."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from bot.broadcast.drafts import FALLBACK_LOCALE
from bot.channels.capabilities import Capabilities, CostEstimate
from bot.storage.base import (
    Broadcast,
)


@dataclass(frozen=True, slots=True)
class SmsForm:
    """One text as an SMS: the bodies as they arrive, their encoding and segment count."""

    bodies: tuple[str, ...]
    encoding: str
    segments: int

    @property
    def text(self) -> str:
        """The bodies as one text (one body unless it is over 1,600 characters)."""
        return "\n\n".join(self.bodies)


def sms_form(estimate: CostEstimate) -> SmsForm:
    """How a text is sent by SMS, from the SMS channel's estimate for it."""
    return SmsForm(estimate.bodies, estimate.encoding or "", int(estimate.units))


@dataclass(frozen=True, slots=True)
class SmsCost:
    """What one language's text costs by SMS, as configured and with the folding flipped."""

    locale: str
    form: SmsForm
    folded: bool
    """Whether ``sms.fold_accents`` is on for this language."""
    other: SmsForm
    """The same text with accent folding the other way."""


@dataclass(frozen=True, slots=True)
class WindowSplit:
    """How a channel with a reply window (WhatsApp) reaches its subscribers, counted.

    Each mapping is recipients' language -> how many; the costs are in US dollars for all.
    """

    free_form: dict[str, int]
    """Inside the window: the text as written."""
    template: dict[str, int]
    """Outside it, in a language with an approved template."""
    left_out: dict[str, int]
    """Outside it, in a language with no template: left out, never attempted."""
    free_form_cost: float = 0.0
    template_cost: float = 0.0


@dataclass(frozen=True, slots=True)
class Preview:
    """What sending a broadcast would do: who gets which text, and what SMS costs."""

    broadcast: Broadcast
    audience: dict[str, dict[str, int]]
    """Channel -> recipients' language -> how many (counted, never listed)."""
    text_locale: dict[str, str]
    """Recipients' language -> the language of the text they get."""
    sms: dict[str, SmsCost]
    """Text language -> its cost on :attr:`segment_channel`."""
    price_per_segment: float
    telegram_texts: dict[str, str] = field(default_factory=dict)
    channels: Mapping[str, Capabilities] = field(default_factory=dict)
    """What each channel can do (display names, units)."""
    segment_channel: str | None = None
    """The channel counted and priced in SMS segments, whose costs :attr:`sms` holds."""
    windows: dict[str, WindowSplit] = field(default_factory=dict)
    """Channel with a reply window -> how its recipients are reached."""

    @property
    def sms_audience(self) -> dict[str, int]:
        """Recipients' language -> how many, on :attr:`segment_channel`."""
        return self.audience.get(self.segment_channel or "", {})

    @property
    def total(self) -> int:
        """Everyone who would get it."""
        return sum(sum(by_locale.values()) for by_locale in self.audience.values())

    @property
    def missing(self) -> list[str]:
        """Configured languages with no text of their own (their readers get English)."""
        return [loc for loc, target in self.text_locale.items() if target != loc]

    def sms_segments(self, *, flipped: bool = False) -> int:
        """Segments for every SMS recipient, as configured (or with folding flipped)."""
        total = 0
        for locale, count in self.sms_audience.items():
            cost = self.sms[self.text_locale.get(locale, FALLBACK_LOCALE)]
            total += count * (cost.other.segments if flipped else cost.form.segments)
        return total

    def sms_cost(self, *, flipped: bool = False) -> float:
        """Estimated SMS cost in USD (``sms.price_per_segment`` per segment)."""
        return self.sms_segments(flipped=flipped) * self.price_per_segment
