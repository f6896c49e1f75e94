"""The engine's decisions, as tables of (state, input) -> what the person is shown next."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from bot.content import strings as texts
from bot.conversation.engine import Engine
from bot.conversation.state import Event, State, Step
from bot.conversation.version import Content
from bot.messages import InboundKind
from tests.support.paths import NOW

MENU = "kyr.menu"
EMERGENCY = "kyr.emergency"


def step(engine: Engine, state: State, text: str = "", **kw: object) -> Step:
    return engine.step(state, Event(now=kw.pop("now", NOW), text=text, **kw))  # type: ignore[arg-type]


def msgids(result: Step) -> list[str]:
    return [line.text.msgid for reply in result.replies for line in reply.lines]


@pytest.fixture
def engine(content: Content) -> Engine:
    return content.engine


@pytest.fixture
def es(engine: Engine) -> State:
    return step(engine, State(), "2").state or State()


def first_choice_target(content: Content, node: str) -> str:
    return content.dialogs.node(node).choices[0].target


# --- first contact and language --------------------------------------------------------


def test_first_contact_without_a_hint_asks_for_the_language_in_every_language(engine):
    result = step(engine, State(), "xyzzy")
    assert result.state is not None and result.state.awaiting_language
    [reply] = result.replies
    assert [line.locale for line in reply.lines] == list(engine.locales)
    assert [c.id for c in reply.choices] == [f"l:{loc}" for loc in engine.locales]


@pytest.mark.parametrize(
    ("answer", "locale"),
    [
        ("2", "es"),
        ("español", "es"),
        ("Espanol", "es"),
        ("spanish", "es"),
        ("1", "en"),
        ("english", "en"),
        ("inglés", "en"),
    ],
)
def test_the_language_answer_sets_the_locale_and_shows_the_menu(engine, answer, locale):
    prompted = step(engine, State(), "xyzzy").state
    result = step(engine, prompted, answer)
    assert result.state is not None and result.state.locale == locale
    assert result.topic == MENU


@pytest.mark.parametrize(("hint", "locale"), [("es-419", "es"), ("es", "es"), ("en-US", "en")])
def test_a_platform_language_hint_decides_without_asking(engine, hint, locale):
    result = step(engine, State(), "xyzzy", locale_hint=hint)
    assert result.state.locale == locale
    assert result.topic == MENU


@pytest.mark.parametrize(
    ("text", "locale"), [("hola", "es"), ("buenas tardes", "es"), ("hi", "en")]
)
def test_clear_first_words_decide_the_language(engine, text, locale):
    result = step(engine, State(), text)
    assert result.state.locale == locale
    assert result.topic == MENU


def test_an_unsupported_hint_falls_back_to_asking(engine):
    result = step(engine, State(), "xyzzy", locale_hint="pt-BR")
    assert result.state.awaiting_language


# --- choices ---------------------------------------------------------------------------


def test_a_number_picks_that_choice_of_the_current_node(engine, content, es):
    result = step(engine, es, "1")
    assert result.topic == first_choice_target(content, MENU)


def test_a_button_id_opens_its_node(engine, es):
    assert step(engine, es, choice_id="n:kyr.warrants").topic == "kyr.warrants"


def test_a_number_beyond_the_choices_says_which_numbers_are_valid(engine, es):
    result = step(engine, es, "9" * 3)
    assert texts.OUT_OF_RANGE.msgid in msgids(result)
    assert result.state.node == MENU


def test_a_question_mark_means_help(engine, es):
    result = step(engine, es, "?")
    assert result.topic == "kyr.help"


def test_a_label_typed_with_typos_and_no_accents_picks_that_choice(engine, content, es):
    menu = content.dialogs.node(MENU)
    choice = menu.choices[1]
    spanish = content.translator.gettext("es", menu.choice_context(choice), choice.label)
    sloppy = spanish.upper().replace("Á", "A").replace("É", "E").replace("Í", "I")
    sloppy = sloppy.replace("Ó", "O").replace("Ú", "U")[:-1]  # and the last letter dropped
    assert step(engine, es, sloppy).topic == choice.target


def test_a_label_in_the_other_language_also_works(engine, content, es):
    menu = content.dialogs.node(MENU)
    choice = menu.choices[0]
    assert step(engine, es, choice.label).topic == choice.target


# --- global commands -------------------------------------------------------------------


@pytest.fixture
def deep(engine, es) -> State:
    """A Spanish conversation two pages deep."""
    first = step(engine, es, "1").state
    return step(engine, first, "1").state


@pytest.mark.parametrize("word", ["menu", "menú", "MENU", "inicio", "0"])
def test_menu_words_in_either_language_go_home_from_anywhere(engine, deep, word):
    assert step(engine, deep, word).topic == MENU


@pytest.mark.parametrize("word", ["back", "atrás", "atras", "volver"])
def test_back_words_return_to_the_previous_page(engine, deep, word):
    previous = deep.history[-1]
    result = step(engine, deep, word)
    assert result.state.node == previous


@pytest.mark.parametrize("word", ["ICE", "migra", "la migra", "EMERGENCIA", "help now"])
def test_one_emergency_word_reaches_the_emergency_page_from_anywhere(engine, deep, word):
    assert step(engine, deep, word).topic == EMERGENCY


def test_an_emergency_word_works_even_before_a_language_is_chosen(engine):
    result = step(engine, State(), "MIGRA")
    assert result.topic == EMERGENCY
    assert result.state.locale == "es"


@pytest.mark.parametrize("word", ["help", "ayuda"])
def test_help_words_show_help(engine, deep, word):
    expected = engine.dialogs.role("help") or MENU
    assert step(engine, deep, word).topic == expected


def test_help_where_carriers_require_it_gives_the_programme_line(engine, deep):
    result = step(
        engine, deep, command="help", kind=InboundKind.COMMAND, channel="sms", carrier_help=True
    )
    assert msgids(result) == [texts.SMS_HELP.msgid]


@pytest.mark.parametrize("word", ["english", "inglés"])
def test_switching_language_keeps_the_page(engine, deep, word):
    result = step(engine, deep, word)
    assert result.state.locale == "en"
    assert result.state.node == deep.node


def test_the_language_command_asks_again(engine, deep):
    result = step(engine, deep, "idioma")
    assert result.state.awaiting_language
    assert step(engine, result.state, "1").state.locale == "en"


def test_forget_erases_the_state_and_asks_the_service_to_delete(engine, deep):
    result = step(engine, deep, "borrar")
    assert result.state is None
    assert result.actions == ("forget",)
    assert result.replies[0].lines[0].locale == "es"


# --- free text -------------------------------------------------------------------------


def test_a_clear_question_goes_straight_to_its_topic(engine, es):
    result = step(engine, es, "qué es una orden judicial")
    assert result.topic == "kyr.warrants"


def test_an_unclear_message_says_so_briefly_with_the_way_to_the_menu(engine, es):
    keywords_only = replace(engine, model=None)
    keywords_only.__post_init__()
    result = step(keywords_only, es, "zzq xxv")
    assert texts.NOT_UNDERSTOOD.msgid in msgids(result)
    assert result.replies[0].choices == ()
    assert "c:menu" in [c.id for c in result.replies[0].nav]
    assert result.topic is None


def test_a_question_no_topic_answers_says_what_the_line_is_for(engine, es):
    result = step(engine, es, "el clima de mañana en milwaukee")
    assert texts.OUT_OF_SCOPE.msgid in msgids(result)
    assert result.replies[0].choices == ()
    assert result.topic is None


def test_repeated_misses_offer_a_person(engine, es):
    once = step(engine, es, "el clima")
    assert texts.HANDOFF.msgid not in msgids(once)
    twice = step(engine, once.state, "la pizza")
    assert texts.HANDOFF.msgid in msgids(twice)


def test_an_understood_message_resets_the_miss_count(engine, es):
    missed = step(engine, es, "el clima").state
    assert step(engine, missed, "1").state.misses == 0


# --- time, reloads, odd input ----------------------------------------------------------


def test_an_idle_session_expires_to_a_fresh_greeting_but_keeps_the_language(engine, deep):
    later = NOW + engine.settings.idle + timedelta(seconds=1)
    result = step(engine, replace(deep, last_at=NOW), "5", now=later)
    assert result.topic == MENU
    assert result.state.history == ()
    assert result.state.locale == "es"


def test_a_session_within_the_idle_time_continues(engine, deep):
    soon = NOW + engine.settings.idle - timedelta(seconds=1)
    result = step(engine, replace(deep, last_at=NOW), "menu", now=soon)
    assert result.topic == MENU


def test_a_session_on_a_node_that_no_longer_exists_returns_to_the_menu(engine, es):
    gone = replace(es, node="kyr.removed_page", history=("kyr.also_gone",))
    result = step(engine, gone, "1")
    assert result.state.node in engine.dialogs.nodes
    assert all(h in engine.dialogs.nodes for h in result.state.history)


def test_group_chats_get_one_line_and_nothing_changes(engine, deep):
    result = step(engine, deep, "1", group_chat=True)
    assert msgids(result) == [texts.GROUP_CHAT.msgid]
    assert result.state == deep


def test_media_gets_a_text_only_reply(engine, deep):
    result = step(engine, deep, kind=InboundKind.MEDIA)
    assert msgids(result) == [texts.MEDIA_ONLY.msgid]


def test_the_disclaimer_is_shown_once_per_conversation(engine, es):
    first = step(engine, es, "1")
    assert texts.DISCLAIMER.msgid in msgids(first)
    again = step(engine, step(engine, first.state, "menu").state, "2")
    assert texts.DISCLAIMER.msgid not in msgids(again)


def test_the_same_event_on_the_same_state_gives_the_same_step(engine, deep):
    assert step(engine, deep, "qué es una orden judicial") == step(
        engine, deep, "qué es una orden judicial"
    )


def test_state_survives_a_json_round_trip(engine, deep):
    assert State.from_json(deep.to_json()) == deep


@pytest.mark.parametrize("garbage", [{"node": 3, "history": "x"}, {"last_at": "yesterday"}, None])
def test_corrupt_saved_state_becomes_a_fresh_state(garbage):
    assert State.from_json(garbage, locale="es").node is None


def test_start_deep_link_opens_a_topic_in_the_hinted_language(engine):
    result = step(
        engine, State(), "warrants", kind=InboundKind.COMMAND, command="start", locale_hint="es"
    )
    assert result.topic == "kyr.warrants"
    assert result.state.locale == "es"


def test_start_with_a_language_payload_shows_the_menu_in_it(engine):
    result = step(engine, State(), "es", kind=InboundKind.COMMAND, command="start")
    assert (result.topic, result.state.locale) == (MENU, "es")


def test_opt_out_and_back_in(engine, deep):
    out = step(engine, deep, "BAJA", kind=InboundKind.COMMAND, command="opt_out")
    assert out.actions == ("opt_out",)
    back = step(engine, out.state, "ALTA", kind=InboundKind.COMMAND, command="opt_in")
    assert back.actions == ("opt_in",)
    assert back.topic == MENU


def test_yes_is_an_opt_in_only_for_someone_opted_out(engine, deep):
    kw = {"kind": InboundKind.COMMAND, "command": "opt_in_if_opted_out"}
    assert step(engine, deep, "YES", opted_out=True, **kw).actions == ("opt_in",)
    assert step(engine, deep, "YES", opted_out=False, **kw).actions == ()
