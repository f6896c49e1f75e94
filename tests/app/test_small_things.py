"""The little things a newcomer hit: numbers out of range, "?", HELP, pipes, warnings."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bot.content import strings as texts
from bot.conversation.render import Renderer
from bot.conversation.state import Event, State
from bot.conversation.version import Content
from tests.support.keys import TEST_ENCRYPTION_KEY, TEST_HASH_KEY
from tests.support.paths import NOW, ROOT

KYRBOT = [sys.executable, "-m", "bot"]


def chat(*lines: str, lang: str = "es") -> list[dict[str, object]]:
    done = subprocess.run(
        [*KYRBOT, "chat", "--json", "--lang", lang],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
        timeout=120,
    )
    return [json.loads(line) for line in done.stdout.splitlines()]


def text_of(record: dict[str, object]) -> str:
    return "\n".join(r["text"] for r in record["replies"])  # type: ignore[index,union-attr]


def test_a_number_out_of_range_says_which_numbers_are_valid():
    [_menu, answer] = chat("hola", "17")
    assert "del 1 al 9" in text_of(answer)


def test_a_question_mark_means_help_as_the_help_text_says():
    [_menu, answer] = chat("hola", "?")
    assert answer["node"] == "kyr.help"


def test_the_sms_help_reply_names_the_one_word_for_the_emergency_page(content: Content):
    engine = content.engine
    for locale, word in (("en", "ICE"), ("es", "MIGRA")):
        state = State(locale=locale, node=engine.dialogs.main_menu)
        step = engine.step(state, Event(now=NOW, text="help", carrier_help=True))
        reply = Renderer(content, content_organization()).render(step.replies[0], locale)
        assert word in reply.text
        assert engine.commands.command(word.lower()) == "emergency"


def content_organization():
    from bot.config import OrganizationConfig

    return OrganizationConfig(org_name="Test Org")


def test_the_subscribe_confirmation_names_a_word_that_really_stops_updates(content: Content):
    engine = content.engine
    for locale in ("en", "es"):
        said = content.translator.text(locale, texts.SUBSCRIBED)
        words = [w for w in said.split(",")[-1].split(".")[0].split() if w.isupper()]
        assert engine.commands.command(" ".join(words).lower()) == "unsubscribe", said


def test_check_json_piped_into_head_exits_quietly():
    done = subprocess.run(
        f"{sys.executable} -m bot check --json | head -n 1",
        shell=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert done.stdout.strip() == "{"
    assert done.stderr == ""


def test_ask_options_have_help_text():
    done = subprocess.run(
        [*KYRBOT, "ask", "--help"], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert "the reader's locale" in done.stdout
    assert "as a person would type it" in done.stdout


def test_check_warns_when_the_hotline_is_not_set():
    done = subprocess.run(
        [*KYRBOT, "check"], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert "organization.hotline is not set" in done.stdout


def test_serve_warns_loudly_when_the_hotline_is_not_set(tmp_path: Path):
    config = tmp_path / "config.yaml"
    config.write_text(
        f"server: {{port: 0}}\ndatabase: {{url: 'sqlite+aiosqlite:///{tmp_path}/db.sqlite3'}}\n"
        f"content: {{dialogs_dir: {ROOT / 'dialogs'}, locales_dir: {ROOT / 'locales'}}}\n"
        f"privacy: {{encryption_key: '{TEST_ENCRYPTION_KEY}', hash_key: '{TEST_HASH_KEY}'}}\n",
        encoding="utf-8",
    )
    server = subprocess.Popen(
        [*KYRBOT, "serve", "--config", str(config)],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        cwd=tmp_path,
    )
    try:
        assert server.stderr is not None
        first = server.stderr.readline()
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        if server.stderr is not None:
            server.stderr.close()
    assert first.startswith("WARNING: organization.hotline is not set")


def test_chat_as_sms_applies_the_sms_keywords_as_the_sms_adapter_does():
    done = subprocess.run(
        [*KYRBOT, "chat", "--json", "--as", "sms"],
        input="hola\nAYUDA\nBAJA\nALTA\n",
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
        timeout=120,
    )
    records = [json.loads(line) for line in done.stdout.splitlines()]
    texts_shown = [text_of(r) for r in records]
    assert "MIGRA" in texts_shown[1]  # the carriers' HELP notice, naming the emergency word
    assert "ALTA" in texts_shown[2]  # opted out: how to come back
    assert records[3]["node"] == "kyr.menu"  # opted back in, at the menu
