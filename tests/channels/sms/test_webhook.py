"""Twilio webhooks over real HTTP: signatures, bodies, keywords, dedup, budget, media, status."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from urllib.parse import urlencode

import aiohttp
import pytest

from bot.channels.sms.keywords import KEYWORDS
from bot.messages import Choice, Inbound, InboundKind, Reply
from tests.fakes.twilio_server import (
    FAKE_ACCOUNT_SID,
    PUBLIC_URL,
    FakeClock,
    RecordingSink,
    SmsHarness,
    new_message_sid,
    sign,
    sms_config,
)

NAV_ES = (Choice("c:menu", "Menú"), Choice("c:lang", "English"))

MENU_ES = Reply(
    text="Hola. Te explico la regla SOP 130 de la policía de Milwaukee. ¿Qué quieres saber?",
    choices=(
        Choice("what", "Qué dice SOP 130"),
        Choice("warrants", "Orden judicial u orden de ICE"),
    ),
    nav=(Choice("c:lang", "English"),),
    locale="es",
    node="sop130.menu",
)
WHAT_ES = Reply(
    text="SOP 130 limita cómo la policía de Milwaukee puede ayudar a ICE. Información general, "
    "no asesoría legal.",
    nav=NAV_ES,
    locale="es",
    node="sop130.what",
)
HELP_ES = Reply(
    text="Derechos SOP 130. Envía BAJA para dejar de recibir mensajes. "
    "Pueden aplicarse tarifas de mensajes y datos.",
    nav=NAV_ES,
    locale="es",
    node="system.help",
)
BAJA_ES = Reply(
    text="Listo, no recibirás más mensajes. Envía ALTA para volver.", locale="es", node="x.out"
)
MEDIA_ES = Reply(text="Solo puedo leer texto. Escribe tu pregunta.", nav=NAV_ES, locale="es")
OPT_OUT_EN = Reply(text="You are unsubscribed. Text START to come back.", node="x.out")


def spanish_dialog(inbound: Inbound) -> Sequence[Reply]:
    """A tiny stand-in for the engine, enough to hold a Spanish conversation."""
    if inbound.kind is InboundKind.MEDIA:
        return (MEDIA_ES,)
    if inbound.kind is InboundKind.COMMAND:
        return {
            "help": (HELP_ES,),
            "opt_out": (BAJA_ES,) if inbound.text.upper() != "STOP" else (OPT_OUT_EN,),
        }.get(inbound.command or "", ())
    return {"1": (WHAT_ES,)}.get(inbound.text.strip(), (MENU_ES,))


@pytest.fixture
async def harness():
    async with SmsHarness(sms_config(), RecordingSink(respond=spanish_dialog)) as running:
        yield running


# -- a whole conversation --------------------------------------------------------------------


async def test_spanish_conversation_is_answered_with_numbered_twiml(harness):
    hola = await harness.sms("hola")
    one = await harness.sms("1")
    zero = await harness.sms("0")
    ayuda = await harness.sms("Ayuda")
    picture = await harness.sms("", NumMedia="1", MediaUrl0="https://example.invalid/x.jpg")
    baja = await harness.sms("BAJA")

    assert (hola.status, hola.content_type) == (200, "text/xml")
    assert hola.messages == [
        "Hola. Te explico la regla SOP 130 de la policía de Milwaukee. ¿Qué quieres saber?\n\n"
        "1 Qué dice SOP 130\n2 Orden judicial u orden de ICE\nEnglish"
    ]
    assert one.messages == [
        "SOP 130 limita cómo la policía de Milwaukee puede ayudar a ICE. Información general, "
        "no asesoría legal.\n\n0 Menú / English"
    ]
    assert zero.messages == hola.messages
    assert ayuda.messages == [
        "Derechos SOP 130. Envía BAJA para dejar de recibir mensajes. Pueden aplicarse tarifas "
        "de mensajes y datos.\n\n0 Menú / English"
    ]
    assert picture.messages == ["Solo puedo leer texto. Escribe tu pregunta.\n\n0 Menú / English"]
    assert baja.messages == ["Listo, no recibirás más mensajes. Envía ALTA para volver."]
    kinds = [(i.kind, i.command, i.text) for i in harness.sink.inbounds]
    assert kinds == [
        (InboundKind.TEXT, None, "hola"),
        (InboundKind.TEXT, None, "1"),
        (InboundKind.TEXT, None, "0"),
        (InboundKind.COMMAND, "help", "Ayuda"),
        (InboundKind.MEDIA, None, ""),
        (InboundKind.COMMAND, "opt_out", "BAJA"),
    ]
    assert {i.address.id for i in harness.sink.inbounds} == {"+15551230001"}


async def test_spanish_is_folded_to_gsm7_when_configured_and_it_saves_segments():
    config = sms_config(fold_accents={"es": True})
    async with SmsHarness(config, RecordingSink(respond=spanish_dialog)) as harness:
        one = await harness.sms("1")

    assert one.messages == [
        "SOP 130 limita como la policia de Milwaukee puede ayudar a ICE. Informacion general, "
        "no asesoria legal.\n\n0 Menu / English"
    ]


async def test_markup_characters_in_replies_are_escaped(harness):
    harness.sink.respond = lambda _inbound: (Reply(text="a < b & c > d </Message>"),)

    answer = await harness.sms("x")

    assert answer.messages == ["a < b & c > d </Message>"]


async def test_long_reply_goes_as_several_messages_of_at_most_1600(harness):
    long_text = "\n\n".join(["Párrafo. " * 100] * 3)  # three 900-character paragraphs
    harness.sink.respond = lambda _inbound: (Reply(text=long_text, nav=NAV_ES, locale="es"),)

    answer = await harness.sms("x")

    assert len(answer.messages) == 3
    assert all(len(message) <= 1600 for message in answer.messages)
    assert answer.messages[-1].endswith("0 Menú / English")


async def test_several_replies_become_several_messages(harness):
    harness.sink.respond = lambda _inbound: (Reply(text="One"), Reply(text="Two"))

    answer = await harness.sms("x")

    assert answer.messages == ["One", "Two"]


async def test_no_replies_is_an_empty_twiml_response(harness):
    harness.sink.respond = lambda _inbound: ()

    answer = await harness.sms("x")

    assert (answer.status, answer.messages) == (200, [])
    assert "<Response/>" in answer.text


# -- signatures --------------------------------------------------------------------------


async def test_wrong_signature_is_refused(harness):
    answer = await harness.post(
        "/twilio/sms", {"From": "+15551230001", "Body": "hola"}, signature="bm90IGl0"
    )

    assert answer.status == 403
    assert harness.sink.inbounds == []


async def test_missing_signature_is_refused(harness):
    answer = await harness.post(
        "/twilio/sms", {"From": "+15551230001", "Body": "hola"}, sign_request=False
    )

    assert answer.status == 403
    assert harness.sink.inbounds == []


async def test_signature_over_http_instead_of_https_is_refused(harness):
    http_url = PUBLIC_URL.replace("https://", "http://") + "/twilio/sms"

    answer = await harness.post(
        "/twilio/sms", {"From": "+15551230001", "Body": "hola"}, signed_url=http_url
    )

    assert answer.status == 403


async def test_signature_over_the_local_address_is_refused(harness):
    # What a naive check would rebuild from the Host header behind a proxy.
    answer = await harness.post(
        "/twilio/sms",
        {"From": "+15551230001", "Body": "hola"},
        signed_url=harness.local_url("/twilio/sms"),
    )

    assert answer.status == 403


async def test_signature_with_a_tampered_field_is_refused(harness):
    form = {"From": "+15551230001", "Body": "hola", "MessageSid": "SMtest9"}
    signature = sign(PUBLIC_URL + "/twilio/sms", form)

    answer = await harness.post("/twilio/sms", {**form, "Body": "STOP"}, signature=signature)

    assert answer.status == 403


async def test_signature_covering_every_field_and_the_query_string_is_accepted(harness):
    form = {
        "From": "+15551230001",
        "Body": "hola",
        "MessageSid": new_message_sid(),
        "AccountSid": FAKE_ACCOUNT_SID,
        "FromCountry": "US",
        "SmsStatus": "received",
    }

    answer = await harness.post("/twilio/sms?site=mke&v=2", form)

    assert answer.status == 200
    assert answer.messages[0].startswith("Hola. Te explico la regla SOP 130")


async def test_signature_made_with_the_default_port_is_accepted(harness):
    answer = await harness.post(
        "/twilio/sms",
        {"From": "+15551230001", "Body": "hola"},
        signed_url="https://kyrbot.example.org:443/twilio/sms",
    )

    assert answer.status == 200


async def test_public_url_with_a_path_prefix_is_what_gets_signed():
    prefixed = "https://kyrbot.example.org/bots/kyr"
    async with SmsHarness(sms_config(public_url=prefixed)) as harness:
        good = await harness.post("/twilio/sms", {"From": "+15551230001", "Body": "hola"})
        bad = await harness.post(
            "/twilio/sms",
            {"From": "+15551230001", "Body": "hola"},
            signed_url=PUBLIC_URL + "/twilio/sms",
        )

    assert (good.status, bad.status) == (200, 403)


async def test_without_public_url_every_webhook_is_refused_and_logged_once(caplog):
    caplog.set_level(logging.ERROR, logger="bot.channels.sms.adapter")
    async with SmsHarness(sms_config(public_url=None)) as harness:
        answers = [
            await harness.post("/twilio/sms", {"From": "+15551230001", "Body": "hola"}),
            await harness.post("/twilio/sms", {"From": "+15551230001", "Body": "hola"}),
            await harness.post("/twilio/status", {"MessageSid": "SM1", "MessageStatus": "sent"}),
        ]

    assert [a.status for a in answers] == [403, 403, 403]
    assert harness.sink.inbounds == []
    assert sum("public_url" in r.getMessage() for r in caplog.records) == 1


# -- bodies ----------------------------------------------------------------------------------


async def test_oversized_body_is_refused_with_413(harness):
    form = {"From": "+15551230001", "Body": "x" * 70_000}

    answer = await harness.post("/twilio/sms", form)

    assert answer.status == 413
    assert harness.sink.inbounds == []


async def test_oversized_chunked_body_is_refused_with_413(harness):
    async def chunks():
        yield b"From=%2B15551230001&Body="
        for _ in range(20):
            yield b"x" * 4096

    assert harness.http is not None
    async with harness.http.post(
        harness.local_url("/twilio/sms"),
        data=chunks(),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": "irrelevant",
        },
    ) as response:
        assert response.status == 413


async def test_body_that_is_not_utf8_is_refused_with_400(harness):
    answer = await harness.post("/twilio/sms", data=b"From=%2B1555&Body=\xff\xfe\xfa")

    assert answer.status == 400


async def test_file_upload_is_refused_with_400(harness):
    data = aiohttp.FormData()
    data.add_field("From", "+15551230001")
    data.add_field("Body", b"\x00\x01", filename="x.bin", content_type="application/octet-stream")
    assert harness.http is not None
    async with harness.http.post(
        harness.local_url("/twilio/sms"), data=data, headers={"X-Twilio-Signature": "x"}
    ) as response:
        assert response.status == 400
    assert harness.sink.inbounds == []


async def test_json_body_is_refused_with_400(harness):
    assert harness.http is not None
    async with harness.http.post(
        harness.local_url("/twilio/sms"),
        json={"From": "+15551230001", "Body": "hola"},
        headers={"X-Twilio-Signature": "x"},
    ) as response:
        assert response.status == 400


@pytest.mark.parametrize(
    "form",
    [
        {"Body": "hola", "MessageSid": "SMtest1"},
        {"From": "", "Body": "hola"},
        {"From": "+1555\x000001", "Body": "hola"},
        {"From": "+1" + "5" * 80, "Body": "hola"},
        {},
    ],
    ids=["no-from", "empty-from", "control-character", "too-long", "empty-form"],
)
async def test_signed_webhook_without_a_sender_is_refused_with_400(harness, form):
    answer = await harness.post("/twilio/sms", form)

    assert answer.status == 400
    assert harness.sink.inbounds == []


async def test_unsigned_webhook_without_fields_is_refused_with_403_first(harness):
    answer = await harness.post("/twilio/sms", {}, sign_request=False)

    assert answer.status == 403


async def test_get_is_not_allowed(harness):
    assert harness.http is not None
    async with harness.http.get(harness.local_url("/twilio/sms")) as response:
        assert response.status == 405


# -- dedup -----------------------------------------------------------------------------------


async def test_same_message_sid_twice_is_answered_once(harness):
    first = await harness.sms("hola", message_sid="SMdup00001")
    second = await harness.sms("hola", message_sid="SMdup00001")

    assert len(first.messages) == 1
    assert (second.status, second.messages) == (200, [])
    assert [i.message_id for i in harness.sink.inbounds] == ["SMdup00001", "SMdup00001"]


# -- compliance keywords ---------------------------------------------------------------------

ENGLISH_OPT_OUT = [k.word for k in KEYWORDS if k.provider_answers]
ANSWERED_KEYWORDS = [(k.word, k.action.value) for k in KEYWORDS if not k.provider_answers]
ALL_KEYWORDS = [(k.word, k.action.value) for k in KEYWORDS]

QUESTIONS = {
    "STOP": "what if the police stop me",
    "STOPALL": "does stopall work here",
    "UNSUBSCRIBE": "how do I unsubscribe my mom",
    "CANCEL": "can ICE cancel my visa",
    "END": "when does the curfew end",
    "QUIT": "should I quit answering questions",
    "REVOKE": "can they revoke my license",
    "OPTOUT": "what is optout",
    "PARAR": "me pueden parar en la calle?",
    "BAJA": "la policía baja del carro, qué hago",
    "CANCELAR": "pueden cancelar mi permiso",
    "ALTO": "¿qué hago si me dan el alto?",
    "START": "start from the beginning please",
    "UNSTOP": "unstop me now please",
    "YES": "yes, they have a warrant",
    "ALTA": "me dieron de alta en el hospital",
    "SUSCRIBIR": "quiero suscribir a mi hermano",
    "HELP": "help, police at my door",
    "INFO": "info about warrants",
    "AYUDA": "necesito ayuda con ICE",
}


def test_every_keyword_has_a_question_using_it():
    assert set(QUESTIONS) == {k.word for k in KEYWORDS}


@pytest.fixture
async def echo_harness():
    async with SmsHarness(sms_config()) as running:
        yield running


@pytest.mark.parametrize(("word", "command"), ANSWERED_KEYWORDS)
async def test_keyword_alone_is_a_command_and_gets_the_engines_answer(echo_harness, word, command):
    answer = await echo_harness.sms(word.lower())

    inbound = echo_harness.sink.inbounds[-1]
    assert (inbound.kind, inbound.command, inbound.text) == (
        InboundKind.COMMAND,
        command,
        word.lower(),
    )
    assert answer.messages == [
        f"command:{command}:{word.lower()}\n\n1 One\n2 Two\n0 Menu / Español"
    ]


@pytest.mark.parametrize("word", ENGLISH_OPT_OUT)
async def test_english_opt_out_is_recorded_but_not_answered_when_twilio_answers(
    echo_harness, word
):
    answer = await echo_harness.sms(word)

    assert (answer.status, answer.messages) == (200, [])
    inbound = echo_harness.sink.inbounds[-1]
    assert (inbound.kind, inbound.command) == (InboundKind.COMMAND, "opt_out")


@pytest.mark.parametrize("word", ENGLISH_OPT_OUT)
async def test_english_opt_out_is_answered_when_twilio_does_not_handle_it(word):
    async with SmsHarness(sms_config(provider_handles_opt_out=False)) as harness:
        answer = await harness.sms(word.lower())

    assert answer.messages == [f"command:opt_out:{word.lower()}\n\n1 One\n2 Two\n0 Menu / Español"]


async def test_english_opt_out_with_punctuation_is_answered_since_twilio_may_miss_it(
    echo_harness,
):
    answer = await echo_harness.sms("Stop!")

    assert answer.messages == ["command:opt_out:Stop!\n\n1 One\n2 Two\n0 Menu / Español"]


@pytest.mark.parametrize("word", ["¡Alto!", "Bája", "PARAR", "cancelar"])
async def test_spanish_opt_out_is_always_answered(echo_harness, word):
    answer = await echo_harness.sms(word)

    assert answer.messages == [f"command:opt_out:{word}\n\n1 One\n2 Two\n0 Menu / Español"]


@pytest.mark.parametrize(("word", "question"), sorted(QUESTIONS.items()))
async def test_question_containing_a_keyword_is_ordinary_text(echo_harness, word, question):
    answer = await echo_harness.sms(question)

    inbound = echo_harness.sink.inbounds[-1]
    assert (inbound.kind, inbound.command, inbound.text) == (InboundKind.TEXT, None, question)
    [message] = answer.messages
    assert message.startswith(f"text::{question}\n")  # a blank line follows if it is free
    assert message.endswith("\n1 One\n2 Two\n0 Menu / Español")


# -- reply budget ----------------------------------------------------------------------------


async def test_reply_budget_silences_a_number_then_recovers(caplog):
    caplog.set_level(logging.INFO, logger="bot.channels.sms.adapter")
    clock = FakeClock()
    config = sms_config(replies=3, window_minutes=10)
    async with SmsHarness(config, clock=clock) as harness:
        answered = [await harness.sms(f"m{i}", sender="+15559990001") for i in range(3)]
        silenced = [await harness.sms(f"x{i}", sender="+15559990001") for i in range(3)]
        other = await harness.sms("hola", sender="+15559990002")
        clock.advance(10 * 60 + 1)
        recovered = await harness.sms("again", sender="+15559990001")

    assert [len(a.messages) for a in answered] == [1, 1, 1]
    assert [(a.status, a.messages) for a in silenced] == [(200, [])] * 3
    assert len(other.messages) == 1
    assert len(recovered.messages) == 1
    texts = [i.text for i in harness.sink.inbounds]
    assert "x0" not in texts  # over budget, the message does not even reach the service
    warnings = [r for r in caplog.records if "budget" in r.getMessage()]
    assert len(warnings) == 1  # logged once per window, not per message
    assert "sms:" in warnings[0].getMessage()
    assert "9990001" not in caplog.text


async def test_opt_out_over_budget_is_still_recorded_but_silent():
    config = sms_config(replies=1, window_minutes=10)
    async with SmsHarness(config) as harness:
        await harness.sms("hola")
        baja = await harness.sms("BAJA")
        ayuda = await harness.sms("AYUDA")

    assert baja.messages == []
    assert ayuda.messages == []
    commands = [i.command for i in harness.sink.inbounds]
    assert commands == [None, "opt_out"]  # help is not worth a trip to the service


async def test_silent_answers_do_not_use_the_budget():
    config = sms_config(replies=2, window_minutes=10)
    async with SmsHarness(config) as harness:
        for _ in range(3):
            await harness.sms("STOP")  # Twilio answers these; the bot stays silent
        answered = await harness.sms("hola")

    assert len(answered.messages) == 1


# -- media -----------------------------------------------------------------------------------


async def test_media_message_reaches_the_engine_as_media(echo_harness):
    answer = await echo_harness.sms(
        "", NumMedia="1", MediaUrl0="https://example.invalid/m.jpg", MediaContentType0="image/jpeg"
    )

    inbound = echo_harness.sink.inbounds[-1]
    assert inbound.kind is InboundKind.MEDIA
    assert answer.messages == ["media::\n\n1 One\n2 Two\n0 Menu / Español"]


# -- failures --------------------------------------------------------------------------------


async def test_service_failure_is_a_500_without_details(caplog):
    caplog.set_level(logging.ERROR, logger="bot.channels.sms.adapter")
    async with SmsHarness(sms_config(), RecordingSink(fail=True)) as harness:
        answer = await harness.sms("hola", sender="+15558887777")

    assert answer.status == 500
    assert "secret internal detail" not in answer.text
    assert "8887777" not in caplog.text


async def test_webhook_before_start_is_503():
    async with SmsHarness(sms_config(), start_channel=False) as harness:
        answer = await harness.sms("hola")

    assert answer.status == 503


# -- delivery status -------------------------------------------------------------------------


async def test_signed_status_callback_is_recorded(harness):
    form = {
        "MessageSid": "SMfake000001",
        "MessageStatus": "undelivered",
        "ErrorCode": "30007",
        "AccountSid": FAKE_ACCOUNT_SID,
        "To": "+15551230001",
    }

    answer = await harness.post("/twilio/status", form)

    assert answer.status == 204
    assert harness.sink.deliveries == [("sms", "SMfake000001", "undelivered", "30007")]


async def test_status_callback_without_error_code_records_none(harness):
    answer = await harness.post(
        "/twilio/status", {"MessageSid": "SMfake000002", "MessageStatus": "delivered"}
    )

    assert answer.status == 204
    assert harness.sink.deliveries == [("sms", "SMfake000002", "delivered", None)]


async def test_unsigned_status_callback_is_refused(harness):
    answer = await harness.post(
        "/twilio/status",
        {"MessageSid": "SMfake000001", "MessageStatus": "delivered"},
        sign_request=False,
    )

    assert answer.status == 403
    assert harness.sink.deliveries == []


async def test_status_callback_without_status_is_400(harness):
    answer = await harness.post("/twilio/status", {"MessageSid": "SMfake000001"})

    assert answer.status == 400


async def test_form_encoding_of_signed_fields_survives_the_round_trip(harness):
    # Twilio URL-encodes; the signature is over decoded values. "+" and "&" must survive.
    form = {"From": "+15551230001", "Body": "a+b & c=d ñ", "MessageSid": new_message_sid()}
    raw = urlencode(form).encode()

    answer = await harness.post(
        "/twilio/sms", data=raw, signature=sign(PUBLIC_URL + "/twilio/sms", form)
    )

    assert answer.status == 200
    assert harness.sink.inbounds[-1].text == "a+b & c=d ñ"
