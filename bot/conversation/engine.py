"""The pure conversation state machine: (dialogs, state, event) -> (new state, reply plans).

No I/O and no clock: the event carries the time. Replies are plans (message ids and choice
ids), translated and rendered later by the conversation service and the channel.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from bot.content import strings as texts
from bot.content.dialogs import DialogSet, Node
from bot.content.i18n import Translator
from bot.content.strings import Text
from bot.conversation.classifier import IntentModel
from bot.conversation.matching import match_label, normalize
from bot.conversation.options import PageOptions
from bot.conversation.state import (
    HISTORY_LIMIT,
    ChoicePlan,
    Decision,
    Event,
    Line,
    ReplyPlan,
    State,
    Step,
    evolve,
)
from bot.conversation.understanding import RoutingSettings, Understanding
from bot.messages import InboundKind


@dataclass(frozen=True)
class EngineSettings:
    """Tunables from config."""

    locales: tuple[str, ...] = ("en", "es")
    default_locale: str = "en"
    idle: timedelta = timedelta(minutes=30)
    misses_before_handoff: int = 2
    routing: RoutingSettings = field(default_factory=RoutingSettings)


@dataclass
class Engine:
    """Decides every step of every conversation. Built once per content version."""

    dialogs: DialogSet
    translator: Translator
    settings: EngineSettings = field(default_factory=EngineSettings)
    model: IntentModel | None = None
    """The trained intent model; without one, free text is routed by keywords alone."""
    example_locales: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        locales = [loc for loc in self.settings.locales if loc in self.translator.locales]
        self.locales: tuple[str, ...] = tuple(locales)
        self.understanding = Understanding(
            self.dialogs,
            self.translator,
            self.locales,
            self.settings.routing,
            self.model,
            self.example_locales,
        )
        self.router = self.understanding.router
        self.commands = self.understanding.commands
        self.options = PageOptions(self.dialogs, self.translator, self.locales)
        self._page_replies: dict[tuple[str, str | None, bool], ReplyPlan] = {}
        self._handoff = self.dialogs.node_for_action("handoff")
        """Looked up once: finding it scans every node."""

    # --- the step ------------------------------------------------------------------------

    def step(self, state: State, event: Event) -> Step:
        """Decide what one event does to one conversation."""
        if event.group_chat:
            return Step(state, (ReplyPlan((Line(texts.GROUP_CHAT),)),))
        if state.last_at is not None and event.now - state.last_at > self.settings.idle:
            state = State(locale=state.locale)
        if state.locale is not None and state.locale not in self.locales:
            state = evolve(state, locale=None)
        if state.node is not None and state.node not in self.dialogs.nodes:
            # The content changed under this conversation (a reload): start from the menu.
            state = evolve(state, node=None, history=())
        state = evolve(state, last_at=event.now)
        result = self._dispatch(state, event)
        if result.state is not None and result.state.node is not None:
            nodes = self.dialogs.nodes
            if not all(map(nodes.__contains__, result.state.history)):
                history = tuple(h for h in result.state.history if h in nodes)
                result = evolve(result, state=evolve(result.state, history=history))
        return result

    def _dispatch(self, state: State, event: Event) -> Step:
        if event.kind is InboundKind.COMMAND:
            return self._command(state, event, event.command or "", event.text)
        if event.kind is InboundKind.MEDIA:
            return self._with_locale(state, event, lambda s: self._plain(s, texts.MEDIA_ONLY))
        return self._text(state, event)

    def _command(self, state: State, event: Event, command: str, payload: str) -> Step:
        payload = payload.strip()
        if command == "start":
            fresh = State(locale=state.locale, last_at=event.now)
            wanted = payload.lower()
            if wanted in self.locales:
                return self._show(evolve(fresh, locale=wanted), self.dialogs.main_menu, push=False)
            target = self._deep_link(payload)
            return self._with_locale(
                fresh, event, lambda s: self._show(s, target or self.dialogs.main_menu, push=False)
            )
        if command == "opt_in_if_opted_out":
            if event.opted_out:
                return self._command(state, event, "opt_in", payload)
            return self._text(state, evolve(event, kind=InboundKind.TEXT))
        if command == "forget":
            return self._forget(state, event)
        return self._with_locale(state, event, lambda s: self._global(s, event, command))

    def _forget(self, state: State, event: Event) -> Step:
        locale = state.locale or self._guess_locale(event) or self.settings.default_locale
        return Step(None, (ReplyPlan((Line(texts.FORGOTTEN, locale),)),), ("forget",))

    def _deep_link(self, payload: str) -> str | None:
        if not payload:
            return None
        for candidate in (payload, f"{self.dialogs.main_menu.split('.')[0]}.{payload}"):
            if candidate in self.dialogs.nodes:
                return candidate
        return None

    def _global(self, state: State, event: Event, command: str) -> Step:
        """Commands that work from any step, whether typed or sent as a channel command."""
        menu = self.dialogs.main_menu
        if command == "forget":
            return self._forget(state, event)
        if command == "menu":
            return self._show(evolve(state, history=()), menu, push=False)
        if command == "back":
            if state.history:
                previous = state.history[-1]
                return self._show(evolve(state, history=state.history[:-1]), previous, push=False)
            return self._show(state, menu, push=False)
        if command == "help":
            if event.carrier_help:
                return self._plain(state, texts.SMS_HELP)
            return self._show(state, self.dialogs.role("help") or menu)
        if command == "emergency":
            return self._show(state, self.dialogs.role("emergency") or menu)
        if command == "language":
            return self._language_prompt(state, pending=state.node)
        if command == "person":
            node = self.dialogs.node_for_action("handoff")
            return self._show(state, node.id if node is not None else menu)
        if command in ("subscribe", "unsubscribe"):
            node = self.dialogs.node_for_action(command)
            if node is not None:
                return self._show(state, node.id)
            text = texts.SUBSCRIBED if command == "subscribe" else texts.UNSUBSCRIBED
            step = self._plain(state, text)
            return evolve(step, actions=(command,))
        if command == "opt_out":
            return evolve(self._plain(state, texts.OPTED_OUT, nav=False), actions=("opt_out",))
        if command == "opt_in":
            shown = self._show(state, menu, push=False)
            reply = ReplyPlan((Line(texts.OPTED_IN),), nav=())
            return evolve(shown, replies=(reply, *shown.replies), actions=("opt_in",))
        if command.startswith("lang:"):
            locale = command.split(":", 1)[1]
            return self._switch_language(state, locale)
        # An unknown channel command (or one for organizers only) reads as not understood.
        return self._not_understood(state)

    # --- text input ----------------------------------------------------------------------

    def _text(self, state: State, event: Event) -> Step:
        text = event.text
        if event.choice_id:
            return self._choice_id(state, event, event.choice_id)
        normalized = normalize(text)
        command = self.commands.command(text, normalized=normalized)
        if state.awaiting_language or state.locale is None:
            chosen = self._language_answer(normalized, command)
            if chosen is not None:
                return self._switch_language(state, chosen, show=state.pending)
        if state.locale is None:
            return self._first_contact(state, event, normalized, command)
        if not normalized and command is None:
            return self._show(state, state.node or self.dialogs.main_menu, push=False)
        if normalized.isdigit():
            if state.node is None:
                # A number from a menu the person has not seen in this session: greet afresh.
                return self._show(state, self.dialogs.main_menu, push=False)
            return self._digit(state, event, int(normalized))
        if command is not None:
            return self._global(evolve(state, awaiting_language=False), event, command)
        node = self._current(state)
        label = match_label(text, self.options.labels(node.id), normalized=normalized)
        if label is not None:
            return self._choice_id(state, event, label)
        # The newest words win: a message clearly in another language switches to it.
        message = self.understanding.read(text, normalized=normalized)
        language = self.understanding.language_of(message)
        switched = language is not None and language != state.locale
        if switched:
            state = evolve(state, locale=language)
        # Not a command word (those were answered above), so that is not asked again.
        decision = self.understanding.decide_free_text(message, state.locale)
        if switched and decision.decided_by == "fallback":
            # Not a question the bot knows, but clearly their language: carry on in it.
            shown = self._show(state, state.node or self.dialogs.main_menu, push=False)
            return evolve(shown, decision=decision)
        return self._route(state, decision)

    def _first_contact(
        self, state: State, event: Event, normalized: str, command: str | None
    ) -> Step:
        locale = (
            self.translator.negotiate(event.locale_hint)
            or self.understanding.language_of(normalized)
            or self.commands.detect_language(normalized)
        )
        decision = self.understanding.decide(normalized, locale) if normalized else None
        target = decision.node if decision is not None and decision.confident else None
        if target == self.dialogs.role("greeting"):
            target = None  # a first hello is answered with the menu itself
        if command == "emergency":
            target = self.dialogs.role("emergency") or self.dialogs.main_menu
            locale = locale or self.settings.default_locale
        if locale is None:
            return self._language_prompt(state, pending=target)
        state = evolve(state, locale=locale, awaiting_language=False)
        if command is not None and command != "emergency":
            return self._global(state, event, command)
        return self._show(state, target or self.dialogs.main_menu, push=False)

    def _language_answer(self, normalized: str, command: str | None) -> str | None:
        if command is not None and command.startswith("lang:"):
            return command.split(":", 1)[1]
        if normalized.isdigit():
            index = int(normalized) - 1
            if 0 <= index < len(self.locales):
                return self.locales[index]
        return None

    def _digit(self, state: State, event: Event, number: int) -> Step:
        if number == 0:
            return self._global(state, event, "menu")
        options = list(state.offered) or self.options.choice_ids(self._current(state))
        if 1 <= number <= len(options):
            return self._choice_id(state, event, options[number - 1])
        return self._out_of_range(state, len(options))

    def _out_of_range(self, state: State, count: int) -> Step:
        """A number the page does not offer: say which ones it does."""
        text = texts.OUT_OF_RANGE_ONE if count == 1 else texts.OUT_OF_RANGE
        if count == 0:
            text = texts.NOT_UNDERSTOOD
        reply = ReplyPlan(
            (Line(text, values=(("count", str(count)),)),),
            (),
            self.options.way_to_menu(state.locale),
        )
        return Step(state, (reply,))

    def _choice_id(self, state: State, event: Event, choice_id: str) -> Step:
        kind, _, value = choice_id.partition(":")
        if kind == "n" and value in self.dialogs.nodes:
            return self._with_locale(state, event, lambda s: self._show(s, value))
        if kind == "c":
            return self._with_locale(state, event, lambda s: self._global(s, event, value))
        if kind == "l" and value in self.locales:
            return self._switch_language(state, value, show=state.pending)
        # A stale button from content that has since changed.
        return self._with_locale(state, event, lambda s: self._show(s, self.dialogs.main_menu))

    def _route(self, state: State, decision: Decision) -> Step:
        if decision.confident and decision.node is not None:
            return self._show(state, decision.node, decision=decision)
        if decision.ask_back:
            step = self._ask_back(state, decision)
        else:
            step = self._not_understood(state, out_of_scope=decision.out_of_scope)
        return Step(step.state, step.replies, step.actions, step.topic, decision.score, decision)

    def _ask_back(self, state: State, decision: Decision) -> Step:
        """Offer the likeliest topics as choices instead of guessing."""
        choices = tuple(
            plan for c in decision.candidates if (plan := self.options.topic_choice(c.node))
        )
        if not choices:
            return self._not_understood(state)
        reply = ReplyPlan((Line(texts.ASK_BACK),), choices, self.options.way_to_menu(state.locale))
        offered = tuple(plan.id for plan in choices)
        return Step(evolve(state, offered=offered, misses=state.misses + 1), (reply,))

    def _not_understood(self, state: State, *, out_of_scope: bool = False) -> Step:
        """Say so briefly with the way to the menu; after repeated misses, offer a person."""
        misses = state.misses + 1
        nav = self.options.way_to_menu(state.locale)
        lines = [Line(texts.OUT_OF_SCOPE if out_of_scope else texts.NOT_UNDERSTOOD)]
        choices: tuple[ChoicePlan, ...] = ()
        if misses >= self.settings.misses_before_handoff:
            lines.append(Line(texts.HANDOFF))
            # The page where a volunteer takes over, when the content has one.
            handoff = self._handoff
            offer = self.options.topic_choice(handoff.id) if handoff is not None else None
            choices = (offer,) if offer is not None else ()
        reply = ReplyPlan(tuple(lines), choices, nav)
        offered = tuple(plan.id for plan in choices)
        return Step(evolve(state, misses=misses, offered=offered), (reply,))

    def _with_locale(self, state: State, event: Event, then: Any) -> Step:
        """Run ``then`` once the locale is known; otherwise ask for it first."""
        if state.locale is None:
            locale = self._guess_locale(event)
            if locale is None:
                return self._language_prompt(state, pending=None)
            state = evolve(state, locale=locale)
        result: Step = then(state)
        return result

    def _guess_locale(self, event: Event) -> str | None:
        return self.translator.negotiate(event.locale_hint) or self.commands.detect_language(
            event.text
        )

    def _current(self, state: State) -> Node:
        return self.dialogs.node(state.node or self.dialogs.main_menu)

    def _show(
        self, state: State, node_id: str, *, push: bool = True, decision: Decision | None = None
    ) -> Step:
        node = self.dialogs.node(node_id)
        history = state.history
        if push and state.node and state.node != node_id:
            history = (*history, state.node)[-HISTORY_LIMIT:]
        disclaimer = node.id != self.dialogs.main_menu and not state.disclaimer_shown
        reply = self._page_reply(node, state.locale, disclaimer)
        new_state = evolve(
            state,
            node=node.id,
            history=history,
            misses=0,
            awaiting_language=False,
            pending=None,
            disclaimer_shown=state.disclaimer_shown or disclaimer,
            offered=(),
        )
        actions: tuple[str, ...] = ()
        if node.action in ("subscribe", "unsubscribe", "handoff"):
            actions = (node.action,)
        score = decision.score if decision is not None else None
        return Step(new_state, (reply,), actions, node.id, score, decision)

    def _page_reply(self, node: Node, locale: str | None, disclaimer: bool) -> ReplyPlan:
        """A page's reply plan; immutable, so built once per page, locale and disclaimer."""
        key = (node.id, locale, disclaimer)
        reply = self._page_replies.get(key)
        if reply is None:
            lines = [Line(Text(node.say_context, node.say))]
            if disclaimer:
                lines.append(Line(texts.DISCLAIMER))
            reply = self._page_replies[key] = ReplyPlan(
                tuple(lines),
                self.options.choices(node),
                self.options.nav(node, locale),
                node=node.id,
                show_updates=node.action == "show_updates",
            )
        return reply

    def _plain(self, state: State, text: Text, *, nav: bool = True) -> Step:
        node = self._current(state)
        reply = ReplyPlan((Line(text),), nav=self.options.nav(node, state.locale) if nav else ())
        return Step(state, (reply,))

    def _language_prompt(self, state: State, *, pending: str | None) -> Step:
        lines = tuple(Line(texts.LANGUAGE_PROMPT, loc) for loc in self.locales)
        choices = tuple(ChoicePlan(f"l:{loc}", texts.LANGUAGE_NAME, loc) for loc in self.locales)
        new_state = evolve(state, awaiting_language=True, pending=pending)
        return Step(new_state, (ReplyPlan(lines, choices),))

    def _switch_language(self, state: State, locale: str, *, show: str | None = None) -> Step:
        if locale not in self.locales:
            return self._language_prompt(state, pending=show)
        target = show or state.node or self.dialogs.main_menu
        state = evolve(state, locale=locale, awaiting_language=False)
        return self._show(state, target, push=False)

    def page(self, node_id: str, locale: str) -> ReplyPlan:
        """The reply a node gives when first shown in a conversation (disclaimer included)."""
        return self._show(State(locale=locale), node_id).replies[0]

    def system_pages(self, locale: str) -> dict[str, ReplyPlan]:
        """Every reply the bot writes itself (not a dialog page), for checks and previews."""
        at_menu = State(locale=locale, node=self.dialogs.main_menu)
        handoff_misses = max(0, self.settings.misses_before_handoff - 1)
        return {
            "system.not_understood": self._not_understood(at_menu).replies[0],
            "system.handoff": self._not_understood(evolve(at_menu, misses=handoff_misses)).replies[
                0
            ],
            "system.apology": self.apology(locale),
            "system.language_prompt": self._language_prompt(at_menu, pending=None).replies[0],
            "system.media_only": self._plain(at_menu, texts.MEDIA_ONLY).replies[0],
            "system.sms_help": self._plain(at_menu, texts.SMS_HELP).replies[0],
            "system.opted_out": self._plain(at_menu, texts.OPTED_OUT, nav=False).replies[0],
            "system.group_chat": ReplyPlan((Line(texts.GROUP_CHAT),)),
            "system.forgotten": ReplyPlan((Line(texts.FORGOTTEN, locale),)),
        }

    def apology(self, locale: str | None) -> ReplyPlan:
        """An apology with the main menu's choices, for when something failed."""
        menu = self.dialogs.node(self.dialogs.main_menu)
        return ReplyPlan(
            (Line(texts.APOLOGY),),
            self.options.choices(menu),
            self.options.nav(menu, locale),
            node=menu.id,
        )

    def decide(self, text: str, locale: str | None) -> Decision:
        """What free text typed at the main menu means (``kyrbot ask``; the same path)."""
        return self.understanding.decide(text, locale)
