"""The SMS compliance keywords: whole-message matches only, in English and Spanish."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.channels.sms.keywords import KEYWORDS, KeywordAction, classify, normalize_keyword
from bot.channels.sms.webhook import parse_sms
from bot.errors import MalformedWebhook
from bot.messages import InboundKind

OPT_OUT, OPT_IN, YES, HELP = (
    KeywordAction.OPT_OUT,
    KeywordAction.OPT_IN,
    KeywordAction.OPT_IN_IF_OPTED_OUT,
    KeywordAction.HELP,
)

# (word, action, language, Twilio answers it itself), written out from the issue, not the code.
EXPECTED_TABLE = [
    ("STOP", OPT_OUT, "en", True),
    ("STOPALL", OPT_OUT, "en", True),
    ("UNSUBSCRIBE", OPT_OUT, "en", True),
    ("CANCEL", OPT_OUT, "en", True),
    ("END", OPT_OUT, "en", True),
    ("QUIT", OPT_OUT, "en", True),
    ("REVOKE", OPT_OUT, "en", True),
    ("OPTOUT", OPT_OUT, "en", True),
    ("PARAR", OPT_OUT, "es", False),
    ("BAJA", OPT_OUT, "es", False),
    ("CANCELAR", OPT_OUT, "es", False),
    ("ALTO", OPT_OUT, "es", False),
    ("START", OPT_IN, "en", False),
    ("UNSTOP", OPT_IN, "en", False),
    ("YES", YES, "en", False),
    ("ALTA", OPT_IN, "es", False),
    ("SUSCRIBIR", OPT_IN, "es", False),
    ("HELP", HELP, "en", False),
    ("INFO", HELP, "en", False),
    ("AYUDA", HELP, "es", False),
]


def test_keyword_table_is_exactly_the_issue_list():
    actual = [(k.word, k.action, k.language, k.provider_answers) for k in KEYWORDS]

    assert sorted(actual, key=str) == sorted(EXPECTED_TABLE, key=str)


@pytest.mark.parametrize(("word", "action", "language", "provider"), EXPECTED_TABLE)
@pytest.mark.parametrize("spelling", [str.upper, str.lower, str.capitalize])
def test_whole_message_keyword_matches_in_any_case(word, action, language, provider, spelling):
    match = classify(f"  {spelling(word)}\n")

    assert match is not None
    assert match.action is action
    assert match.keyword.language == language
    assert match.exact
    assert match.provider_answered is provider


@pytest.mark.parametrize(
    ("text", "word"),
    [
        ("¡Alto!", "ALTO"),
        ("Ayúda", "AYUDA"),
        ("¿AYUDA?", "AYUDA"),
        ("stop.", "STOP"),
        ("Bája", "BAJA"),
        ("STOP 🛑", "STOP"),
        ("'cancelar'", "CANCELAR"),
    ],
)
def test_keyword_with_accents_or_punctuation_matches_but_not_exactly(text, word):
    match = classify(text)

    assert match is not None
    assert match.keyword.word == word
    assert not match.exact
    assert not match.provider_answered  # Twilio may not have caught it, so the bot answers


@pytest.mark.parametrize(
    "text",
    [
        "what if the police stop me",
        "Can they stop my car?",
        "stop please",
        "STOP STOP",
        "I need help",
        "help me",
        "more info about warrants",
        "yes I was stopped",
        "What happens at the end",
        "cancel my appointment?",
        "quiero darme de baja",
        "¿Qué hago si la policía me da el alto?",
        "necesito ayuda con ICE",
        "dar de alta",
        "no quiero parar",
        "cancelar la cita",
        "suscribir a noticias",
        "start over",
        "",
        "   ",
        "1",
        "0",
    ],
)
def test_questions_containing_keywords_are_not_keywords(text):
    assert classify(text) is None


def test_normalize_keyword_strips_accents_case_and_punctuation():
    assert normalize_keyword(" ¡Ayúda! ") == "AYUDA"
    assert normalize_keyword("...") == ""


RECEIVED = datetime(2026, 3, 5, 12, 0, tzinfo=UTC)


def _form(**fields):
    return {"From": "+15551230001", "Body": "", "MessageSid": "SMtest1", **fields}


@pytest.mark.parametrize(
    ("body", "command"),
    [
        ("STOP", "opt_out"),
        ("baja", "opt_out"),
        ("Start", "opt_in"),
        ("ALTA", "opt_in"),
        ("yes", "opt_in_if_opted_out"),
        ("Ayuda", "help"),
        ("info", "help"),
    ],
)
def test_keyword_becomes_a_command_with_the_word_as_sent(body, command):
    parsed = parse_sms(_form(Body=f" {body} "), received_at=RECEIVED)

    assert parsed.inbound.kind is InboundKind.COMMAND
    assert parsed.inbound.command == command
    assert parsed.inbound.text == body
    assert parsed.inbound.message_id == "SMtest1"
    assert parsed.inbound.locale_hint is None


def test_ordinary_text_is_passed_unchanged():
    parsed = parse_sms(_form(Body="¿Qué es SOP 130? "), received_at=RECEIVED)

    assert parsed.inbound.kind is InboundKind.TEXT
    assert parsed.inbound.text == "¿Qué es SOP 130? "
    assert parsed.inbound.address.channel == "sms"
    assert parsed.inbound.address.id == "+15551230001"
    assert parsed.inbound.received_at == RECEIVED
    assert parsed.keyword is None


def test_media_without_text_is_media_and_media_with_text_is_text():
    media = parse_sms(_form(NumMedia="1", Body=""), received_at=RECEIVED)
    captioned = parse_sms(_form(NumMedia="2", Body="hola"), received_at=RECEIVED)

    assert media.inbound.kind is InboundKind.MEDIA
    assert captioned.inbound.kind is InboundKind.TEXT


@pytest.mark.parametrize(
    "form", [{"Body": "hi"}, {"From": "", "Body": "x"}, {"From": "+1\n555", "Body": "x"}]
)
def test_a_form_without_a_plausible_sender_is_malformed(form):
    with pytest.raises(MalformedWebhook):
        parse_sms(form, received_at=RECEIVED)


def test_a_form_without_body_is_an_empty_message():
    parsed = parse_sms({"From": "+15550100"}, received_at=RECEIVED)

    assert (parsed.inbound.kind, parsed.inbound.text) == (InboundKind.TEXT, "")
