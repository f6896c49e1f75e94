"""Typed messages understood as people mean them: urgency first, ask back, language follows."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import parse_config
from bot.content.examples import load_examples
from bot.conversation import classifier
from bot.conversation.state import Event, State
from bot.conversation.version import Content, load_content
from bot.errors import ContentError
from tests.support.paths import NOW, ROOT

CHAT = [sys.executable, "-m", "bot", "chat", "--json"]


def chat(*lines: str, extra: tuple[str, ...] = ()) -> list[dict[str, object]]:
    """Talk to the bot in the terminal, one JSON record per line typed."""
    done = subprocess.run(
        [*CHAT, *extra],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
        timeout=120,
    )
    return [json.loads(line) for line in done.stdout.splitlines()]


def ask(text: str, *extra: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-m", "bot", "ask", text, "--json", *extra],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
        timeout=120,
    )
    record: dict[str, object] = json.loads(done.stdout)
    return record


# What a newcomer typed, each in a conversation that was in English until then.
REPORTED = [
    ("AYUDA LA MIGRA", "kyr.emergency", "es"),
    ("ayuda por favor la migra", "kyr.emergency", "es"),
    ("ya se metieron", "kyr.emergency", "es"),
    ("la migra me esta siguiendo", "kyr.emergency", "es"),
    ("what if ICE comes to my job", "kyr.workplace", "en"),
    ("donde lo tienen?", "kyr.find_relative", "es"),
    ("necesito ayuda", "kyr.need_help", "es"),
    ("tengo miedo", "kyr.scared", "es"),
    ("HOLA!!!", "kyr.greeting", "en"),
    ("gracias", "kyr.thanks", "en"),
]


def test_every_reported_message_routes_right_in_the_terminal_chat():
    lines = [line for text, _node, _locale in REPORTED for line in ("english", text)]
    records = chat(*lines)
    answers = records[1::2]
    got = [(r["input"], r["node"], r["locale"]) for r in answers]
    assert got == [(text, node, locale) for text, node, locale in REPORTED]


def test_urgent_messages_open_the_emergency_page_from_any_page():
    records = chat("hi", "2", "ICE ESTA AFUERA DE MI CASA AHORITA", "they are taking my dad now")
    assert [r["node"] for r in records[2:]] == ["kyr.emergency", "kyr.emergency"]


def test_no_hablo_ingles_switches_to_spanish_and_offers_the_way_back():
    records = chat("hi", "no hablo ingles")
    last = records[-1]
    assert last["locale"] == "es"
    nav = [c["label"] for reply in last["replies"] for c in reply["choices"]]  # type: ignore[union-attr]
    assert "English" in nav


def test_a_spanish_question_after_hi_is_answered_in_spanish():
    records = chat("hi", "que hago si la policia me para en el carro")
    assert (records[-1]["node"], records[-1]["locale"]) == ("kyr.traffic_stop", "es")


def test_a_one_word_message_keeps_the_language():
    records = chat("hi", "ok")
    assert records[-1]["locale"] == "en"


def test_the_newest_words_win_over_an_earlier_explicit_choice():
    records = chat("español", "what do i do if police stop my car")
    assert records[-1]["locale"] == "en"


def test_ask_says_an_emergency_word_opens_the_emergency_page_as_chat_does():
    record = ask("migra")
    assert record["node"] == "kyr.emergency"
    assert record["confident"] is True
    assert record["decided_by"] == "command"


TABLE = [
    "AYUDA LA MIGRA",
    "what if ICE comes to my job",
    "my brother was picked up by ice where is he",
    "how much does a divorce lawyer cost",
    "can the police search my car",
    "la policia de milwaukee trabaja con la migra?",
    "ugh",
]


@pytest.mark.parametrize("text", TABLE)
def test_ask_and_chat_agree(text):
    record = ask(text)
    shown = chat("hi", "0", text)[-1]
    if record["node"] is not None:
        assert shown["node"] == record["node"]
    else:
        assert shown["node"] != "kyr.emergency" or record["decided_by"] == "urgency"
    assert set(record) >= {"node", "score", "confident", "text", "decided_by", "candidates"}
    assert len(record["candidates"]) <= 3  # type: ignore[arg-type]


def test_an_unsure_message_asks_back_with_numbered_topics(content: Content):
    engine = content.engine
    state = State(locale="en", node=engine.dialogs.main_menu)
    # Find a message the model is unsure about among blends of two topics.
    for text in ("police at my door or my car", "papers job police", "arrested family jail"):
        step = engine.step(state, Event(now=NOW, text=text))
        if step.decision is not None and step.decision.ask_back:
            break
    else:
        pytest.skip("no blended message was ambiguous for this model")
    offered = step.decision.candidates
    reply = step.replies[0]
    assert [c.id for c in reply.choices] == [f"n:{c.node}" for c in offered][: len(reply.choices)]
    assert step.state is not None
    picked = engine.step(step.state, Event(now=NOW, text="1"))
    assert picked.topic == reply.choices[0].id.removeprefix("n:")


def test_a_message_no_topic_answers_gets_a_short_answer_and_the_way_to_the_menu(content):
    engine = content.engine
    state = State(locale="en", node=engine.dialogs.main_menu)
    step = engine.step(state, Event(now=NOW, text="how much does a divorce lawyer cost"))
    assert step.decision is not None and step.decision.node is None
    reply = step.replies[0]
    assert reply.choices == ()
    assert "c:menu" in [c.id for c in reply.nav]


def test_reload_rebuilds_the_model_from_changed_examples(tmp_path: Path):
    dialogs = tmp_path / "dialogs"
    shutil.copytree(ROOT / "dialogs", dialogs)
    config = parse_config(
        {
            "content": {
                "dialogs_dir": str(dialogs),
                "locales_dir": str(ROOT / "locales"),
                "cache_dir": str(tmp_path / "cache"),
            }
        }
    )
    before = load_content(config)
    message = "zorblax quuxifier"
    assert before.engine.decide(message, "en").node is None
    extra = dialogs / "examples" / "en.yaml"
    text = extra.read_text(encoding="utf-8")
    taught = "".join(f'    - "zorblax quuxifier {i}"\n' for i in range(12))
    extra.write_text(text.replace("  door:\n", "  door:\n" + taught, 1), encoding="utf-8")
    after = load_content(config)
    assert after.examples.digest != before.examples.digest
    assert after.engine.decide(message, "en").node == "kyr.door"


def test_an_unchanged_model_is_loaded_from_the_cache_without_training(tmp_path, monkeypatch):
    config = parse_config(
        {
            "content": {
                "dialogs_dir": str(ROOT / "dialogs"),
                "locales_dir": str(ROOT / "locales"),
                "cache_dir": str(tmp_path),
            }
        }
    )
    first = load_content(config)

    def refuse(*_args, **_kwargs):
        raise AssertionError("trained again although the examples did not change")

    monkeypatch.setattr(classifier, "train", refuse)
    second = load_content(config)
    text = "what if ICE comes to my job"
    assert second.engine.decide(text, "en") == first.engine.decide(text, "en")


def test_a_language_with_no_examples_still_routes_by_keywords(tmp_path: Path):
    locales = tmp_path / "locales"
    shutil.copytree(ROOT / "locales", locales)
    # A pseudo-locale: the Spanish catalog under another code, with no examples of its own.
    pseudo = locales / "eo" / "LC_MESSAGES"
    pseudo.mkdir(parents=True)
    po = (locales / "es" / "LC_MESSAGES" / "messages.po").read_text(encoding="utf-8")
    (pseudo / "messages.po").write_text(po.replace("Language: es", "Language: eo"), "utf-8")
    config = parse_config(
        {
            "locales": ["en", "es", "eo"],
            # The examples are the shipped ones: the session's trained model is reused.
            "content": {"dialogs_dir": str(ROOT / "dialogs"), "locales_dir": str(locales)},
        }
    )
    content = load_content(config)
    decision = content.engine.decide("orden judicial", "eo")
    assert decision.node == "kyr.warrants"
    assert decision.decided_by in {"keywords", "model"}
    assert "eo" not in content.examples.locales


def test_an_example_under_an_unknown_label_is_an_error_with_file_and_line(tmp_path):
    folder = tmp_path / "examples"
    folder.mkdir()
    (folder / "en.yaml").write_text(
        'locale: en\nexamples:\n  door:\n    - "hi"\n  nowhere:\n    - "x"\n', "utf-8"
    )
    with pytest.raises(ContentError) as error:
        load_examples(folder, labels=["door"], base=tmp_path)
    assert "examples/en.yaml:5: unknown label 'nowhere'" in str(error.value)


def test_broken_examples_yaml_is_an_error_with_file_and_line(tmp_path):
    folder = tmp_path / "examples"
    folder.mkdir()
    (folder / "es.yaml").write_text('examples:\n  door:\n    - "sin cerrar\n', "utf-8")
    with pytest.raises(ContentError) as error:
        load_examples(folder, labels=["door"], base=tmp_path)
    assert "examples/es.yaml:" in str(error.value)
    assert "not valid YAML" in str(error.value)


def test_the_same_text_under_two_labels_is_reported(tmp_path):
    folder = tmp_path / "examples"
    folder.mkdir()
    (folder / "en.yaml").write_text(
        'examples:\n  door:\n    - "Help"\n  person:\n    - "help"\n', "utf-8"
    )
    found = load_examples(folder, labels=["door", "person"], base=tmp_path)
    ((first, second),) = found.duplicates
    assert (first.label, second.label, second.line) == ("door", "person", 5)
