"""The translators' workflow: each check message, the gettext round trip, a new language."""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from babel.messages.pofile import read_po, write_po

from bot.app import App
from bot.checks import run_checks
from bot.config import parse_config
from bot.content.catalog_tools import extract, init, paths_for, update
from bot.conversation.state import Event, State
from bot.conversation.version import load_content
from bot.messages import Address, Inbound
from bot.storage import open_storage
from tests.support.keys import TEST_VAULT
from tests.support.paths import NOW, ROOT

PO = Path("locales/es/LC_MESSAGES/messages.po")


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the content and the extraction map, as a translator's checkout would have."""
    for name in ("dialogs", "locales", "bot"):
        shutil.copytree(ROOT / name, tmp_path / name)
    shutil.copy(ROOT / "babel.cfg", tmp_path / "babel.cfg")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def config_for(root: Path, **extra: object):
    data: dict[str, object] = {
        "content": {"dialogs_dir": str(root / "dialogs"), "locales_dir": str(root / "locales")}
    }
    data.update(extra)
    return parse_config(data)


def edit_catalog(root: Path, change) -> None:
    path = root / PO
    with path.open("rb") as handle:
        catalog = read_po(handle)
    change(catalog)
    buffer = io.BytesIO()
    write_po(buffer, catalog, width=0)
    path.write_bytes(buffer.getvalue())


def entry_with(catalog, predicate):
    return next(m for m in catalog if m.id and m.context and predicate(m))


def codes(report, kind="errors") -> list[str]:
    return [p.code for p in getattr(report, kind)]


# --- each check message ------------------------------------------------------------------


def test_the_shipped_catalogs_are_complete_and_clean(config):
    report = run_checks(config)
    assert report.ok, [str(p) for p in report.errors]
    assert report.locales["es"].missing == 0 and report.locales["es"].fuzzy == 0


def test_a_missing_translation_is_a_warning_and_english_is_shown(project):
    def drop(catalog):
        entry_with(catalog, lambda m: m.context == "kyr.warrants").string = ""

    edit_catalog(project, drop)
    config = config_for(project)
    report = run_checks(config)
    assert report.locales["es"].missing == 1
    [warning] = [p for p in report.warnings if p.code == "missing"]
    assert "kyr.warrants" in warning.message and str(PO) in warning.file
    content = load_content(config)
    node = content.dialogs.node("kyr.warrants")
    assert content.translator.gettext("es", node.say_context, node.say) == node.say
    assert content.translator.fallbacks["es"] == 1


def test_a_fuzzy_translation_is_reported_and_never_shown(project):
    def fuzz(catalog):
        entry_with(catalog, lambda m: m.context == "kyr.door").flags.add("fuzzy")

    edit_catalog(project, fuzz)
    config = config_for(project)
    report = run_checks(config)
    assert report.locales["es"].fuzzy == 1
    [warning] = [p for p in report.warnings if p.code == "fuzzy"]
    assert warning.line > 0
    node = load_content(config).dialogs.node("kyr.door")
    assert load_content(config).translator.gettext("es", node.say_context, node.say) == node.say


def test_an_obsolete_entry_is_counted(project):
    edit_catalog(project, lambda c: c.add("Old text", "Texto viejo", context="kyr.gone_page"))
    assert run_checks(config_for(project)).locales["es"].obsolete >= 1


@pytest.mark.parametrize(
    ("mangle", "fragment"),
    [
        (lambda s: s.replace("{hotline}", ""), "is missing from"),
        (lambda s: s.replace("{hotline}", "{hotlin}"), "{hotlin}"),
        (lambda s: s + " {org_name}", "is not in the English text"),
        (lambda s: s.replace("{hotline}", "{hotline"), "unbalanced"),
    ],
    ids=["missing", "misspelt", "added", "unbalanced"],
)
def test_placeholder_mismatches_are_errors_with_the_po_line(project, mangle, fragment):
    def change(catalog):
        message = entry_with(catalog, lambda m: "{hotline}" in m.id and "{hotline}" in m.string)
        message.string = mangle(message.string)

    edit_catalog(project, change)
    report = run_checks(config_for(project))
    problems = [p for p in report.errors if p.code == "placeholder"]
    assert any(fragment in p.message for p in problems)
    assert all(p.file.endswith(str(PO)) and p.line > 0 for p in problems)


def test_a_broken_translation_never_shows_raw_braces(project):
    def change(catalog):
        message = entry_with(catalog, lambda m: m.context == "kyr.emergency")
        message.string = message.string.replace("{hotline}", "{hotline")

    edit_catalog(project, change)
    content = load_content(config_for(project))
    from bot.conversation.render import Renderer

    reply = Renderer(content, config_for(project).organization).render(
        content.engine.page("kyr.emergency", "es"), "es"
    )
    assert "{" not in reply.text and "}" not in reply.text


@pytest.mark.parametrize("words", [" , ;", "   "])
def test_an_empty_keyword_list_is_an_error(project, words):
    def change(catalog):
        entry_with(catalog, lambda m: m.context.endswith(":keywords")).string = words

    edit_catalog(project, change)
    report = run_checks(config_for(project))
    [problem] = [p for p in report.errors if p.code == "keywords"]
    assert problem.line > 0 and "empty or has no usable words" in problem.message


def test_a_po_syntax_error_is_reported_with_file_and_line(project):
    path = project / PO
    lines = path.read_text(encoding="utf-8").splitlines()
    lines.insert(40, "msgstr this line has no quotes")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = run_checks(config_for(project))
    [problem] = report.errors
    assert problem.file.endswith(str(PO)) and problem.line == 41


def test_a_translation_over_the_sms_budget_is_an_error(project):
    def change(catalog):
        message = entry_with(catalog, lambda m: m.context == "kyr.door")
        message.string = message.string + (" Más información aquí." * 30)

    edit_catalog(project, change)
    report = run_checks(config_for(project))
    [problem] = [p for p in report.errors if p.code == "sms_budget"]
    assert "kyr.door in es" in problem.message and problem.line > 0


def test_every_message_reports_its_sms_encoding_and_segments(config):
    report = run_checks(config)
    pages = {m["id"] for m in report.messages if not m["id"].startswith("system.")}
    assert pages == set(load_content(config).dialogs.nodes)
    system = {m["id"] for m in report.messages if m["id"].startswith("system.")}
    assert {"system.not_understood", "system.handoff", "system.apology"} <= system
    for message in report.messages:
        assert message["sms"]["encoding"] in ("GSM-7", "UCS-2")
        assert 1 <= message["sms"]["segments"] <= config.sms.segment_budget
        if "sms_folded" in message:
            assert message["sms_folded"]["segments"] <= message["sms"]["segments"]


def test_check_narrowed_to_one_locale_reports_only_it(config):
    report = run_checks(config, only_locale="es")
    assert set(report.locales) == {"es"}
    assert {m["locale"] for m in report.messages} == {"es"}


# --- the gettext round trip ----------------------------------------------------------------


def test_changing_english_marks_the_translation_fuzzy_on_update(project):
    dialog = project / "dialogs" / "kyr.yaml"
    data = yaml.safe_load(dialog.read_text(encoding="utf-8"))
    old_english = data["nodes"]["warrants"]["say"].strip()
    new_english = "Changed. " + old_english
    data["nodes"]["warrants"]["say"] = new_english
    dialog.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    paths = paths_for(config_for(project), project)
    extract(paths)
    update(paths)
    with (project / PO).open("rb") as handle:
        catalog = read_po(handle)
    message = catalog.get(new_english, context="kyr.warrants")
    assert message is not None and message.fuzzy
    assert message.string  # the old translation is kept for the translator to review
    assert_msgfmt_accepts(project / PO)
    content = load_content(config_for(project))
    changed = content.dialogs.node("kyr.warrants")
    assert content.translator.gettext("es", changed.say_context, changed.say) == changed.say
    assert run_checks(config_for(project)).locales["es"].fuzzy == 1


def test_extracted_entries_carry_context_location_and_author_note(project):
    extract(paths_for(config_for(project), project))
    template = (project / "locales" / "messages.pot").read_text(encoding="utf-8")
    assert 'msgctxt "kyr.menu"' in template
    assert "#: dialogs/kyr.yaml:" in template
    assert 'msgctxt "system:apology"' in template and "#: bot/content/strings.py:" in template
    assert "#. " in template  # author notes become translator comments


def assert_msgfmt_accepts(po: Path) -> None:
    msgfmt = shutil.which("msgfmt")
    if msgfmt is None:
        pytest.skip("GNU gettext is not installed (.ci/run installs it)")
    result = subprocess.run(
        [msgfmt, "--check", "--output-file=/dev/null", str(po)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_the_shipped_catalogs_pass_gnu_msgfmt_check():
    for po in (ROOT / "locales").glob("*/LC_MESSAGES/messages.po"):
        assert_msgfmt_accepts(po)


# --- a third language is a config change ------------------------------------------------------


def pseudo(text: str) -> str:
    """A pseudo-translation: recognisable, placeholders intact, still GSM-7 for SMS."""
    out, depth = [], 0
    for ch in text:
        depth += ch == "{"
        out.append(ch if depth else {"a": "ä", "e": "é", "o": "ö", "u": "ü"}.get(ch, ch))
        depth -= ch == "}"
    return "[" + "".join(out) + "]"


async def test_a_new_language_is_offered_with_english_fallback(project):
    paths = paths_for(config_for(project), project)
    extract(paths)
    init(paths, "hmn")
    hmn = project / "locales" / "hmn" / "LC_MESSAGES" / "messages.po"
    with hmn.open("rb") as handle:
        catalog = read_po(handle)
    translated = 0
    for message in catalog:
        if message.id and message.context and message.context.startswith(("kyr.menu", "system:")):
            message.string = pseudo(message.id)
            translated += 1
    buffer = io.BytesIO()
    write_po(buffer, catalog, width=0)
    hmn.write_bytes(buffer.getvalue())

    config = config_for(project, locales=["en", "es", "hmn"])
    content = load_content(config)
    engine = content.engine
    prompt = engine.step(State(), Event(now=NOW, text="xyzzy"))
    assert [c.id for c in prompt.replies[0].choices] == ["l:en", "l:es", "l:hmn"]
    chosen = engine.step(prompt.state, Event(now=NOW, text="3"))
    assert chosen.state.locale == "hmn" and chosen.topic == "kyr.menu"

    storage = open_storage(f"sqlite+aiosqlite:///{project / 'db.sqlite3'}", vault=TEST_VAULT)
    app = App(config, storage=storage)
    await app.open()
    try:
        address = Address("telegram", "77")
        await app.service.handle(Inbound(address, "xyzzy", NOW))
        [menu] = await app.service.handle(Inbound(address, "3", NOW))
        assert menu.text.startswith("[")  # the pseudo-translated menu
        assert [c.id for c in menu.nav] == ["c:language"]  # three languages: a "Language" choice
        [page] = await app.service.handle(Inbound(address, "1", NOW))
        first = content.dialogs.node("kyr.menu").choices[0].target
        english = app.service.renderer.render(content.engine.page(first, "en"), "en")
        # Untranslated: the English text is shown (its placeholders filled as in English).
        assert page.text.split("\n\n")[0] == english.text.split("\n\n")[0]
    finally:
        await app.close()
    report = run_checks(config)
    assert report.ok
    assert report.locales["hmn"].translated == translated
    assert report.locales["hmn"].missing > 0
