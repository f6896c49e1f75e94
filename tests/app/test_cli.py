"""The ``kyrbot`` command as a person runs it: real processes, real pipes, exit codes."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.paths import ROOT


def kyrbot(*args: str, stdin: str = "", cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=60,
        check=False,
    )


def test_piped_chat_in_spanish_prints_spanish_replies_and_exits_0():
    result = kyrbot("chat", stdin="hola\n1\nmenu\n")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    blocks = [b for b in result.stdout.split("\n\n") if b.strip()]
    assert blocks
    # The menu's Spanish text is shown (first and last reply) rather than the English source.
    from bot.config import Config
    from bot.conversation.version import load_content

    content = load_content(
        Config(content={"dialogs_dir": ROOT / "dialogs", "locales_dir": ROOT / "locales"})
    )
    menu = content.dialogs.node("kyr.menu")
    spanish_menu = content.translator.gettext("es", menu.say_context, menu.say)
    assert spanish_menu != menu.say
    assert result.stdout.count(spanish_menu.splitlines()[0]) == 2
    assert menu.say.splitlines()[0] not in result.stdout


def test_chat_json_gives_one_object_per_input_line():
    result = kyrbot("chat", "--json", "--lang", "es", stdin="menu\n1\nzzzz qqqq\n")
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["input"] for r in records] == ["menu", "1", "zzzz qqqq"]
    assert records[0]["node"] == "kyr.menu" and records[0]["locale"] == "es"
    assert all(r["replies"] and r["replies"][0]["text"] for r in records)
    assert {"id", "label"} <= set(records[0]["replies"][0]["choices"][0])


def test_chat_as_sms_shows_segment_counts_when_asked():
    result = kyrbot("chat", "--lang", "es", "--as", "sms", "--show-segments", stdin="menu\n")
    assert result.returncode == 0, result.stderr
    assert "segment(s)" in result.stdout and ("GSM-7" in result.stdout or "UCS-2" in result.stdout)


def test_ask_explains_the_routing_as_json():
    result = kyrbot("ask", "qué es una orden judicial", "--json")
    record = json.loads(result.stdout)
    assert record["node"] == "kyr.warrants" and record["confident"] is True
    assert isinstance(record["score"], float) and record["text"]


def test_check_passes_on_the_shipped_content():
    result = kyrbot("check")
    assert result.returncode == 0, result.stdout + result.stderr


def copy_content(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "dialogs", tmp_path / "dialogs")
    shutil.copytree(ROOT / "locales", tmp_path / "locales")
    return tmp_path


@pytest.mark.parametrize("command", [["check"], ["chat"]])
def test_a_broken_dialog_is_reported_with_file_and_line_not_a_traceback(tmp_path, command):
    folder = copy_content(tmp_path)
    path = folder / "dialogs" / "kyr.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "\n  broken: [\n", encoding="utf-8")
    result = kyrbot(*command, stdin="hola\n", cwd=folder)
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    assert "dialogs/kyr.yaml:" in result.stdout + result.stderr


@pytest.mark.parametrize("command", [["check"], ["chat"]])
def test_a_broken_po_file_is_reported_with_file_and_line_not_a_traceback(tmp_path, command):
    folder = copy_content(tmp_path)
    path = folder / "locales" / "es" / "LC_MESSAGES" / "messages.po"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines.insert(30, 'msgstr "a second msgstr for one entry"')
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = kyrbot(*command, stdin="hola\n", cwd=folder)
    assert result.returncode == 1
    output = result.stdout + result.stderr
    assert "Traceback" not in output
    assert "locales/es/LC_MESSAGES/messages.po:" in output


def test_a_bad_config_names_the_key_and_exits_2(tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text("session:\n  idle_minutes: -3\n", encoding="utf-8")
    result = kyrbot("check", "--config", str(config))
    assert result.returncode == 2
    assert "session.idle_minutes" in result.stderr and "Traceback" not in result.stderr
