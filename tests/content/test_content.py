"""The shipped content as a reader meets it: dates, placeholders, a way to a person, length."""

from __future__ import annotations

from datetime import date

import pytest

from bot.channels.sms.render import render_sms
from bot.config import OrganizationConfig
from bot.conversation.render import Renderer
from bot.sms_text import segment_info
from tests.support.content import STABLE

PERSON_WAYS = {"kyr.person", "kyr.report", "kyr.emergency"}
CONTACT_PLACEHOLDERS = {"org_phone", "hotline", "legal_help", "complaint_phone", "org_website"}


def test_every_stable_topic_id_exists(content):
    assert {f"kyr.{name}" for name in STABLE} <= set(content.dialogs.nodes)


@pytest.mark.parametrize(
    ("locale", "shown"), [("en", "November 29, 2026"), ("es", "29 de noviembre de 2026")]
)
def test_the_about_page_shows_the_review_date_in_the_readers_language(content, locale, shown):
    renderer = Renderer(content, OrganizationConfig(), last_reviewed=date(2026, 11, 29))
    reply = renderer.render(content.engine.page("kyr.about", locale), locale)
    assert shown in reply.text


FULL = OrganizationConfig(
    org_name="Example Org",
    org_phone="555-0100",
    org_website="https://example.org",
    hotline="555-0199",
    legal_help="Example Legal Aid, 555-0142",
    complaint_phone="555-0111",
    complaint_address="Example address",
    complaint_website="https://example.org/complaints",
)


@pytest.mark.parametrize("organization", [OrganizationConfig(), FULL], ids=["unset", "set"])
@pytest.mark.parametrize("locale", ["en", "es"])
def test_no_page_shows_a_raw_placeholder_or_an_empty_line(content, organization, locale):
    renderer = Renderer(content, organization, last_reviewed=None)
    for node in content.dialogs.nodes.values():
        text = renderer.render(content.engine.page(node.id, locale), locale).text
        assert "{" not in text and "}" not in text, node.id
        assert all(part.strip() for part in text.split("\n\n")), node.id


def test_every_topic_page_offers_a_way_to_a_person(content):
    for name in STABLE:
        node = content.dialogs.node(f"kyr.{name}")
        targets = {c.target for c in node.choices} | ({node.more} if node.more else set())
        offers = bool(targets & PERSON_WAYS) or bool(node.placeholders & CONTACT_PLACEHOLDERS)
        # From any page with navigation, the menu's "Talk to a person" is one step away.
        assert offers or node.nav, node.id
        assert offers or name in {"menu", "subscribe", "updates", "about"}, node.id


@pytest.mark.parametrize("locale", ["en", "es"])
def test_every_page_fits_the_sms_budget_and_one_telegram_message(content, config, locale):
    renderer = Renderer(content, FULL)
    for node in content.dialogs.nodes.values():
        reply = renderer.render(content.engine.page(node.id, locale), locale)
        assert (
            segment_info(render_sms(reply, fold_accents=False)).segments
            <= config.sms.segment_budget
        )
        assert len(reply.text) <= 4096


def test_spanish_sms_pages_are_cheap_with_the_default_accent_folding():
    from statistics import median

    from bot.checks import run_checks
    from bot.config import parse_config
    from tests.support.paths import ROOT

    config = parse_config(
        {"content": {"dialogs_dir": str(ROOT / "dialogs"), "locales_dir": str(ROOT / "locales")}}
    )
    report = run_checks(config)
    pages = [
        m["sms"]["segments"]
        for m in report.messages
        if m["locale"] == "es" and not m["id"].startswith("system.")
    ]
    assert median(pages) <= 3
    assert max(pages) <= 5
    replies = [m["sms"]["segments"] for m in report.messages if m["id"].startswith("system.")]
    assert max(replies) <= 2  # not understood, ask back, help...: never a long SMS


def test_a_page_rendered_again_reads_the_same_and_a_new_config_is_seen(content):
    plan = content.engine.page("kyr.emergency", "en")
    unset = Renderer(content, OrganizationConfig())
    first = unset.render(plan, "en")
    assert unset.render(plan, "en") == first
    assert unset.render(plan, "es") != first  # the locale is part of what is kept
    # A renderer made for a new config (as on reload) shows the new number at once.
    assert "555-0199" in Renderer(content, FULL).render(plan, "en").text
    assert "555-0199" not in unset.render(plan, "en").text


def test_a_reply_with_its_own_values_is_rendered_fresh_and_never_kept(content):
    # Values are a count or, in the handoff, a volunteer's words: those are never remembered.
    from bot.conversation.state import Line, ReplyPlan

    renderer = Renderer(content, FULL)
    line_text = content.engine.page("kyr.menu", "en").lines[0].text
    with_values = ReplyPlan((Line(line_text, values=(("count", "3"),)),))
    renderer.render(with_values, "en")
    renderer.render(content.engine.page("kyr.menu", "en"), "en")
    kept = [plan for plan, _locale in renderer._memo]
    assert kept and all(not line.values for plan in kept for line in plan.lines)
