"""How pages read aloud, and ``kyrbot check``'s estimate of how long each takes to say."""

from __future__ import annotations

from bot.channels.voice.render import aloud, seconds, speak
from bot.channels.voice.words import english
from bot.checks.run import run_checks
from bot.messages import Choice, Reply
from tests.conftest import make_config

WORDS = {"en": english(), "es": {**english(), "press": "{label}: oprima {n}."}}


def test_a_web_address_is_said_as_its_site_and_bullets_become_sentences():
    said = aloud("See https://www.aclu.org/know-your-rights/ice now.\n- One\n- Two", english())
    assert said == "See the website aclu.org now. One. Two."


def test_choices_are_read_with_their_keys_in_the_callers_language():
    reply = Reply(
        "Hola.",
        choices=(Choice("n:kyr.door", "Policía o ICE en mi puerta"),),
        nav=(Choice("c:menu", "Menú"), Choice("l:en", "English")),
        locale="es",
    )
    speech = speak([reply], WORDS)
    assert speech.prompt[0].text.startswith("Policía o ICE en mi puerta: oprima 1.")
    assert speech.prompt[-1].locale == "en"  # the other language is offered in its own voice
    assert speech.language_choice == "l:en"


def test_the_language_question_asks_in_each_language():
    reply = Reply("", choices=(Choice("l:en", "English"), Choice("l:es", "Español")))
    speech = speak([reply], WORDS)
    assert [s.locale for s in speech.prompt] == ["en", "es"]
    assert "oprima 2" in speech.prompt[1].text


def test_speaking_time_is_estimated_from_words_per_minute():
    assert seconds("one two three", 60) == 3.0


def test_check_estimates_every_page_in_every_locale_and_warns_above_the_limit():
    report = run_checks(make_config(twilio={"voice": {"max_seconds": 10}}))
    assert report.ok
    pages = {(v["id"], v["locale"]) for v in report.voice}
    assert ("kyr.menu", "es") in pages and ("kyr.menu", "en") in pages
    assert any(w.code == "voice_length" and "kyr.menu" in w.message for w in report.warnings)
    relaxed = run_checks(make_config(twilio={"voice": {"max_seconds": 600}}))
    assert not [w for w in relaxed.warnings if w.code == "voice_length"]


DIALOG = """
dialog: t
main: true
start: menu
nodes:
  menu:
    say: "Type your question, or see https://example.org."
    voice: "Say your question, {org_name}."
    choices:
      - {label: "Other", go: other}
  other:
    say: "Other."
    voice: ""
"""


def test_a_voice_text_is_parsed_extracted_for_translators_and_checked():
    from bot.content.babel import dialog_messages
    from bot.content.dialogs import parse_dialog_text

    problems: list = []
    _dialog, _main, nodes = parse_dialog_text(DIALOG, "t.yaml", problems)
    menu = next(n for n in nodes if n.name == "menu")
    assert menu.voice == "Say your question, {org_name}."
    assert "org_name" in menu.placeholders
    extracted = {ctx: msgid for _line, _f, (ctx, msgid), _c in dialog_messages(nodes)}
    assert extracted["t.menu:voice"] == menu.voice
    assert any("empty 'voice:'" in p.message for p in problems)


def test_a_call_says_the_voice_text_of_a_page_that_has_one(service):
    from bot.conversation.render import Renderer

    content = service.content
    renderer = Renderer(content, service.renderer.organization)
    reply = renderer.render(content.engine.page("kyr.menu", "es"), "es")
    assert reply.spoken is not None and "teclado" in reply.spoken
    assert "teclado" not in reply.text  # the written page is unchanged
    speech = speak([reply], WORDS)
    assert "teclado" in speech.page[0].text
