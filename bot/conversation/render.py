"""Reply plans to translated replies: catalogs, placeholders from config, dated updates."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from babel.dates import format_date

from bot.config import Config, OrganizationConfig
from bot.content import strings as texts
from bot.content.i18n import babel_locale
from bot.conversation.state import ReplyPlan
from bot.conversation.version import Content
from bot.messages import Choice, Reply

logger = logging.getLogger(__name__)

_UPDATES_SHOWN = 3

_MEMO_LIMIT = 4096
"""Rendered pages kept per renderer; emptied when full (pages x locales is far fewer)."""


@dataclass
class Renderer:
    """Turns reply plans into translated replies with placeholders filled."""

    @classmethod
    def from_config(cls, content: Content, config: Config) -> Renderer:
        """A renderer with the organisation's details and review dates from ``config``."""
        return cls(
            content,
            config.organization,
            config.content.last_reviewed,
            config.content.legal_review,
        )

    content: Content
    organization: OrganizationConfig
    last_reviewed: date | None = None
    legal_review: date | None = None

    def __post_init__(self) -> None:
        self._configured = self.organization.placeholders()
        # Most replies are a page's fixed text: the same for every reader of one language, so
        # each is rendered once per renderer (a reload or new config makes a new renderer).
        self._memo: dict[tuple[ReplyPlan, str], Reply] = {}

    def render(
        self,
        plan: ReplyPlan,
        locale: str,
        updates: Sequence[tuple[date, dict[str, str]]] = (),
    ) -> Reply:
        """Translate ``plan`` for a reader of ``locale``, with ``updates`` if it shows them."""
        # Plans with values (a count, a volunteer's words) or the updates archive vary, so
        # only the fixed ones are kept; nothing a person wrote is ever a key.
        fixed = not plan.show_updates and not any(line.values for line in plan.lines)
        if fixed:
            found = self._memo.get((plan, locale))
            if found is not None:
                return found
        reply = self._render(plan, locale, updates)
        if fixed:
            if len(self._memo) >= _MEMO_LIMIT:
                self._memo.clear()
            self._memo[plan, locale] = reply
        return reply

    def _render(
        self, plan: ReplyPlan, locale: str, updates: Sequence[tuple[date, dict[str, str]]]
    ) -> Reply:
        translator = self.content.translator
        paragraphs = [
            self.fill(
                _with_values(translator.text(line.locale or locale, line.text), line.values),
                line.locale or locale,
                _with_values(line.text.msgid, line.values),
            )
            for line in plan.lines
        ]
        if plan.show_updates:
            # Right after the page's own text, before the one-time disclaimer.
            paragraphs.insert(1, self._updates_text(locale, updates))
        choices = tuple(
            Choice(c.id, translator.text(c.locale or locale, c.label)) for c in plan.choices
        )
        nav = tuple(Choice(c.id, translator.text(c.locale or locale, c.label)) for c in plan.nav)
        return Reply(
            text="\n\n".join(p for p in paragraphs if p),
            choices=choices,
            nav=nav,
            locale=locale,
            node=plan.node,
            spoken=self._spoken(plan, locale, paragraphs),
        )

    def _spoken(self, plan: ReplyPlan, locale: str, paragraphs: list[str]) -> str | None:
        """The page's ``voice:`` text in place of its written text, or None if it has none."""
        node = self.content.dialogs.nodes.get(plan.node) if plan.node else None
        if node is None or not node.voice or not paragraphs:
            return None
        translated = self.content.translator.gettext(locale, node.voice_context, node.voice)
        spoken = self.fill(translated, locale, node.voice)
        return "\n\n".join(p for p in (spoken, *paragraphs[1:]) if p)

    def placeholder_value(self, name: str, locale: str) -> str:
        """One placeholder's value for a reader: configured, or the content's fallback words."""
        if name == "last_reviewed" and self.last_reviewed is not None:
            return format_date(self.last_reviewed, format="long", locale=babel_locale(locale))
        if name == "legal_review":
            translator = self.content.translator
            if self.legal_review is None:
                return translator.text(locale, texts.NOT_LEGALLY_REVIEWED)
            when = format_date(self.legal_review, format="long", locale=babel_locale(locale))
            return translator.text(locale, texts.LEGAL_REVIEWED).replace("{date}", when)
        value = self._configured.get(name, "").strip()
        if value:
            return value
        fallback = texts.PLACEHOLDER_FALLBACKS.get(name)
        if fallback is None:
            raise KeyError(name)
        return self.content.translator.text(locale, fallback)

    def fill(self, text: str, locale: str, source: str) -> str:
        """Fill placeholders; a translation with broken braces falls back to the English text."""
        if "{" not in text:
            return text
        values = _Placeholders(self, locale)
        try:
            return text.format_map(values)
        except (KeyError, ValueError, IndexError):
            logger.warning("Broken placeholders in a %s translation; using English", locale)
            try:
                return source.format_map(values)
            except (KeyError, ValueError, IndexError):
                return source

    def _updates_text(self, locale: str, updates: Sequence[tuple[date, dict[str, str]]]) -> str:
        translator = self.content.translator
        if not updates:
            return translator.text(locale, texts.NO_UPDATES)
        lines = []
        template = translator.text(locale, texts.UPDATE_ITEM)
        for day, by_locale in list(updates)[:_UPDATES_SHOWN]:
            body = by_locale.get(locale) or by_locale.get(self.content.translator.default_locale)
            body = body or next(iter(by_locale.values()), "")
            when = format_date(day, format="medium", locale=babel_locale(locale))
            try:
                lines.append(template.format(date=when, text=body))
            except (KeyError, ValueError, IndexError):
                lines.append(f"{when}: {body}")
        return "\n\n".join(lines)


def _with_values(text: str, values: tuple[tuple[str, str], ...]) -> str:
    for name, value in values:
        text = text.replace("{" + name + "}", value)
    return text


class _Placeholders(dict[str, str]):
    """Resolves only the placeholders a text uses, so unused fallbacks are not counted."""

    def __init__(self, renderer: Renderer, locale: str) -> None:
        super().__init__()
        self._renderer = renderer
        self._locale = locale

    def __missing__(self, name: str) -> str:
        value = self._renderer.placeholder_value(name, self._locale)
        self[name] = value
        return value
