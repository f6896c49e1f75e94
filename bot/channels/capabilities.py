"""What a channel can do, and what a text costs on it, as data (no method that raises).

:class:`Capabilities` is on every channel instance (its config decides the rate and prices)
and, through :func:`bot.channels.registry.describe`, available without one: a broadcast
preview prices SMS, and a report names every channel, on a machine that has not configured
them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol


class SendUnit(enum.Enum):
    """What a channel's send rate counts."""

    MESSAGES = "messages"
    SEGMENTS = "segments"
    """SMS segments: a long or accented message costs several."""


@dataclass(frozen=True, slots=True)
class CostEstimate:
    """What one text costs to send to one person on a channel, and how it goes out.

    Attributes:
        units: what the send rate counts (messages, or SMS segments).
        unit_price: US dollars per unit (``sms.price_per_segment``; 0 where sending is free).
        bodies: the text as the person receives it, one body per message.
        encoding: the SMS encoding of the bodies (``"GSM-7"`` or ``"UCS-2"``), where one applies.
        folded: the bodies have accents folded (á written a), where the channel does that.
        alternative: the same text rendered the channel's other way (accent folding flipped),
            where it has one.
    """

    units: float
    unit_price: float
    bodies: tuple[str, ...]
    encoding: str | None = None
    folded: bool = False
    alternative: CostEstimate | None = None

    @property
    def price(self) -> float:
        """US dollars for one recipient."""
        return self.units * self.unit_price

    @property
    def text(self) -> str:
        """The bodies as one text (one body unless the channel splits it)."""
        return "\n\n".join(self.bodies)


class CostModel(Protocol):
    """How a channel prices and paces a text, computed from config alone (no connection)."""

    def estimate(self, text: str, locale: str) -> CostEstimate:
        """What ``text`` in ``locale`` costs to send to one person."""
        ...


@dataclass(frozen=True, slots=True)
class PerMessage:
    """A :class:`CostModel` for channels that send a text as one message at a flat price."""

    price: float = 0.0

    def estimate(self, text: str, locale: str) -> CostEstimate:
        """One unit at :attr:`price`; the body is the text as written."""
        return CostEstimate(units=1.0, unit_price=self.price, bodies=(text,))


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a channel can do, as data: the service, renderers, broadcasts and reports adapt.

    A capability a channel lacks is ``False`` or ``None`` here, never a method that raises.
    """

    buttons: bool
    """Choices become native buttons; otherwise they are numbered in the text."""
    max_text_length: int
    """Longer texts are split by the adapter (Telegram 4096; Twilio 1600 per message)."""
    commands: bool = False
    """The platform has slash commands (Telegram)."""
    delivery_reports: bool = False
    """The provider reports delivery later (Twilio status callbacks)."""
    display_name: str = ""
    """The channel's name in organizer reports ("SMS", "Telegram")."""
    carrier_help: bool = False
    """HELP is answered with the short service notice carriers require (SMS), not a page."""
    send_rate: float | None = None
    """Sends per second allowed, in :attr:`send_unit`; ``None``: no limit."""
    send_unit: SendUnit = SendUnit.MESSAGES
    costs: CostModel = PerMessage()
    """Units and price of a text, for pacing and for broadcast previews."""
    reply_window_hours: float | None = None
    """Free-form messages may go only this long after the person last wrote (WhatsApp: 24);
    the time of each person's last message is then kept. ``None``: no window."""
    window_templates: frozenset[str] = frozenset()
    """Text locales with an approved template for outside the window; recipients outside it
    in other locales are left out of a broadcast. ``costs`` prices a template as the
    estimate's ``alternative``."""
    text_handoff: bool = True
    """A person can write with a volunteer here (docs/HANDOFF.md); ``False`` (voice): the bot
    gives the hotline to call instead of opening a ticket."""
    reply_units_limit: float | None = None
    """The most :attr:`send_unit` one reply may take (SMS: ``sms.segment_budget``); None: any."""
