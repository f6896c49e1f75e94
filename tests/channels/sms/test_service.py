"""SMS end to end: signed webhooks over real HTTP into the real conversation service."""

from __future__ import annotations

import html

import pytest

from bot.app import channel_callbacks
from bot.content import strings as texts
from bot.conversation.service import ConversationService
from bot.messages import Address
from tests.fakes.twilio_server import SmsHarness, sms_config

PHONE = "+15551230077"


@pytest.fixture
async def phone(service: ConversationService):
    async with SmsHarness(sms_config(), channel_callbacks(service)) as running:
        yield running


def first_line(text: str) -> str:
    return text.strip().splitlines()[0]


def spanish(service: ConversationService, text: texts.Text) -> str:
    return service.content.translator.text("es", text)


async def test_a_whole_spanish_conversation_by_sms(phone, service, storage):
    content = service.content
    menu = content.dialogs.node("kyr.menu")
    door = content.dialogs.node("kyr.door")

    hola = await phone.sms("hola", sender=PHONE)
    assert hola.status == 200 and hola.content_type == "text/xml"
    [body] = hola.messages
    assert first_line(content.translator.gettext("es", menu.say_context, menu.say))[:30] in body
    assert "\n1 " in body and "\n9 " in body  # numbered choices

    number = [c.target for c in menu.choices].index(door.id) + 1
    page = await phone.sms(str(number), sender=PHONE)
    expected = content.translator.gettext("es", door.say_context, door.say)
    assert page.messages[0].startswith(expected[:25])
    assert "0 " in page.messages[0]  # "0 Menú" to go back

    question = await phone.sms("que hago si me hacen stop en el carro", sender=PHONE)
    assert question.messages, "a question containing STOP is a question, not an opt-out"

    baja = await phone.sms("BAJA", sender=PHONE)
    assert baja.messages == [spanish(service, texts.OPTED_OUT)]
    contact = await storage.get_contact(Address("sms", PHONE))
    assert contact is not None and contact.opted_out and not contact.subscribed

    alta = await phone.sms("alta", sender=PHONE)
    assert alta.messages and alta.messages[0].startswith(spanish(service, texts.OPTED_IN)[:20])
    contact = await storage.get_contact(Address("sms", PHONE))
    assert contact is not None and not contact.opted_out

    ayuda = await phone.sms("AYUDA", sender=PHONE)
    help_text = spanish(service, texts.SMS_HELP)
    assert ayuda.messages[0].startswith(help_text.split("{")[0][:15])
    assert "BAJA" in ayuda.messages[0] or "STOP" in ayuda.messages[0]


async def test_english_stop_is_recorded_and_left_to_twilio_to_answer(phone, storage):
    await phone.sms("hi", sender=PHONE)
    stop = await phone.sms("STOP", sender=PHONE)
    assert stop.status == 200 and stop.messages == []
    contact = await storage.get_contact(Address("sms", PHONE))
    assert contact is not None and contact.opted_out


async def test_a_repeated_message_sid_is_answered_once(phone):
    first = await phone.sms("hola", sender=PHONE, message_sid="SMtest-dup")
    again = await phone.sms("hola", sender=PHONE, message_sid="SMtest-dup")
    assert first.messages and again.messages == []


async def test_a_photo_gets_a_text_only_reply_in_spanish(phone, service):
    await phone.sms("hola", sender=PHONE)
    picture = await phone.sms(
        "", sender=PHONE, NumMedia="1", MediaUrl0="https://example.invalid/a.jpg"
    )
    assert picture.messages[0].startswith(spanish(service, texts.MEDIA_ONLY)[:20])


async def test_replies_stay_within_the_segment_budget(phone):
    from bot.sms_text import segment_info

    for text in ["hola", "1", "0", "2", "0", "9", "1", "menu", "english", "3"]:
        answer = await phone.sms(text, sender=PHONE)
        for message in answer.messages:
            assert segment_info(html.unescape(message)).segments <= 5
