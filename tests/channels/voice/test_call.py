"""A call end to end: signed voice webhooks over real HTTP into the real conversation."""

from __future__ import annotations

import logging

import pytest

from bot.app import channel_callbacks
from bot.channels.voice import words as voice_words
from bot.channels.voice.words import translated
from bot.conversation.service import ConversationService
from bot.messages import Address
from tests.fakes.twilio_calls import HOTLINE, TwilioHarness, twilio_config

CALLER = "+14145550131"


def page_start(service: ConversationService, node: str, locale: str = "es") -> str:
    found = service.content.dialogs.node(node)
    return service.content.translator.gettext(locale, found.say_context, found.say)[:25]


def spoken(answer) -> str:
    return " ".join(answer.said)


async def harness(service, **config):
    words = translated(service.content.translator.text, ["en", "es"])
    return TwilioHarness(twilio_config(**config), channel_callbacks(service), words=words)


@pytest.fixture
async def phone(service: ConversationService):
    async with await harness(service) as running:
        yield running


async def test_a_spanish_call_from_the_language_question_to_the_hotline(
    phone, service, storage, caplog
):
    caplog.set_level(logging.DEBUG)
    es = service.content.translator
    call = "CAtest0001"

    first = await phone.call(CALLER, call)
    assert first.status == 200
    gather = first.gather
    assert gather.get("input") == "dtmf speech" and gather.get("numDigits") == "1"
    # The language question: each language in its own voice, keys 1 and 2.
    says = [(s.get("language"), s.text) for s in gather.iter("Say")]
    assert [lang for lang, _ in says] == ["en-US", "es-US"]
    assert "2" in (says[1][1] or "") and es.text("es", voice_words.LANGUAGE_NAME) in says[1][1]

    menu = await phone.press(first, CALLER, call, Digits="2")
    assert spoken(menu).startswith(page_start(service, "kyr.menu"))
    assert menu.gather.get("language") == "es-US"
    press = es.text("es", voice_words.PRESS)
    menu_node = service.content.dialogs.node("kyr.menu")
    choice = menu_node.choices[1]
    door_label = es.gettext("es", menu_node.choice_context(choice), choice.label)
    assert press.format(label=door_label, n=2) in spoken(menu)

    # A topic by keypad...
    door = await phone.press(menu, CALLER, call, Digits="2")
    assert spoken(door).startswith(page_start(service, "kyr.door"))
    # ...* repeats it...
    again = await phone.press(door, CALLER, call, Digits="*")
    assert spoken(again).startswith(page_start(service, "kyr.door"))
    # ...0 goes back to the menu...
    back = await phone.press(again, CALLER, call, Digits="0")
    assert spoken(back).startswith(page_start(service, "kyr.menu"))
    # ...a topic by speech, through the same routing as typed text...
    stopped = await phone.press(
        back, CALLER, call, SpeechResult="me paró la policía en el carro", Confidence="0.9"
    )
    assert spoken(stopped).startswith(page_start(service, "kyr.traffic_stop"))
    # ...urgency included: saying "migra" opens the emergency page.
    migra = await phone.press(stopped, CALLER, call, SpeechResult="la migra", Confidence="0.8")
    assert spoken(migra).startswith(page_start(service, "kyr.emergency"))

    # "Hablar con una persona" dials the hotline.
    person = await phone.press(
        migra, CALLER, call, SpeechResult="quiero hablar con una persona", Confidence="0.9"
    )
    assert person.dialed == [HOTLINE]
    assert es.text("es", voice_words.DIALING) in spoken(person)

    # Nothing of what was said is in the log, and the caller is one voice contact.
    assert "migra" not in caplog.text and "carro" not in caplog.text
    assert CALLER not in caplog.text
    contact = await storage.get_contact(Address("voice", CALLER))
    assert contact is not None and contact.locale == "es"

    # A known caller is not asked for the language again.
    second = await phone.call(CALLER, "CAtest0002")
    assert spoken(second).startswith(page_start(service, "kyr.menu"))


async def test_without_a_hotline_the_call_says_so(service):
    async with await harness(service, hotline="") as phone:
        first = await phone.call(CALLER, "CAtest0100")
        menu = await phone.press(first, CALLER, "CAtest0100", Digits="2")
        person = await phone.press(menu, CALLER, "CAtest0100", Digits="8")
        assert person.dialed == []
        no_line = service.content.translator.text("es", voice_words.NO_HOTLINE)
        assert no_line in spoken(person)


async def test_silence_twice_ends_the_call(phone, service):
    first = await phone.call(CALLER, "CAtest0200")
    menu = await phone.press(first, CALLER, "CAtest0200", Digits="1")
    quiet = await phone.press(menu, CALLER, "CAtest0200")
    assert service.content.translator.text("en", voice_words.NO_ANSWER) in spoken(quiet)
    done = await phone.press(quiet, CALLER, "CAtest0200")
    assert [child.tag for child in done.root] == ["Say", "Hangup"]


async def test_an_unsigned_call_is_refused_and_a_call_without_callsid_is_a_400(phone):
    assert phone.http is not None
    url = f"http://127.0.0.1:{phone.server.port}/twilio/voice"
    async with phone.http.post(url, data={"From": CALLER}) as response:
        assert response.status == 403
    answer = await phone.post("/twilio/voice", {"From": CALLER})
    assert answer.status == 400


async def test_nothing_is_recorded(phone):
    first = await phone.call(CALLER, "CAtest0300")
    assert not list(first.root.iter("Record"))
    assert all(d.get("record") in (None, "do-not-record") for d in first.root.iter("Dial"))
