"""What each page offers: its numbered choices, its navigation, its labels in every language.

Built once per content version: plans are immutable and depend only on the content.
"""

from __future__ import annotations

from bot.content import strings as texts
from bot.content.dialogs import DialogSet, Node
from bot.content.i18n import Translator
from bot.content.strings import Text
from bot.conversation.matching import LabelIndex
from bot.conversation.state import ChoicePlan

_NO_LABELS = LabelIndex()


class PageOptions:
    """The choices, navigation and choice labels of every page of one content version."""

    def __init__(self, dialogs: DialogSet, translator: Translator, locales: tuple[str, ...]):
        self.dialogs = dialogs
        self.locales = locales
        self._choices: dict[str, tuple[ChoicePlan, ...]] = {}
        self._nav: dict[tuple[str, str | None], tuple[ChoicePlan, ...]] = {}
        self._to_menu: dict[str | None, tuple[ChoicePlan, ...]] = {}
        """:meth:`way_to_menu` per locale (plans are immutable)."""
        self._labels: dict[str, LabelIndex] = {}
        for node in dialogs.nodes.values():
            labels: dict[str, list[str]] = {}
            for choice in node.choices:
                ctx = node.choice_context(choice)
                labels[choice.choice_id] = [
                    translator.gettext_quiet(loc, ctx, choice.label) for loc in locales
                ]
            if node.more:
                labels[f"n:{node.more}"] = [
                    translator.gettext_quiet(loc, *texts.MORE) for loc in locales
                ]
            self._labels[node.id] = LabelIndex.build(labels)
        self._topics = self._topic_choices()

    def labels(self, node_id: str) -> LabelIndex:
        """A page's choice labels in every language, for matching what people type."""
        return self._labels.get(node_id, _NO_LABELS)

    def topic_choice(self, node_id: str) -> ChoicePlan | None:
        """A choice that opens ``node_id``, labelled as a menu names it (for ask-backs)."""
        return self._topics.get(node_id)

    def choice_ids(self, node: Node) -> list[str]:
        """The ids a page's numbers stand for, in order ("More" last)."""
        ids = [c.choice_id for c in node.choices]
        if node.more:
            ids.append(f"n:{node.more}")
        return ids

    def choices(self, node: Node) -> tuple[ChoicePlan, ...]:
        """A page's choices as plans, "More" last."""
        plans = self._choices.get(node.id)
        if plans is None:
            built = [
                ChoicePlan(c.choice_id, Text(node.choice_context(c), c.label))
                for c in node.choices
            ]
            if node.more:
                built.append(ChoicePlan(f"n:{node.more}", texts.MORE))
            plans = self._choices[node.id] = tuple(built)
        return plans

    def nav(self, node: Node, locale: str | None) -> tuple[ChoicePlan, ...]:
        """A page's navigation: the menu (except on the menu) and the other language."""
        key = (node.id, locale)
        plans = self._nav.get(key)
        if plans is None:
            plans = self._nav[key] = self._build_nav(node, locale)
        return plans

    def way_to_menu(self, locale: str | None) -> tuple[ChoicePlan, ...]:
        """The menu (even from the menu, which a short reply does not repeat) and language."""
        plans = self._to_menu.get(locale)
        if plans is None:
            menu = self.dialogs.node(self.dialogs.main_menu)
            nav = self.nav(menu, locale)
            plans = (ChoicePlan("c:menu", texts.NAV_MENU), *(n for n in nav if n.id != "c:menu"))
            self._to_menu[locale] = plans
        return plans

    def _build_nav(self, node: Node, locale: str | None) -> tuple[ChoicePlan, ...]:
        if not node.nav:
            return ()
        nav: list[ChoicePlan] = []
        if node.id != self.dialogs.main_menu:
            nav.append(ChoicePlan("c:menu", texts.NAV_MENU))
        others = [loc for loc in self.locales if loc != locale]
        if len(self.locales) == 2 and len(others) == 1:
            nav.append(ChoicePlan(f"l:{others[0]}", texts.LANGUAGE_NAME, locale=others[0]))
        elif len(self.locales) > 2:
            nav.append(ChoicePlan("c:language", texts.NAV_LANGUAGE))
        return tuple(nav)

    def _topic_choices(self) -> dict[str, ChoicePlan]:
        menu = self.dialogs.node(self.dialogs.main_menu)
        ordered = [menu, *(n for n in self.dialogs.nodes.values() if n.id != menu.id)]
        found: dict[str, ChoicePlan] = {}
        for node in ordered:
            for choice in node.choices:
                label = Text(node.choice_context(choice), choice.label)
                found.setdefault(choice.target, ChoicePlan(choice.choice_id, label))
        return found
