"""Signed Twilio forms of unusual shape: a repeated field, a missing ``Body``."""

from __future__ import annotations

import logging
from urllib.parse import urlencode

import pytest
from multidict import MultiDict
from twilio.request_validator import RequestValidator

from bot.messages import InboundKind, Reply
from tests.fakes.twilio_server import (
    FAKE_AUTH_TOKEN,
    PUBLIC_URL,
    RecordingSink,
    SmsHarness,
    new_message_sid,
    sms_config,
)

MENU = Reply(text="Hola. ¿Qué quiere saber?", locale="es")


@pytest.fixture
async def harness():
    async with SmsHarness(sms_config(), RecordingSink(respond=lambda _inbound: (MENU,))) as run:
        yield run


def signed_pairs(pairs: list[tuple[str, str]], path: str = "/twilio/sms") -> tuple[bytes, str]:
    """The body and the signature Twilio's validator computes over every value of the form."""
    form = MultiDict(pairs)
    signature = RequestValidator(FAKE_AUTH_TOKEN).compute_signature(PUBLIC_URL + path, form)
    return urlencode(pairs).encode(), str(signature)


@pytest.mark.parametrize(
    "pairs",
    [
        [("From", "+15551230001"), ("Body", "hola"), ("Body", "BAJA")],
        [("From", "+15551230001"), ("From", "+15551230002"), ("Body", "hola")],
    ],
    ids=["body-twice", "from-twice"],
)
async def test_a_signed_form_that_repeats_a_field_is_refused_with_400(harness, pairs):
    body, signature = signed_pairs([("MessageSid", new_message_sid()), *pairs])

    answer = await harness.post("/twilio/sms", data=body, signature=signature)

    assert answer.status == 400
    assert harness.sink.inbounds == []


async def test_a_status_callback_that_repeats_a_field_is_refused_with_400(harness):
    pairs = [("MessageSid", "SM1"), ("MessageStatus", "delivered"), ("MessageStatus", "failed")]
    body, signature = signed_pairs(pairs, "/twilio/status")

    answer = await harness.post("/twilio/status", data=body, signature=signature)

    assert answer.status == 400


async def test_an_mms_without_a_body_field_gets_the_helpful_answer(harness):
    form = {
        "MessageSid": new_message_sid(),
        "From": "+15551230001",
        "NumMedia": "1",
        "MediaUrl0": "https://example.invalid/picture.jpg",
    }

    answer = await harness.post("/twilio/sms", form)

    assert answer.status == 200
    assert answer.messages == ["Hola. ¿Qué quiere saber?"]
    [inbound] = harness.sink.inbounds
    assert (inbound.kind, inbound.text) == (InboundKind.MEDIA, "")


async def test_a_form_without_body_or_media_reads_as_an_empty_message(harness):
    answer = await harness.post("/twilio/sms", {"From": "+15551230001"})

    assert answer.status == 200
    assert answer.messages == ["Hola. ¿Qué quiere saber?"]
    assert [(i.kind, i.text) for i in harness.sink.inbounds] == [(InboundKind.TEXT, "")]


@pytest.mark.parametrize(
    ("public_url", "warned"),
    [
        ("http://kyrbot.example.org", True),
        ("HTTP://kyrbot.example.org/bot", True),
        ("https://kyrbot.example.org", False),
        ("http://127.0.0.1:8080", False),
        ("http://localhost:8080", False),
    ],
)
async def test_a_plain_http_public_url_is_warned_about_at_start(caplog, public_url, warned):
    caplog.set_level(logging.WARNING, logger="bot.channels.sms.adapter")
    async with SmsHarness(sms_config(public_url=public_url)):
        pass

    warnings = [r for r in caplog.records if "http://" in r.getMessage()]
    assert [r.levelno for r in warnings] == ([logging.WARNING] if warned else [])
