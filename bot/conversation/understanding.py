"""What a typed message means: one decision shared by the engine and ``kyrbot ask``.

In order: a whole-message command word (``decided_by="command"``); a message saying it is
happening now, which opens the emergency page whatever else it mentions (``"urgency"``);
the trained intent model (``"model"``), or the keyword router for a language that has no
examples yet (``"keywords"``); when the likeliest topics are close or confidence is middling,
an ask-back offering them; otherwise not understood (``"fallback"``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from bot.content import strings as texts
from bot.content.dialogs import DialogSet
from bot.content.examples import OUT_OF_SCOPE
from bot.content.i18n import Translator
from bot.content.strings import Text
from bot.conversation.classifier import IntentModel, Reading
from bot.conversation.matching import TopicRouter, WordCommands, normalize, split_phrases
from bot.conversation.state import Candidate, Decision

EMERGENCY = "emergency"
"""The label of messages saying it is happening now."""

COMMAND_TEXTS: dict[str, Text] = {
    "menu": texts.COMMAND_MENU,
    "back": texts.COMMAND_BACK,
    "help": texts.COMMAND_HELP,
    "language": texts.COMMAND_LANGUAGE,
    "forget": texts.COMMAND_FORGET,
    "emergency": texts.COMMAND_EMERGENCY,
    "subscribe": texts.COMMAND_SUBSCRIBE,
    "unsubscribe": texts.COMMAND_UNSUBSCRIBE,
    "person": texts.COMMAND_PERSON,
}


@dataclass(frozen=True)
class RoutingSettings:
    """Thresholds of the decision (``routing.*`` in config)."""

    keyword_confidence: float = 0.72
    keyword_margin: float = 0.06
    confidence: float = 0.65
    """The model answers a topic directly at or above this probability..."""
    margin: float = 0.15
    """...and only when it beats the runner-up by this much; otherwise it asks back."""
    ask_back: float = 0.2
    """Below this probability for the best topic, the bot says it did not understand."""
    urgency: float = 0.075
    """At or above this probability of "happening now", the emergency page opens."""
    language_switch: float = 0.9
    """A message of two or more words this surely in another language switches language."""


@dataclass(frozen=True, slots=True)
class Message:
    """One typed message, normalised and read by the model once for every question asked."""

    normalized: str
    reading: Reading | None


@dataclass
class Understanding:
    """Turns free text into a :class:`Decision`. Built once per content version."""

    dialogs: DialogSet
    translator: Translator
    locales: tuple[str, ...]
    settings: RoutingSettings = field(default_factory=RoutingSettings)
    model: IntentModel | None = None
    example_locales: frozenset[str] = frozenset()
    """Locales that have their own examples; others lean on keywords first."""

    def __post_init__(self) -> None:
        self.commands = build_commands(self.dialogs, self.translator, self.locales)
        self.router = TopicRouter(
            confidence=self.settings.keyword_confidence, margin=self.settings.keyword_margin
        )
        for node in self.dialogs.nodes.values():
            if node.keywords and node.routable:
                for locale in self.locales:
                    words = self.translator.gettext_quiet(
                        locale, node.keywords_context, node.keywords
                    )
                    self.router.add(node.id, split_phrases(words))
        self._dialog = self.dialogs.main_menu.split(".", 1)[0]
        self._emergency = self.dialogs.role("emergency")
        labels = self.model.intents.labels if self.model is not None else ()
        self._taught = frozenset(f"{self._dialog}.{label}" for label in labels)
        """Pages the model has examples for."""
        untaught = self.router.nodes() - self._taught
        self._untaught_words = self.router.words_of(untaught)
        """Keyword words of the pages routed by keywords alone (added after the examples);
        a message with none of them need not be routed by keywords at all."""
        self._untaught_anchors = self.router.anchors_of(untaught)
        """Nor need a message in which no phrase of those pages can match (see may_match)."""
        self._deeper_pages = self._pages_under_topics()
        self._deeper_words = {
            topic: self.router.words_of(pages) for topic, pages in self._deeper_pages.items()
        }
        """The words a message must share with a topic's deeper pages for them to be tried."""
        self._deeper_anchors = {
            topic: self.router.anchors_of(pages) for topic, pages in self._deeper_pages.items()
        }
        self._label_nodes = {label: self._node(label) for label in labels if label != OUT_OF_SCOPE}
        """The page of each label of the model (``None`` for out of scope and strays)."""

    def _pages_under_topics(self) -> dict[str, frozenset[str]]:
        """Per taught topic: the pages with keywords reachable from it, but not other topics."""
        keyed = self.router.nodes() - self._taught
        found: dict[str, frozenset[str]] = {}
        for topic in self._taught:
            if topic not in self.dialogs.nodes:
                continue
            seen, stack = {topic}, [topic]
            while stack:
                node = self.dialogs.node(stack.pop())
                targets = [c.target for c in node.choices] + ([node.more] if node.more else [])
                for target in targets:
                    if target not in seen and target not in self._taught:
                        seen.add(target)
                        stack.append(target)
            if pages := frozenset(seen & keyed):
                found[topic] = pages
        return found

    def _node(self, label: str) -> str | None:
        node = f"{self._dialog}.{label}"
        return node if node in self.dialogs.nodes else None

    def read(self, text: str, *, normalized: str | None = None) -> Message:
        """Normalise ``text`` (unless given ``normalized``) and run the model on it, once."""
        normalized = normalize(text) if normalized is None else normalized
        reading = None
        if self.model is not None and normalized:
            # The language is only asked of messages of two words or more.
            reading = self.model.read(normalized, language=" " in normalized, normalized=True)
        return Message(normalized, reading)

    def decide(self, text: str | Message, locale: str | None) -> Decision:
        """The meaning of ``text`` typed by a reader of ``locale`` (``None``: not chosen)."""
        message = self.read(text) if isinstance(text, str) else text
        normalized = message.normalized
        command = self.commands.command(normalized, normalized=normalized) if normalized else None
        if command is not None:
            shown = {"emergency": self._emergency, "help": self.dialogs.role("help")}
            node = self.dialogs.main_menu if command == "menu" else shown.get(command)
            return Decision(node, 1.0, True, "command", command=command)
        return self.decide_free_text(message, locale)

    def decide_free_text(self, message: Message, locale: str | None) -> Decision:
        """:meth:`decide` for a message already known not to be a command word."""
        normalized = message.normalized
        if not normalized:
            return Decision(None, 0.0, False, "fallback")
        if self.model is None or (locale is not None and locale not in self.example_locales):
            routed = self.router.route(normalized)
            if routed.confident and routed.node is not None:
                candidates = (Candidate(routed.node, routed.score),)
                return Decision(routed.node, routed.score, True, "keywords", candidates)
            if self.model is None:
                return Decision(None, routed.score, False, "fallback")
        assert message.reading is not None
        decision = self._model_decision(message.reading)
        if decision.decided_by == "urgency":
            return decision
        if decision.confident:
            return self._deeper(decision, normalized)
        tokens = normalized.split()
        if self._untaught_words.isdisjoint(tokens) or not self.router.may_match(
            tokens, self._untaught_anchors
        ):
            return decision
        # A page with keywords but no examples yet (just added) is still found by its words.
        routed = self.router.route(normalized)
        if routed.confident and routed.node is not None and routed.node not in self._taught:
            candidates = (Candidate(routed.node, routed.score),)
            return Decision(routed.node, routed.score, True, "keywords", candidates)
        return decision

    def pages_under(self, topic: str) -> frozenset[str]:
        """The deeper pages of ``topic`` that its keywords can reach directly."""
        return self._deeper_pages.get(topic, frozenset())

    def _deeper(self, decision: Decision, normalized: str) -> Decision:
        """A page under the chosen topic whose keywords the message names, if any.

        The model knows topics; a topic's deeper pages (recording the police, under
        reporting) are found by their keywords once the model has chosen the topic.
        """
        topic = decision.node or ""
        pages = self._deeper_pages.get(topic)
        if not pages:
            return decision
        tokens = normalized.split()
        if self._deeper_words[topic].isdisjoint(tokens) or not self.router.may_match(
            tokens, self._deeper_anchors[topic]
        ):
            return decision
        routed = self.router.route(normalized)
        if routed.confident and routed.node in pages:
            return replace(decision, node=routed.node, decided_by="keywords")
        return decision

    def _model_decision(self, reading: Reading) -> Decision:
        settings = self.settings
        ranked = reading.intents
        urgent = next((p for label, p in ranked if label == EMERGENCY), 0.0)
        if self._emergency is not None and urgent >= settings.urgency:
            candidates = (Candidate(self._emergency, urgent),)
            return Decision(self._emergency, round(urgent, 3), True, "urgency", candidates)
        nodes = self._label_nodes
        found: list[Candidate] = []
        for label, p in ranked:
            if (node := nodes.get(label)) is not None:
                found.append(Candidate(node, round(p, 3)))
                if len(found) == 3:
                    break
        topics = tuple(found)
        best_label, best = ranked[0]
        if best_label == OUT_OF_SCOPE and best >= settings.confidence:
            return Decision(None, round(best, 3), False, "model", topics, out_of_scope=True)
        if not topics:
            return Decision(None, round(best, 3), False, "fallback")
        first = topics[0]
        second = topics[1].probability if len(topics) > 1 else 0.0
        if (
            best_label != OUT_OF_SCOPE
            and first.probability >= settings.confidence
            and first.probability - second >= settings.margin
        ):
            return Decision(first.node, first.probability, True, "model", topics)
        if first.probability >= settings.ask_back:
            offered = tuple(c for c in topics if c.probability >= settings.ask_back / 2)
            return Decision(None, first.probability, False, "model", offered, ask_back=True)
        return Decision(None, first.probability, False, "fallback", topics)

    def language_of(self, text: str | Message) -> str | None:
        """The configured language ``text`` is clearly written in, if it has two words or more.

        One word ("ok", "no", "taxi") says too little to switch a conversation's language.
        """
        message = self.read(text) if isinstance(text, str) else text
        if message.normalized.count(" ") < 1:
            return None
        reading = message.reading
        if reading is not None:
            language, probability = reading.language, reading.language_probability
            if language in self.locales and probability >= self.settings.language_switch:
                return language
            return None
        return self.commands.detect_language(message.normalized)


def build_commands(
    dialogs: DialogSet, translator: Translator, locales: Sequence[str]
) -> WordCommands:
    """Whole-message command words and language-telling words from every catalog."""
    commands: dict[str, str] = {}
    language_words: dict[str, set[str]] = {loc: set() for loc in locales}
    for name, text in COMMAND_TEXTS.items():
        for locale in locales:
            words = translator.gettext_quiet(locale, *text)
            # Punctuation alone ("?") normalises to nothing, so it is kept as typed.
            for symbol in words.split(","):
                if symbol.strip() and not normalize(symbol):
                    commands.setdefault(symbol.strip(), name)
            phrases = split_phrases(words)
            for phrase in phrases:
                commands.setdefault(phrase, name)
                if locale != "en" or phrase.isalpha():
                    language_words[locale].update(phrase.split())
    for locale in locales:
        own_name = normalize(translator.gettext_quiet(locale, *texts.LANGUAGE_NAME))
        if own_name and translator.has(locale, *texts.LANGUAGE_NAME):
            commands[own_name] = f"lang:{locale}"
        lang_text = texts.LANGUAGE_COMMANDS.get(locale)
        for source in locales:
            if lang_text is not None:
                for phrase in split_phrases(translator.gettext_quiet(source, *lang_text)):
                    commands[phrase] = f"lang:{locale}"
        greeting = translator.gettext_quiet(locale, *texts.GREETING_WORDS)
        if locale == "en" or translator.has(locale, *texts.GREETING_WORDS):
            for phrase in split_phrases(greeting):
                language_words[locale].update(phrase.split())
                language_words[locale].add(phrase)
    for node in dialogs.nodes.values():
        if not node.keywords:
            continue
        for locale in locales:
            if locale != "en" and not translator.has(locale, node.keywords_context, node.keywords):
                continue
            words = translator.gettext_quiet(locale, node.keywords_context, node.keywords)
            for phrase in split_phrases(words):
                language_words[locale].update(t for t in phrase.split() if len(t) > 2)
    # Only words that belong to one language tell languages apart.
    shared: set[str] = set()
    by_locale = list(language_words)
    for i, a in enumerate(by_locale):
        for b in by_locale[i + 1 :]:
            shared |= language_words[a] & language_words[b]
    return WordCommands(
        commands=commands,
        language_words={loc: frozenset(w - shared) for loc, w in language_words.items()},
    )
