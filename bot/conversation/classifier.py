"""The trained intent model: message features, training from examples, a cache, inference.

Features are the words, word pairs and character 3-5-grams of the normalised message (so a
misspelling still shares most of its n-grams with the right word), counted and scaled by the
square root of their total. The label head is scikit-learn's linear support vector machine
(it scored best under cross-validation of the training examples, and trains in about a
second); a softmax over its scores with a fixed temperature turns them into probabilities.
Counting every occurrence rather than marking presence scored the same under
cross-validation, and makes a message's features the sum of its words'. The language head
is naive Bayes over the same features, which tells languages apart well even in two or three
words. Only training needs scikit-learn; inference sums one weight row per word (see
:class:`IntentModel`) and does the rest in plain Python, and the trained weights are cached
in a ``.npz`` file named by the examples' content hash, so a start with unchanged examples
loads in milliseconds and never imports a training library.
"""

from __future__ import annotations

import itertools
import logging
import math
import os
import tempfile
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import numpy.typing as npt

from bot.content.examples import Example
from bot.conversation.matching import normalize

logger = logging.getLogger(__name__)

FEATURE_VERSION = 6
"""Part of the cache key: bump it whenever :func:`features` or training changes."""

REGULARIZATION = 2.0
"""Inverse regularisation strength (scikit-learn's ``C``)."""

TEMPERATURE = 4.0
"""Scores are multiplied by this before the softmax (temperature scaling).

Both constants were chosen by cross-validation on the training examples only
(``bench/routing.py --cv``); the held-out set never tunes anything."""

MIN_COUNT = 2
"""A feature must occur in at least this many examples to get a weight."""

_CHAR_SIZES = (3, 4, 5)
_WORD_CACHE = 20_000
"""Words whose weight rows are kept (about 4 MB)."""
_MAX_WORDS = 300
"""More words than a message can have (matching keeps its first 500 characters)."""

FloatArray = npt.NDArray[np.float32]


def features(text: str) -> tuple[Counter[str], int]:
    """The features of one message (words, word pairs, character n-grams), counted; their total.

    Every occurrence counts, so a message's features are the sum of its words' features and
    its word pairs: that is what lets inference add up one cached row per word. The total
    scales the feature values. ``text`` may be raw or already normalised (normalising twice
    changes nothing).
    """
    words = normalize(text).split()
    found = Counter(f"b:{a} {b}" for a, b in itertools.pairwise(words))
    total = max(0, len(words) - 1)
    for word in words:
        grams = _word_features(word)
        found.update(grams)
        total += len(grams)
    return found, total


@lru_cache(maxsize=50_000)
def _word_features(word: str) -> tuple[str, ...]:
    # Keyed by one word, not by the message: training meets the same words again and again.
    padded = f" {word.replace('ñ', 'n')} "
    grams = [padded[i : i + size] for size in _CHAR_SIZES for i in range(len(padded) - size + 1)]
    return (f"w:{word}", *grams)


@dataclass(frozen=True)
class _Head:
    labels: tuple[str, ...]
    weights: FloatArray
    """``(features, labels)``."""
    bias: FloatArray
    temperature: float = TEMPERATURE
    """Scores are multiplied by this before the softmax; 1 for log-probabilities."""


@dataclass(frozen=True, slots=True)
class Reading:
    """What the model makes of one message."""

    intents: tuple[tuple[str, float], ...]
    """The likeliest labels, with their probabilities, best first."""
    language: str | None = None
    language_probability: float = 0.0


class IntentModel:
    """Predicts a message's label and language from the trained weights.

    Reading a message sums one weight row per word and per known word pair. A word's row
    (the sum of its features' rows, for both heads side by side) is worked out the first
    time the word is seen and kept in a bounded table keyed by the word, never by the
    message. Not thread-safe: one event loop reads it.
    """

    def __init__(
        self,
        vocabulary: dict[str, int],
        intents: _Head,
        languages: _Head | None,
        *,
        word_cache: int = _WORD_CACHE,
    ) -> None:
        self.vocabulary = vocabulary
        self.intents = intents
        self.languages = languages
        """``None`` when the examples cover only one language."""
        heads = [intents.weights] + ([languages.weights] if languages is not None else [])
        joint = np.hstack(heads).astype(np.float64)
        # Feature rows, then one zero row (unknown words and pairs), then the words' rows.
        self._word_cache = max(word_cache, _MAX_WORDS)
        self._table = np.zeros((len(vocabulary) + 1 + self._word_cache, joint.shape[1]))
        self._table[: len(vocabulary)] = joint
        self._zero = len(vocabulary)
        self._pairs = {
            (first, second): i
            for feature, i in vocabulary.items()
            if feature.startswith("b:")
            for first, _, second in [feature[2:].partition(" ")]
        }
        self._word_rows: dict[str, int] = {}
        self._word_sizes: dict[str, int] = {}
        """Per word seen: its row in the table and its number of features, known or not."""
        self._next_row = self._zero + 1
        self._count = len(intents.labels)
        self._labels = range(self._count)
        self._intent_bias = (intents.bias.astype(np.float64) * intents.temperature).tolist()
        self._language_bias = (
            languages.bias.astype(np.float64).tolist() if languages is not None else []
        )

    @property
    def cached_words(self) -> int:
        """How many words' rows are kept now (at most ``word_cache``)."""
        return len(self._word_rows)

    def _learn(self, words: list[str]) -> None:
        """Work out the rows of the words not seen yet (all of a message's fit the table)."""
        if len(self._word_rows) + len(words) > self._word_cache:
            # Crude but bounded: people reuse few words.
            self._word_rows.clear()
            self._word_sizes.clear()
            self._next_row = self._zero + 1
        vocabulary = self.vocabulary
        for word in words:
            if word in self._word_rows:
                continue
            grams = _word_features(word)
            known = [i for f in grams if (i := vocabulary.get(f)) is not None]
            row = self._zero
            if known:
                row, self._next_row = self._next_row, self._next_row + 1
                self._table[row] = self._table.take(known, axis=0).sum(axis=0)
            self._word_rows[word] = row
            self._word_sizes[word] = len(grams)

    def read(
        self, text: str, *, top: int = 4, language: bool = True, normalized: bool = False
    ) -> Reading:
        """The ``top`` likeliest labels, best first, and (if asked) the language.

        ``normalized`` says ``text`` is already ``normalize``'d (it is not done again).
        """
        words = (text if normalized else normalize(text)).split()[:_MAX_WORDS]
        try:
            rows = list(map(self._word_rows.__getitem__, words))
        except KeyError:
            self._learn(words)
            rows = list(map(self._word_rows.__getitem__, words))
        total = sum(map(self._word_sizes.__getitem__, words)) + max(0, len(words) - 1)
        zero = self._zero
        rows.extend(map(self._pairs.get, itertools.pairwise(words), itertools.repeat(zero)))
        known = rows.count(zero) < len(rows)
        if known:
            summed: list[float] = self._table.take(rows, axis=0).sum(axis=0).tolist()
        else:
            summed = [0.0] * self._table.shape[1]
        count = self._count
        scale = self.intents.temperature / math.sqrt(total) if total else 0.0
        # zip stops at the intents' columns; the language head's follow.
        scores = [v * scale + b for v, b in zip(summed, self._intent_bias, strict=False)]
        highest = max(scores)
        exps = [math.exp(s - highest) for s in scores]
        norm = 1.0 / sum(exps)
        labels = self.intents.labels
        ranked = sorted(self._labels, key=exps.__getitem__, reverse=True)[:top]
        intents = tuple((labels[i], exps[i] * norm) for i in ranked)
        if self.languages is None or not known or not language:
            return Reading(intents)
        votes = [v + b for v, b in zip(summed[count:], self._language_bias, strict=True)]
        best = max(votes)
        return Reading(
            intents,
            self.languages.labels[votes.index(best)],
            1.0 / sum(math.exp(v - best) for v in votes),
        )

    def predict(self, text: str, *, top: int = 3) -> list[tuple[str, float]]:
        """The ``top`` likeliest labels with their probabilities, best first."""
        return list(self.read(text, top=top).intents)

    def language(self, text: str) -> tuple[str | None, float]:
        """The likeliest language of ``text`` and its probability (``None`` if unknown)."""
        reading = self.read(text, top=1)
        return reading.language, reading.language_probability


def train(
    examples: Sequence[Example],
    *,
    regularization: float = REGULARIZATION,
    min_count: int = MIN_COUNT,
) -> IntentModel:
    """Fit both heads on ``examples`` (needs scikit-learn; takes about a second)."""
    from scipy.sparse import csr_matrix
    from sklearn.naive_bayes import MultinomialNB
    from sklearn.svm import LinearSVC

    rows = [features(e.text) for e in examples]
    seen_in: Counter[str] = Counter()
    for row, _total in rows:
        seen_in.update(row.keys())
    vocabulary = {f: i for i, f in enumerate(f for f, n in seen_in.items() if n >= min_count)}
    indptr: list[int] = [0]
    indices: list[int] = []
    counts: list[float] = []
    scales: list[float] = []
    for row, total in rows:
        columns = sorted((i, n) for f, n in row.items() if (i := vocabulary.get(f)) is not None)
        indices.extend(i for i, _n in columns)
        counts.extend(float(n) for _i, n in columns)
        # Scaled by all of the message's features, as at inference, known or not.
        scales.extend([1.0 / max(1, total) ** 0.5] * len(columns))
        indptr.append(len(indices))
    shape = (len(rows), len(vocabulary))
    matrix = csr_matrix((np.multiply(counts, scales), indices, indptr), shape=shape)

    def head(targets: list[str]) -> _Head:
        # A fixed seed for the solver's shuffling: the same examples give the same model.
        fitted = LinearSVC(C=regularization, random_state=0).fit(matrix, targets)
        classes = tuple(str(c) for c in fitted.classes_)
        coef = np.asarray(fitted.coef_, dtype=np.float32)
        bias = np.asarray(fitted.intercept_, dtype=np.float32)
        if len(classes) == 2:  # scikit-learn keeps one row for two classes
            coef = (np.vstack([-coef, coef]) / 2).astype(np.float32)
            bias = (np.concatenate([-bias, bias]) / 2).astype(np.float32)
        return _Head(classes, np.ascontiguousarray(coef.T), bias)

    def language_head(targets: list[str]) -> _Head:
        raw = csr_matrix((counts, indices, indptr), shape=shape)
        fitted = MultinomialNB(alpha=0.5).fit(raw, targets)
        return _Head(
            tuple(str(c) for c in fitted.classes_),
            np.ascontiguousarray(np.asarray(fitted.feature_log_prob_, dtype=np.float32).T),
            np.asarray(fitted.class_log_prior_, dtype=np.float32),
            temperature=1.0,
        )

    languages = sorted({e.locale for e in examples})
    return IntentModel(
        vocabulary,
        head([e.label for e in examples]),
        language_head([e.locale for e in examples]) if len(languages) > 1 else None,
    )


def cache_path(cache_dir: Path, digest: str) -> Path:
    """Where the model trained on examples with this content hash is kept."""
    return cache_dir / f"intents-v{FEATURE_VERSION}-{digest}.npz"


def save(model: IntentModel, path: Path) -> None:
    """Write ``model`` atomically (a reader never sees half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    vocabulary = sorted(model.vocabulary, key=model.vocabulary.__getitem__)
    arrays: dict[str, npt.NDArray[np.generic]] = {
        "vocabulary": np.array(vocabulary, dtype=str),
        "intent_labels": np.array(model.intents.labels, dtype=str),
        "intent_weights": model.intents.weights,
        "intent_bias": model.intents.bias,
    }
    if model.languages is not None:
        arrays["language_labels"] = np.array(model.languages.labels, dtype=str)
        arrays["language_weights"] = model.languages.weights
        arrays["language_bias"] = model.languages.bias
    handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            np.savez(out, **arrays)  # type: ignore[arg-type]
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def load(path: Path) -> IntentModel:
    """Read a model written by :func:`save`.

    Raises:
        OSError, ValueError, KeyError: the file is missing or not a model of this version.
    """
    with np.load(path, allow_pickle=False) as data:
        vocabulary = {str(f): i for i, f in enumerate(data["vocabulary"])}
        intents = _Head(
            tuple(str(x) for x in data["intent_labels"]),
            data["intent_weights"].astype(np.float32),
            data["intent_bias"].astype(np.float32),
        )
        languages = None
        if "language_labels" in data.files:
            languages = _Head(
                tuple(str(x) for x in data["language_labels"]),
                data["language_weights"].astype(np.float32),
                data["language_bias"].astype(np.float32),
                temperature=1.0,
            )
    if intents.weights.shape != (len(vocabulary), len(intents.labels)):
        raise ValueError(f"{path}: the weights do not match the vocabulary")
    return IntentModel(vocabulary, intents, languages)


def load_or_train(examples: Iterable[Example], digest: str, cache_dir: Path | None) -> IntentModel:
    """The model for these examples: from the cache when it has this hash, else trained.

    A cache that cannot be read or written only costs time: training happens instead, and a
    warning says why.
    """
    path = cache_path(cache_dir, digest) if cache_dir is not None else None
    if path is not None and path.exists():
        try:
            return load(path)
        except (OSError, ValueError, KeyError) as exc:
            logger.warning("Intent model cache %s unusable (%s); training again", path, exc)
    model = train(list(examples))
    if path is not None:
        try:
            save(model, path)
        except OSError as exc:
            logger.warning("Could not cache the intent model in %s: %s", path, exc)
    return model
