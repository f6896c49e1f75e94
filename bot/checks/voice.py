"""Voice length checks: how long every page takes to say on a call, in every locale."""

from __future__ import annotations

from bot.channels.voice.render import seconds as spoken_seconds
from bot.channels.voice.render import speak, transcript
from bot.channels.voice.words import translated
from bot.checks.catalogs import po_location
from bot.checks.report import CheckReport
from bot.config import Config
from bot.conversation.render import Renderer
from bot.conversation.version import Content
from bot.errors import Problem


def check_voice(content: Content, config: Config, locales: list[str], report: CheckReport) -> None:
    """Estimate each page's speaking time (page and choices) and warn above the limit.

    The estimate counts words at ``twilio.voice.words_per_minute``; a page over
    ``twilio.voice.max_seconds`` is a warning: callers cannot skim, so it is worth a shorter
    text or a ``more:`` page.
    """
    renderer = Renderer.from_config(content, config)
    words = translated(content.translator.text, content.engine.locales)
    rate = config.twilio.voice.words_per_minute
    limit = config.twilio.voice.max_seconds
    for node in content.dialogs.nodes.values():
        for locale in locales:
            reply = renderer.render(content.engine.page(node.id, locale), locale)
            said = transcript(speak([reply], words, default_locale=config.default_locale))
            estimate = spoken_seconds(said, rate)
            report.voice.append({"id": node.id, "locale": locale, "seconds": round(estimate)})
            if estimate > limit:
                where = po_location(
                    content, node.file, node.line, locale, node.say_context, node.say
                )
                report.warnings.append(
                    Problem(
                        where[0],
                        where[1],
                        f"{node.id} in {locale} takes about {estimate:.0f} s to say on a call "
                        f"(twilio.voice.max_seconds is {limit})",
                        hint="shorten it or move part to a 'more:' page",
                        code="voice_length",
                    )
                )
