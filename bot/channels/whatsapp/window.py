"""WhatsApp's 24-hour window: free-form inside it, the approved template per locale outside.

"A messaging session starts when a user sends your application a message, and lasts for 24
hours from the most recently received message" (Twilio). Outside it only an approved template
may start a conversation; a free-form message fails with 63016. :func:`broadcast_form` decides,
from the time of the person's last message, how one broadcast reaches them: as written, as the
locale's template (``twilio.whatsapp.templates``), or not at all when that locale has none.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.config import WhatsAppTemplateConfig
from bot.messages import Reply


@dataclass(frozen=True, slots=True)
class TemplateReply(Reply):
    """A reply that goes as an approved WhatsApp template, ``variable`` filling ``{{1}}``."""

    content_sid: str = ""
    variable: str = ""


class Form(enum.Enum):
    """How one broadcast message reaches one WhatsApp recipient."""

    FREE_FORM = "free-form"
    TEMPLATE = "template"
    LEFT_OUT = "left out"
    """Outside the window in a locale with no template: never attempted."""


def in_window(last_inbound_at: datetime | None, now: datetime, *, hours: float = 24) -> bool:
    """Whether a free-form message may go now, the person's last message being at that time."""
    return last_inbound_at is not None and now - last_inbound_at < timedelta(hours=hours)


def form_for(
    locale: str,
    last_inbound_at: datetime | None,
    now: datetime,
    templates: Mapping[str, WhatsAppTemplateConfig],
    *,
    hours: float = 24,
) -> Form:
    """How a broadcast in ``locale`` reaches someone whose last message was at that time."""
    if in_window(last_inbound_at, now, hours=hours):
        return Form.FREE_FORM
    return Form.TEMPLATE if locale in templates else Form.LEFT_OUT


def broadcast_form(
    reply: Reply,
    last_inbound_at: datetime | None,
    now: datetime,
    templates: Mapping[str, WhatsAppTemplateConfig],
    notices: Mapping[str, str],
    *,
    hours: float = 24,
) -> Reply | None:
    """The reply to send for a broadcast, or ``None`` when it must be left out.

    Args:
        reply: the broadcast's text in the recipient's language.
        last_inbound_at: the time of the person's last message (``None``: never recorded).
        now: the current time.
        templates: ``twilio.whatsapp.templates``.
        notices: the short "there is an update" notice per locale, for templates whose
            variable is ``notice``.
        hours: ``twilio.whatsapp.window_hours``.
    """
    form = form_for(reply.locale, last_inbound_at, now, templates, hours=hours)
    if form is Form.FREE_FORM:
        return reply
    if form is Form.LEFT_OUT:
        return None
    template = templates[reply.locale]
    variable = reply.text if template.variable == "text" else notices.get(reply.locale, "")
    return TemplateReply(
        text=reply.text,
        locale=reply.locale,
        content_sid=template.content_sid,
        variable=variable or reply.text,
    )
