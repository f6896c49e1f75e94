"""What the WhatsApp channel can do and what a message costs there, from config alone.

Free-form messages (inside the 24-hour window) and template messages (outside it) are priced
apart: ``twilio.whatsapp.price_per_message`` and ``price_per_template``. A broadcast preview
shows both (:mod:`bot.channels.whatsapp.window`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Final

from bot.channels.capabilities import Capabilities, CostEstimate
from bot.channels.whatsapp.render import render_whatsapp_parts
from bot.config import Config
from bot.messages import Reply
from bot.sms_text import MAX_MESSAGE_CHARS

CHANNEL: Final = "whatsapp"
"""The :attr:`~bot.messages.Address.channel` of every WhatsApp address."""


@dataclass(frozen=True, slots=True)
class WhatsAppCosts:
    """The WhatsApp :class:`~bot.channels.capabilities.CostModel`: one unit per message body.

    Attributes:
        price_per_message: US dollars per free-form message (inside the window).
        price_per_template: US dollars per template message (outside the window).
    """

    price_per_message: float
    price_per_template: float

    def estimate(self, text: str, locale: str) -> CostEstimate:
        """Free-form: the bodies as sent, one unit each; ``alternative``: as one template."""
        bodies = tuple(render_whatsapp_parts(Reply(text=text, locale=locale)))
        template = CostEstimate(units=1.0, unit_price=self.price_per_template, bodies=(text,))
        return CostEstimate(
            units=float(len(bodies)),
            unit_price=self.price_per_message,
            bodies=bodies,
            alternative=template,
        )


WHATSAPP_CAPABILITIES: Final = Capabilities(
    buttons=False,
    max_text_length=MAX_MESSAGE_CHARS,
    delivery_reports=True,
    display_name="WhatsApp",
    reply_window_hours=24,
)
"""What every WhatsApp channel can do, whatever the config."""


def whatsapp_capabilities(config: Config) -> Capabilities:
    """The WhatsApp channel's capabilities under ``config``: its rate and its prices."""
    whatsapp = config.twilio.whatsapp
    costs = WhatsAppCosts(whatsapp.price_per_message, whatsapp.price_per_template)
    return replace(
        WHATSAPP_CAPABILITIES,
        send_rate=whatsapp.messages_per_second,
        costs=costs,
        reply_window_hours=whatsapp.window_hours,
        window_templates=frozenset(whatsapp.templates),
    )
