"""WhatsApp's pieces on their own: layout, the window decision, Twilio's error codes, numbers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from twilio.base.exceptions import TwilioRestException

from bot.channels.twilio.numbers import sender_id, whatsapp_address
from bot.channels.whatsapp.errors import whatsapp_send_error
from bot.channels.whatsapp.render import render_whatsapp, render_whatsapp_parts
from bot.channels.whatsapp.window import Form, TemplateReply, broadcast_form, form_for
from bot.config import WhatsAppTemplateConfig
from bot.errors import PermanentSendError, RateLimited, RecipientUnreachable
from bot.messages import Choice, Reply
from bot.phone_numbers import to_e164

NOW = datetime(2026, 11, 3, 12, 0, tzinfo=UTC)
TEMPLATES = {"es": WhatsAppTemplateConfig(content_sid="HX" + "a1" * 16, variable="text")}


def test_choices_are_numbered_with_bold_keys_and_a_heading_is_bold():
    reply = Reply(
        "More topics:",
        choices=(Choice("a", "Know your rights"), Choice("b", "ICE at work")),
        nav=(Choice("c:menu", "Menu"), Choice("l:es", "Español")),
    )
    assert render_whatsapp(reply) == (
        "*More topics:*\n\n*1* Know your rights\n*2* ICE at work\n*0* Menu · Español"
    )


def test_a_long_reply_is_split_at_twilios_body_limit():
    text = "\n\n".join(f"Párrafo número {n}. " * 20 for n in range(10))
    parts = render_whatsapp_parts(Reply(text))
    assert len(parts) > 1 and all(len(part) <= 1600 for part in parts)
    assert " ".join(" ".join(parts).split()) == " ".join(text.split())  # nothing lost


@pytest.mark.parametrize(
    ("hours_ago", "locale", "form"),
    [
        (1, "es", Form.FREE_FORM),
        (23.9, "en", Form.FREE_FORM),
        (24, "es", Form.TEMPLATE),
        (None, "es", Form.TEMPLATE),
        (30, "en", Form.LEFT_OUT),
    ],
)
def test_the_window_decides_how_a_broadcast_goes(hours_ago, locale, form):
    last = None if hours_ago is None else NOW - timedelta(hours=hours_ago)
    assert form_for(locale, last, NOW, TEMPLATES) is form


def test_outside_the_window_the_update_text_fills_the_template():
    reply = Reply("Novedad.", locale="es")
    sent = broadcast_form(reply, NOW - timedelta(days=3), NOW, TEMPLATES, {})
    assert isinstance(sent, TemplateReply)
    assert (sent.content_sid, sent.variable) == (TEMPLATES["es"].content_sid, "Novedad.")
    assert broadcast_form(Reply("Update.", locale="en"), None, NOW, TEMPLATES, {}) is None


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        (63016, PermanentSendError),
        (63003, RecipientUnreachable),
        (63024, RecipientUnreachable),
        (63018, RateLimited),
        (63027, PermanentSendError),
        (21610, RecipientUnreachable),
    ],
)
def test_twilio_whatsapp_codes_become_typed_send_errors(code, kind):
    error = whatsapp_send_error(TwilioRestException(400, "uri", "msg", code=code))
    assert type(error) is kind and error.code == str(code)


def test_a_blocked_business_is_the_persons_choice():
    error = whatsapp_send_error(TwilioRestException(400, "uri", "msg", code=63014))
    assert isinstance(error, RecipientUnreachable) and error.blocked and error.by_person


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("4145550123", "+14145550123"),
        ("+1 (414) 555-0123", "+14145550123"),
        ("whatsapp:+14145550123", "+14145550123"),
        ("whatsapp:4145550123", "+14145550123"),
        ("whatsapp:US.1234", "US.1234"),  # a business-scoped id: kept as it came
        ("anonymous", "anonymous"),
    ],
)
def test_senders_are_stored_in_e164_when_they_are_numbers(raw, expected):
    assert sender_id(raw, "US") == expected


def test_to_e164_says_none_for_what_is_no_phone_number():
    assert to_e164("hello", "US") is None
    assert to_e164("5550100", "US") is None  # seven digits: no area code
    assert to_e164("612 34 56 78", "ES") == "+34612345678"
    assert whatsapp_address("+14145550123") == "whatsapp:+14145550123"
