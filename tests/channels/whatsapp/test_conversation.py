"""WhatsApp end to end: signed webhooks over real HTTP into the real conversation service."""

from __future__ import annotations

import pytest

from bot.app import channel_callbacks
from bot.channels.voice.words import translated
from bot.content import strings as texts
from bot.conversation.service import ConversationService
from bot.messages import Address
from tests.fakes.twilio_calls import TwilioHarness, twilio_config

PHONE = "+14145550123"


@pytest.fixture
async def twilio(service: ConversationService):
    config = twilio_config()
    words = translated(service.content.translator.text, ["en", "es"])
    async with TwilioHarness(config, channel_callbacks(service), words=words) as running:
        yield running


def spanish(service: ConversationService, text: texts.Text) -> str:
    return service.content.translator.text("es", text)


async def test_a_whole_spanish_conversation_on_whatsapp(twilio, service, storage):
    content = service.content
    menu = content.dialogs.node("kyr.menu")
    door = content.dialogs.node("kyr.door")

    hola = await twilio.whatsapp_message("hola", sender=PHONE)
    assert hola.status == 200
    [body] = hola.messages
    assert content.translator.gettext("es", menu.say_context, menu.say)[:30] in body
    assert "\n*1* " in body and "\n*9* " in body  # numbered choices, bold keys

    number = [c.target for c in menu.choices].index(door.id) + 1
    page = await twilio.whatsapp_message(str(number), sender=PHONE)
    expected = content.translator.gettext("es", door.say_context, door.say)
    assert page.messages[0].startswith(expected[:25])
    assert "*0* Menú" in page.messages[0]

    photo = await twilio.whatsapp_message("", sender=PHONE, NumMedia="1", MessageType="image")
    assert photo.messages[0].startswith(spanish(service, texts.MEDIA_ONLY)[:30])
    location = await twilio.whatsapp_message(
        "", sender=PHONE, MessageType="location", Latitude="43.03", Longitude="-87.91"
    )
    assert location.messages[0].startswith(spanish(service, texts.MEDIA_ONLY)[:30])

    urgent = await twilio.whatsapp_message("la migra está aquí", sender=PHONE)
    emergency = content.dialogs.node("kyr.emergency")
    assert urgent.messages[0].startswith(
        content.translator.gettext("es", emergency.say_context, emergency.say)[:20]
    )

    # WhatsApp has no carrier STOP: the bot answers the opt-out word itself and records it.
    baja = await twilio.whatsapp_message("BAJA", sender=PHONE)
    assert baja.messages == [spanish(service, texts.OPTED_OUT)]
    contact = await storage.get_contact(Address("whatsapp", PHONE))
    assert contact is not None and contact.opted_out
    stop = await twilio.whatsapp_message("STOP", sender=PHONE)
    assert stop.messages, "the bot itself answers STOP on WhatsApp"
    alta = await twilio.whatsapp_message("alta", sender=PHONE)
    assert alta.messages[0].startswith(spanish(service, texts.OPTED_IN)[:20])

    # A WhatsApp contact is its own contact: nothing was stored as SMS.
    assert await storage.get_contact(Address("sms", PHONE)) is None


async def test_whatsapp_senders_on_the_sms_route_are_whatsapp_contacts(twilio, storage):
    answer = await twilio.whatsapp_message("hola", sender=PHONE, path="/twilio/sms")
    assert answer.status == 200 and answer.messages
    assert await storage.get_contact(Address("whatsapp", PHONE)) is not None
    assert await storage.get_contact(Address("sms", PHONE)) is None
    assert await storage.get_contact(Address("sms", f"whatsapp:{PHONE}")) is None


async def test_a_number_without_plus_is_stored_in_e164(twilio, storage):
    answer = await twilio.whatsapp_message("hola", sender="4145550124")
    assert answer.status == 200
    assert await storage.get_contact(Address("whatsapp", "+14145550124")) is not None
    sms = await twilio.post(
        "/twilio/sms",
        {"MessageSid": "SMplain0001", "From": "4145550125", "Body": "hola", "NumMedia": "0"},
    )
    assert sms.status == 200
    assert await storage.get_contact(Address("sms", "+14145550125")) is not None


async def test_an_unsigned_whatsapp_webhook_is_refused(twilio):
    assert twilio.http is not None
    url = f"http://127.0.0.1:{twilio.server.port}/twilio/whatsapp"
    async with twilio.http.post(url, data={"From": "whatsapp:+14145550123", "Body": "x"}) as r:
        assert r.status == 403


async def test_a_whatsapp_form_without_sender_is_a_400(twilio):
    answer = await twilio.post("/twilio/whatsapp", {"Body": "hola", "MessageSid": "SMx1"})
    assert answer.status == 400


async def test_a_whatsapp_status_callback_is_a_whatsapp_delivery_report():
    from tests.fakes.twilio_server import RecordingSink

    sink = RecordingSink()
    async with TwilioHarness(twilio_config(), sink.callbacks, words={}) as twilio:
        answer = await twilio.post(
            "/twilio/whatsapp/status",
            {"MessageSid": "SMwa1", "MessageStatus": "undelivered", "ErrorCode": "63016"},
        )
        assert answer.status == 204
        missing = await twilio.post("/twilio/whatsapp/status", {"MessageSid": "SMwa2"})
        assert missing.status == 400
    assert sink.deliveries == [("whatsapp", "SMwa1", "undelivered", "63016")]
