"""WhatsApp broadcasts and the 24-hour window, end to end on an injected clock.

People subscribe through signed webhooks; the broadcast goes out through the real twilio
client to the fake REST server, which refuses free-form text outside the window as Twilio does.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from bot.app import channel_callbacks
from bot.broadcast.runner import BroadcastRunner
from bot.broadcast.service import BroadcastService
from bot.broadcast.words import Words
from bot.channels import registry
from bot.channels.voice.words import translated
from bot.channels.whatsapp import words as whatsapp_words
from bot.conversation.service import ConversationService
from bot.organizer.reports import format_preview_summary
from bot.storage.base import DeliveryStatus
from tests.fakes.twilio_calls import TEMPLATE_ES, WHATSAPP_SENDER, TwilioHarness, twilio_config
from tests.fakes.twilio_server import FakeTwilioServer
from tests.support.broadcast import ORGANIZER

START = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)
EARLY_ES = "+14145550151"  # subscribes, then is silent for more than a day
LATE_ES = "+14145550152"  # writes an hour before the broadcast
EARLY_EN = "+14145550153"  # English, silent too: no English template is configured


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def tw():
    server = FakeTwilioServer(approved_templates={TEMPLATE_ES})
    await server.start()
    yield server
    await server.stop()


async def subscribe(twilio: TwilioHarness, phone: str, greeting: str) -> None:
    for body in (greeting, "9", "8", "1"):
        answer = await twilio.whatsapp_message(body, sender=phone)
        assert answer.status == 200 and answer.messages


async def test_outside_the_window_the_template_goes_inside_it_free_form(tw, content, storage):
    clock = Clock()
    config = twilio_config(tw.base_url)
    service = ConversationService(
        content=content,
        storage=storage,
        organization=config.organization,
        window_channels=registry.window_channels(config),
    )
    words = translated(content.translator.text, ["en", "es"])
    notices = whatsapp_words.notices(content.translator.text, ["en", "es"])
    async with TwilioHarness(config, channel_callbacks(service), words=words, now=clock) as tw_h:
        tw_h.whatsapp._notices = notices  # as registry.build_channels passes them
        await subscribe(tw_h, EARLY_ES, "hola")
        await subscribe(tw_h, EARLY_EN, "hello")
        clock.now = START + timedelta(hours=30)
        await subscribe(tw_h, LATE_ES, "hola")
        clock.now = START + timedelta(hours=31)
        tw.whatsapp_window = {f"whatsapp:{LATE_ES}"}

        broadcasts = BroadcastService(storage, config, now=clock)
        draft = await broadcasts.create(
            f"telegram:{ORGANIZER}",
            {"en": "Police rule update.", "es": "Novedad sobre la regla de la policía."},
        )
        preview = await broadcasts.preview(draft.id)
        split = preview.windows["whatsapp"]
        assert split.free_form == {"es": 1}
        assert split.template == {"es": 1}
        assert split.left_out == {"en": 1}
        assert split.template_cost == pytest.approx(config.twilio.whatsapp.price_per_template)
        summary = format_preview_summary(preview, Words())
        assert "approved template" in summary and "left out" in summary

        await broadcasts.start(f"telegram:{ORGANIZER}", draft.id)
        runner = BroadcastRunner(storage, {"whatsapp": tw_h.whatsapp}, config, now=clock)
        await runner.run_once(draft.id)

    sent = {r.form["To"]: r.form for r in tw.requests}
    assert set(sent) == {f"whatsapp:{EARLY_ES}", f"whatsapp:{LATE_ES}"}, "never attempted: en"
    template = sent[f"whatsapp:{EARLY_ES}"]
    assert template["ContentSid"] == TEMPLATE_ES and "Body" not in template
    notice = content.translator.text("es", whatsapp_words.NOTICE)
    assert json.loads(template["ContentVariables"]) == {"1": notice}
    assert template["From"] == f"whatsapp:{WHATSAPP_SENDER}"
    free = sent[f"whatsapp:{LATE_ES}"]
    assert free["Body"] == "Novedad sobre la regla de la policía." and "ContentSid" not in free
    assert all(r.status == 201 for r in tw.requests)

    tally = {t.status: t.count for t in await storage.delivery_tally(draft.id)}
    assert tally == {DeliveryStatus.SENT: 2, DeliveryStatus.SKIPPED: 1}
