"""SMS and Telegram length checks of every page and every bot reply, in every locale."""

from __future__ import annotations

from typing import Any

from bot.channels.sms.render import render_sms
from bot.checks.catalogs import STRINGS_FILE, po_location
from bot.checks.report import TELEGRAM_LIMIT, CheckReport
from bot.config import Config
from bot.conversation.render import Renderer
from bot.conversation.state import Line, ReplyPlan
from bot.conversation.version import Content
from bot.errors import Problem
from bot.handoff.texts import PERSON_TEXTS
from bot.sms_text import segment_info


def check_pages(content: Content, config: Config, locales: list[str], report: CheckReport) -> None:
    """Check every page in every locale against the SMS budget and Telegram's limit."""
    renderer = Renderer.from_config(content, config)
    budget = config.sms.segment_budget
    engine = content.engine
    for node in content.dialogs.nodes.values():
        for locale in locales:
            # The longest form a page takes: with the one-time disclaimer on topic pages.
            plan = engine.page(node.id, locale)
            reply = renderer.render(plan, locale)
            fold = config.sms.fold_accents.get(locale, False)
            sms = render_sms(reply, fold_accents=fold)
            info = segment_info(sms)
            entry: dict[str, Any] = {
                "id": node.id,
                "locale": locale,
                "sms": {"text": sms, "encoding": info.encoding, "segments": info.segments},
            }
            folded = render_sms(reply, fold_accents=True)
            folded_info = segment_info(folded)
            entry["sms_folded"] = {
                "encoding": folded_info.encoding,
                "segments": folded_info.segments,
            }
            kept_info = segment_info(render_sms(reply, fold_accents=False))
            entry["sms_accents"] = {"encoding": kept_info.encoding, "segments": kept_info.segments}
            report.messages.append(entry)
            where = po_location(content, node.file, node.line, locale, node.say_context, node.say)
            if info.segments > budget:
                report.errors.append(
                    Problem(
                        where[0],
                        where[1],
                        f"{node.id} in {locale} takes {info.segments} SMS segments "
                        f"({info.encoding}); the budget is {budget}",
                        hint="shorten it or move part to a 'more:' page"
                        + (
                            f"; folding accents would make it {folded_info.segments}"
                            if folded_info.segments < info.segments
                            else ""
                        ),
                        code="sms_budget",
                    )
                )
            if len(reply.text) > TELEGRAM_LIMIT:
                report.errors.append(
                    Problem(
                        where[0],
                        where[1],
                        f"{node.id} in {locale} is longer than one Telegram message",
                        code="telegram_length",
                    )
                )


def check_system_sms(
    content: Content, config: Config, locales: list[str], report: CheckReport
) -> None:
    """The replies the bot writes itself (not understood, apology...) obey the budget too."""
    renderer = Renderer.from_config(content, config)
    budget = config.sms.segment_budget
    for locale in locales:
        pages = dict(content.engine.system_pages(locale))
        pages.update(_handoff_pages())
        for name, plan in pages.items():
            reply = renderer.render(plan, locale)
            sms = render_sms(reply, fold_accents=config.sms.fold_accents.get(locale, False))
            info = segment_info(sms)
            report.messages.append(
                {
                    "id": name,
                    "locale": locale,
                    "sms": {"text": sms, "encoding": info.encoding, "segments": info.segments},
                }
            )
            if info.segments > budget:
                first = plan.lines[0].text if plan.lines else None
                where = (
                    po_location(content, STRINGS_FILE, 0, locale, first.context, first.msgid)
                    if first is not None
                    else (STRINGS_FILE, 0)
                )
                report.errors.append(
                    Problem(
                        where[0],
                        where[1],
                        f"{name} in {locale} takes {info.segments} SMS segments "
                        f"({info.encoding}); the budget is {budget}",
                        hint="shorten the system texts it is made of",
                        code="sms_budget",
                    )
                )


_SAMPLE_VALUES = (("hours", "Mon-Fri 9:00-17:00, Sat 10:00-14:00"), ("text", ""))
"""What fills the handoff texts' own placeholders when they are measured."""


def _handoff_pages() -> dict[str, ReplyPlan]:
    """What the handoff says to a person, each as a reply (the volunteer's words aside)."""
    return {
        f"system.handoff_{text.context.split(':', 1)[1]}": ReplyPlan(
            (Line(text, values=_SAMPLE_VALUES),)
        )
        for text in PERSON_TEXTS
    }
