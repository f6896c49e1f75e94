"""Input normalisation, global command words, choice matching and free-text topic routing."""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache

from rapidfuzz import fuzz, process

_NON_WORD = re.compile(r"[^0-9a-zñ]+")
_NON_WORD_RAW = re.compile(r"[\x00-\x1f\x7f\ue000]+")
_ENYE = "\ue000"  # a private-use stand-in that keeps ñ through accent stripping
_SIMILAR_CACHE_SIZE = 20_000
_MAX_INPUT = 500
"""Only the start of a very long message is matched: nobody asks a question in 10 kB."""


@lru_cache(maxsize=4096)
def normalize(text: str) -> str:
    """Lower-case, accents off (ñ kept), punctuation, emoji and control characters to spaces.

    >>> normalize("¿Qué pasa si la MIGRA viene?  ")
    'que pasa si la migra viene'
    """
    text = text[:_MAX_INPUT].lower()
    if text.isascii():  # most messages: nothing to decompose
        return _NON_WORD.sub(" ", text).strip()
    text = _NON_WORD_RAW.sub(" ", text).replace("ñ", _ENYE)
    stripped = unicodedata.normalize("NFKD", text).translate(_COMBINING)
    return _NON_WORD.sub(" ", stripped.replace(_ENYE, "ñ")).strip()


class _CombiningMarks(dict[int, int | None]):
    """A ``str.translate`` table that deletes combining marks (accents once decomposed).

    Filled one character at a time as characters are first seen: building it for all of
    Unicode up front would cost a good part of a second at start.
    """

    def __missing__(self, code: int) -> int | None:
        kept = None if unicodedata.combining(chr(code)) else code
        self[code] = kept
        return kept


_COMBINING = _CombiningMarks()


def split_phrases(words: str) -> list[str]:
    """Normalised, de-duplicated phrases of a comma/semicolon/newline separated list."""
    seen: dict[str, None] = {}
    for part in re.split(r"[,;\n]", words):
        phrase = normalize(part)
        if phrase:
            seen.setdefault(phrase, None)
    return list(seen)


@dataclass(frozen=True, slots=True)
class RouteResult:
    """The best topic for a free-text message, with its score in 0..1 and runner-up."""

    node: str | None
    score: float
    confident: bool
    runner_up: str | None = None
    runner_up_score: float = 0.0


@dataclass(frozen=True, slots=True)
class _Phrase:
    node: str
    tokens: tuple[str, ...]
    words: frozenset[str]
    """The distinct words of ``tokens``."""


@dataclass
class TopicRouter:
    """Routes free text to the topic whose keywords it matches best, in any language.

    A keyword phrase matches when each of its words appears in the message exactly or as a
    close misspelling (rapidfuzz ratio >= ``fuzzy_cutoff``). A phrase scores the mean of
    its word similarities, a little more for longer phrases; a topic scores its best phrase
    plus a small bonus for each further phrase it matches. Topics are ranked, and the margin
    over the runner-up is measured, on that uncapped score, so a topic that matches a longer
    phrase or more phrases beats one that matches a single shared word; the score reported
    (and compared with ``confidence``) is capped at 1.0.
    """

    confidence: float = 0.72
    margin: float = 0.06
    fuzzy_cutoff: float = 80.0
    short_word_cutoff: float = 75.0
    """Words of 4-5 letters have one typo's room at 75 (juez/jues)."""
    _phrases: list[_Phrase] = field(default_factory=list)
    _by_token: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    _vocabulary: list[str] = field(default_factory=list)
    _by_anchor: dict[str, list[int]] | None = None
    """Phrases by their anchor, the word of theirs that the fewest phrases use (built lazily).

    A phrase can only match when its anchor matched, so a message full of common words
    ("me", "la") looks at a handful of phrases rather than every phrase using those words.
    """
    _similar_cache: dict[str, dict[str, float]] = field(default_factory=dict)
    _seen: set[tuple[str, tuple[str, ...]]] = field(default_factory=set)

    def add(self, node: str, phrases: Iterable[str]) -> None:
        """Add keyword phrases (already normalised) for a node.

        A phrase the node already has (the same words in another language's list, or with
        accents) is kept once, so it does not count twice towards the node's score.
        """
        for phrase in phrases:
            tokens = tuple(phrase.split())
            if not tokens or (node, tokens) in self._seen:
                continue
            self._seen.add((node, tokens))
            index = len(self._phrases)
            self._phrases.append(_Phrase(node, tokens, frozenset(tokens)))
            for token in set(tokens):
                if token not in self._by_token:
                    self._vocabulary.append(token)
                self._by_token[token].append(index)
        self._by_anchor = None

    def nodes(self) -> set[str]:
        """Every node some keyword phrase routes to."""
        return {phrase.node for phrase in self._phrases}

    def words_of(self, nodes: Iterable[str]) -> frozenset[str]:
        """Every word of the keyword phrases of ``nodes``."""
        wanted = set(nodes)
        return frozenset(
            w for phrase in self._phrases if phrase.node in wanted for w in phrase.words
        )

    def anchors_of(self, nodes: Iterable[str]) -> frozenset[str]:
        """The anchor words of the keyword phrases of ``nodes`` (see ``_by_anchor``)."""
        wanted = set(nodes)
        phrases = self._phrases
        return frozenset(
            anchor
            for anchor, indexes in self._anchored().items()
            if any(phrases[i].node in wanted for i in indexes)
        )

    def may_match(self, tokens: Iterable[str], anchors: frozenset[str]) -> bool:
        """Whether a phrase anchored on one of ``anchors`` can match a message of ``tokens``.

        ``False`` means :meth:`route` cannot pick those phrases' nodes, so it need not run.
        """
        similar = self._similar
        return any(not anchors.isdisjoint(similar(token)) for token in tokens)

    def _anchored(self) -> dict[str, list[int]]:
        if self._by_anchor is None:
            by_anchor: dict[str, list[int]] = defaultdict(list)
            for index, phrase in enumerate(self._phrases):
                # The rarest word; ties go to the first in sorted order, so the index is stable.
                anchor = min(sorted(phrase.words), key=lambda word: len(self._by_token[word]))
                by_anchor[anchor].append(index)
            self._by_anchor = dict(by_anchor)
        return self._by_anchor

    def _similar(self, token: str) -> dict[str, float]:
        cached = self._similar_cache.get(token)
        if cached is not None:
            return cached
        found = self._similar_uncached(token)
        if len(self._similar_cache) >= _SIMILAR_CACHE_SIZE:
            self._similar_cache.clear()  # crude but bounded; people reuse few words
        self._similar_cache[token] = found
        return found

    def _similar_uncached(self, token: str) -> dict[str, float]:
        found = {token: 1.0} if token in self._by_token else {}
        if len(token) >= 4:
            for candidate, score, _ in process.extract(
                token,
                self._vocabulary,
                scorer=fuzz.ratio,
                score_cutoff=min(self.fuzzy_cutoff, self.short_word_cutoff),
                limit=None,
            ):
                cutoff = self.short_word_cutoff if len(candidate) <= 5 else self.fuzzy_cutoff
                # A typo changes a letter or two, not the word's length by a third:
                # "ayer" (yesterday) is not "lawyer", "gente" is not "urgente".
                close_length = abs(len(candidate) - len(token)) <= max(1, len(candidate) // 6)
                if candidate != token and len(candidate) >= 4 and close_length and score >= cutoff:
                    found[candidate] = max(found.get(candidate, 0.0), score / 100.0)
        return found

    def route(self, text: str) -> RouteResult:
        """Score every topic against ``text`` (raw or normalised) and pick the best."""
        tokens = normalize(text).split()
        if not tokens:
            return RouteResult(None, 0.0, False)
        best_for_token: dict[str, float] = {}
        for token in dict.fromkeys(tokens):
            for vocab, score in self._similar(token).items():
                if score > best_for_token.get(vocab, 0.0):
                    best_for_token[vocab] = score
        # A phrase is a candidate only when every one of its distinct words was found.
        by_anchor = self._anchored()
        found = best_for_token.keys()
        phrases = self._phrases
        candidates = [
            phrase
            for vocab in found
            for index in by_anchor.get(vocab, ())
            if (phrase := phrases[index]).words <= found
        ]
        scores: dict[str, list[float]] = defaultdict(list)
        for phrase in candidates:
            similarities = [best_for_token[t] for t in phrase.tokens]
            if len(phrase.tokens) > 1 and not _in_order(phrase.tokens, tokens, best_for_token):
                similarities = [s * 0.9 for s in similarities]
            score = sum(similarities) / len(similarities) + 0.04 * (len(phrase.tokens) - 1)
            scores[phrase.node].append(score)
        if not scores:
            return RouteResult(None, 0.0, False)
        ranked = sorted(
            ((_topic_score(values), node) for node, values in scores.items()), reverse=True
        )
        best_score, best = ranked[0]
        second_score, second = ranked[1] if len(ranked) > 1 else (0.0, None)
        confident = best_score >= self.confidence and (best_score - second_score) >= self.margin
        shown, runner = round(min(1.0, best_score), 3), round(min(1.0, second_score), 3)
        return RouteResult(best, shown, confident, second, runner)


def _topic_score(values: list[float]) -> float:
    ordered = sorted(values, reverse=True)
    return ordered[0] + 0.05 * min(3, len(ordered) - 1)


def _in_order(phrase: tuple[str, ...], tokens: list[str], matched: Mapping[str, float]) -> bool:
    # Exact-order check only for exact words; fuzzy words are accepted anywhere.
    positions = [tokens.index(t) for t in phrase if t in tokens]
    return positions == sorted(positions)


@dataclass(frozen=True)
class WordCommands:
    """Whole-message command words in every configured language, normalised.

    ``commands`` maps a normalised message to a command name (``menu``, ``back``, ``help``,
    ``language``, ``forget``, ``emergency``, ``subscribe``, ``lang:<locale>``).
    """

    commands: Mapping[str, str]
    language_words: Mapping[str, frozenset[str]]
    """Per locale: words that suggest a first message is in that language."""

    def command(self, text: str, *, normalized: str | None = None) -> str | None:
        """The command a whole message means, or None (``?`` alone is one too).

        ``normalized`` is ``normalize(text)`` when the caller has it already.
        """
        key = normalize(text) if normalized is None else normalized
        return self.commands.get(key or text.strip())

    def detect_language(self, text: str) -> str | None:
        """The one locale whose words the message uses, if exactly one stands out."""
        tokens = normalize(text).split()
        if not tokens:
            return None
        hits: dict[str, int] = {}
        phrase = " ".join(tokens)
        for locale, words in self.language_words.items():
            count = sum(1 for t in tokens if t in words) + (1 if phrase in words else 0)
            if count:
                hits[locale] = count
        if not hits:
            return None
        ranked = sorted(hits.items(), key=lambda item: item[1], reverse=True)
        if len(ranked) > 1 and ranked[0][1] == ranked[1][1]:
            return None
        return ranked[0][0]


@dataclass(frozen=True, slots=True)
class LabelIndex:
    """One page's choice labels in every language, normalised once, for :func:`match_label`."""

    keys: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    """Normalised labels; ``labels[i]`` names ``keys[i]``."""
    longest: int = 0
    """The length of the longest label: a much longer message cannot name any."""

    @classmethod
    def build(cls, labels: Mapping[str, Iterable[str]]) -> LabelIndex:
        """Index ``labels`` (key -> its label in each language), skipping empty ones."""
        pairs = [
            (key, normalized)
            for key, options in labels.items()
            for normalized in map(normalize, options)
            if normalized
        ]
        return cls(
            tuple(key for key, _ in pairs),
            tuple(label for _, label in pairs),
            max((len(label) for _, label in pairs), default=0),
        )


def match_label(
    text: str, index: LabelIndex, *, cutoff: float = 85.0, normalized: str | None = None
) -> str | None:
    """The key whose label (in any language) the message names, allowing small typos.

    The first label with the highest similarity wins; an exact label always does.
    ``normalized`` is ``normalize(text)`` when the caller has it already.
    """
    wanted = normalize(text) if normalized is None else normalized
    if not wanted or not index.labels:
        return None
    # fuzz.ratio is at most 1 - |a - b| / (a + b) for lengths a, b: a message this much
    # longer than every label cannot reach the cutoff (most free text).
    surplus = len(wanted) - index.longest
    if surplus > 0 and 100.0 * (1 - surplus / (len(wanted) + index.longest)) < cutoff:
        return None
    found = process.extractOne(
        wanted, index.labels, scorer=fuzz.ratio, processor=None, score_cutoff=cutoff
    )
    return None if found is None else index.keys[found[2]]
