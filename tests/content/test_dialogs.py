"""Each way a dialog file can be wrong is rejected with file:line and a hint."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from bot.content.dialogs import load_dialogs
from bot.content.validate import MAX_CHOICES
from bot.errors import DialogError, Problem

GOOD = """\
dialog: t
main: true
start: menu
nodes:
  menu:
    say: Pick one.
    choices:
      - {label: "A", go: a}
  a:
    say: Page A.
"""


def write(tmp_path: Path, text: str, name: str = "t.yaml") -> Path:
    folder = tmp_path / "dialogs"
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(textwrap.dedent(text), encoding="utf-8")
    return folder


def problems_of(folder: Path) -> list[str]:
    with pytest.raises(DialogError) as caught:
        load_dialogs(folder, base=folder.parent)
    return [str(p) for p in caught.value.problems]


def test_a_valid_dialog_loads_with_qualified_ids(tmp_path: Path) -> None:
    dialogs = load_dialogs(write(tmp_path, GOOD))
    assert dialogs.main_menu == "t.menu"
    assert set(dialogs.nodes) == {"t.menu", "t.a"}


def test_yaml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    folder = write(tmp_path, GOOD.replace("say: Page A.", 'say: "unterminated'))
    [problem] = problems_of(folder)
    assert problem.startswith("dialogs/t.yaml:11:")
    assert "YAML syntax error" in problem and "starts on line 10" in problem


def test_unknown_key_is_rejected_with_the_allowed_keys(tmp_path: Path) -> None:
    folder = write(tmp_path, GOOD.replace("    say: Page A.", "    say: Page A.\n    sya: typo"))
    [problem] = problems_of(folder)
    assert problem.startswith("dialogs/t.yaml:11:")
    assert "unknown key 'sya'" in problem and "hint:" in problem


def test_missing_start_node_is_rejected(tmp_path: Path) -> None:
    folder = write(tmp_path, GOOD.replace("start: menu", "start: welcome"))
    problems = problems_of(folder)
    assert any("dialogs/t.yaml:3:" in p and "start node 'welcome'" in p for p in problems)


def test_duplicate_node_id_is_rejected_with_both_lines(tmp_path: Path) -> None:
    folder = write(tmp_path, GOOD + "  a:\n    say: Again.\n")
    [problem] = problems_of(folder)
    assert problem.startswith("dialogs/t.yaml:11:")
    assert "duplicate key 'a' (first at line 9)" in problem


def test_jump_to_unknown_node_is_rejected(tmp_path: Path) -> None:
    folder = write(tmp_path, GOOD.replace("go: a}", "go: b}"))
    problems = problems_of(folder)
    assert any(p.startswith("dialogs/t.yaml:8:") and "unknown node 't.b'" in p for p in problems)


def test_unreachable_node_is_rejected(tmp_path: Path) -> None:
    folder = write(tmp_path, GOOD + "  orphan:\n    say: Nobody links here.\n")
    [problem] = problems_of(folder)
    assert problem.startswith("dialogs/t.yaml:11:")
    assert "'orphan' cannot be reached" in problem


def test_dead_end_without_navigation_is_rejected(tmp_path: Path) -> None:
    folder = write(tmp_path, GOOD.replace("    say: Page A.", "    say: Page A.\n    nav: false"))
    [problem] = problems_of(folder)
    assert problem.startswith("dialogs/t.yaml:9:")
    assert "dead end" in problem


def test_more_choices_than_an_sms_menu_carries_is_rejected(tmp_path: Path) -> None:
    many = "".join(f'      - {{label: "A{i}", go: a}}\n' for i in range(MAX_CHOICES + 1))
    folder = write(tmp_path, GOOD.replace('      - {label: "A", go: a}\n', many))
    [problem] = problems_of(folder)
    assert problem.startswith("dialogs/t.yaml:5:")
    assert f"offers {MAX_CHOICES + 1} choices" in problem


def test_unknown_placeholder_is_rejected_with_the_known_ones(tmp_path: Path) -> None:
    folder = write(tmp_path, GOOD.replace("say: Page A.", "say: Call {hotlien}."))
    [problem] = problems_of(folder)
    assert problem.startswith("dialogs/t.yaml:9:")
    assert "unknown placeholder {hotlien}" in problem and "{hotline}" in problem


def test_unbalanced_brace_is_rejected(tmp_path: Path) -> None:
    folder = write(tmp_path, GOOD.replace("say: Page A.", "say: 'Call {hotline.'"))
    problems = problems_of(folder)
    assert any("dialogs/t.yaml:10:" in p and "brace" in p for p in problems)


def test_empty_keyword_list_is_rejected(tmp_path: Path) -> None:
    folder = write(
        tmp_path, GOOD.replace("    say: Page A.", "    say: Page A.\n    keywords: ' , '")
    )
    [problem] = problems_of(folder)
    assert problem.startswith("dialogs/t.yaml:11:") and "empty keyword list" in problem


def test_no_main_dialog_is_rejected(tmp_path: Path) -> None:
    folder = write(tmp_path, GOOD.replace("main: true\n", ""))
    [problem] = problems_of(folder)
    assert "main: true" in problem


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    broken = GOOD.replace("go: a}", "go: b}").replace("say: Page A.", "say: Call {x}.")
    problems = problems_of(write(tmp_path, broken))
    assert len(problems) >= 2


def test_the_shipped_dialogs_are_valid(content) -> None:
    assert content.dialogs.main_menu == "kyr.menu"


def test_the_shipped_dialogs_read_the_same_with_either_yaml_loader(monkeypatch) -> None:
    """libyaml's loader composes them at start; PyYAML's own must give the same pages."""
    from bot.content import dialogs as module

    text = (Path(__file__).resolve().parents[2] / "dialogs" / "kyr.yaml").read_text("utf-8")
    fast: list[Problem] = []
    composed_fast = module.parse_dialog_text(text, "kyr.yaml", fast)
    monkeypatch.setattr(module, "_FAST_LOADER", None)
    plain: list[Problem] = []
    composed_plain = module.parse_dialog_text(text, "kyr.yaml", plain)
    assert composed_fast == composed_plain and fast == plain == []
    assert len(composed_fast[2]) > 10
