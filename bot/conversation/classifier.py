"""The trained intent model: message features, training from examples, a cache, inference.

Features are the words, word pairs and character 3-5-grams of the normalised message (so a
misspelling still shares most of its n-grams with the right word), L2-normalised binary
values. The label head is scikit-learn's linear support vector machine (it scored best under
cross-validation of the training examples, and trains in about a second); a softmax over its
scores with a fixed temperature turns them into probabilities. The language head is naive
Bayes over the same features, which tells languages apart well even in two or three words.
Only training needs
scikit-learn; inference is a sum of weight rows in numpy, and the trained weights are cached
in a ``.npz`` file named by the examples' content hash, so a start with unchanged examples
loads in milliseconds and never imports a training library.
"""

from __future__ import annotations

import itertools
import logging
import math
import os
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import numpy.typing as npt

from bot.content.examples import Example
from bot.conversation.matching import normalize

logger = logging.getLogger(__name__)

FEATURE_VERSION = 3
"""Part of the cache key: bump it whenever :func:`features` or training changes."""

REGULARIZATION = 1.0
"""Inverse regularisation strength (scikit-learn's ``C``)."""

TEMPERATURE = 4.0
"""Scores are multiplied by this before the softmax (temperature scaling).

Both constants were chosen by cross-validation on the training examples only
(``bench/routing.py --cv``); the held-out set never tunes anything."""

MIN_COUNT = 2
"""A feature must occur in at least this many examples to get a weight."""

_CHAR_SIZES = (3, 4, 5)
_WORD_CACHE = 50_000

FloatArray = npt.NDArray[np.float32]


def features(text: str) -> tuple[set[str], int]:
    """The features of one message (words, word pairs, character n-grams) and their count.

    The count, which scales the feature values, takes each word's features once per time the
    word appears, so it can be summed word by word at inference. ``text`` may be raw or
    already normalised (normalising twice changes nothing).
    """
    words = normalize(text).split()
    found = {f"b:{a} {b}" for a, b in itertools.pairwise(words)}
    count = max(0, len(words) - 1)
    for word in words:
        grams = _word_features(word)
        found.update(grams)
        count += len(grams)
    return found, count


@lru_cache(maxsize=50_000)
def _word_features(word: str) -> tuple[str, ...]:
    # Keyed by one word, not by the message: people reuse few words.
    padded = f" {word.replace('ñ', 'n')} "
    grams = {padded[i : i + size] for size in _CHAR_SIZES for i in range(len(padded) - size + 1)}
    return (f"w:{word}", *grams)


@dataclass(frozen=True)
class _Head:
    labels: tuple[str, ...]
    weights: FloatArray
    """``(features, labels)``."""
    bias: FloatArray
    temperature: float = TEMPERATURE
    """Scores are multiplied by this before the softmax; 1 for log-probabilities."""
    scaled: bool = True
    """Feature values are L2-normalised (the SVM); plain counts for naive Bayes."""

    def probabilities(self, index: Sequence[int], scale: float) -> FloatArray:
        if not index:
            scores = self.bias * self.temperature
        else:
            scores = self.weights.take(index, axis=0).sum(axis=0)
            scores *= (scale if self.scaled else 1.0) * self.temperature
            scores += self.bias * self.temperature
        scores -= scores.max()
        np.exp(scores, out=scores)
        scores /= scores.sum()
        return scores


@dataclass(frozen=True)
class IntentModel:
    """Predicts a message's label and language from the trained weights."""

    vocabulary: dict[str, int]
    intents: _Head
    languages: _Head | None
    """``None`` when the examples cover only one language."""
    _words: dict[str, tuple[int, tuple[int, ...]]] = field(
        default_factory=dict, compare=False, repr=False
    )

    def _index(self, text: str) -> tuple[list[int], float]:
        words = normalize(text).split()
        vocabulary = self.vocabulary
        pairs = (f"b:{a} {b}" for a, b in itertools.pairwise(words))
        index = {i for f in pairs if (i := vocabulary.get(f)) is not None}
        count = max(0, len(words) - 1)
        for word in words:
            size, known = self._word(word)
            index.update(known)
            count += size
        return list(index), (1.0 / count**0.5) if count else 0.0

    def _word(self, word: str) -> tuple[int, tuple[int, ...]]:
        # Keyed by one word, not by the message, and bounded: people reuse few words.
        cached = self._words.get(word)
        if cached is None:
            grams = _word_features(word)
            known = tuple(i for f in grams if (i := self.vocabulary.get(f)) is not None)
            if len(self._words) >= _WORD_CACHE:
                self._words.clear()
            cached = self._words[word] = (len(grams), known)
        return cached

    def __post_init__(self) -> None:
        # Both heads' weights side by side: one gather and one sum read a message.
        heads = [self.intents.weights]
        if self.languages is not None:
            heads.append(self.languages.weights)
        object.__setattr__(self, "_joint", np.ascontiguousarray(np.hstack(heads)))

    def read(self, text: str, *, top: int = 4, language: bool = True) -> Reading:
        """The ``top`` likeliest labels, best first, and (if asked) the language."""
        index, scale = self._index(text)
        intents, languages = self.intents, self.languages
        count = len(intents.labels)
        joint: FloatArray = self._joint  # type: ignore[attr-defined]
        summed = joint.take(index, axis=0).sum(axis=0) if index else np.zeros(joint.shape[1])
        scores = summed[:count] * (scale * intents.temperature)
        scores += intents.bias * intents.temperature
        scores -= scores.max()
        np.exp(scores, out=scores)
        scores /= scores.sum()
        ranked = sorted(zip(scores.tolist(), intents.labels, strict=True), reverse=True)[:top]
        intents_read = tuple((label, probability) for probability, label in ranked)
        if languages is None or not index or not language:
            return Reading(intents_read)
        votes = (summed[count:] + languages.bias).tolist()
        best = max(range(len(votes)), key=votes.__getitem__)
        total = sum(math.exp(v - votes[best]) for v in votes)
        return Reading(intents_read, languages.labels[best], 1.0 / total)

    def predict(self, text: str, *, top: int = 3) -> list[tuple[str, float]]:
        """The ``top`` likeliest labels with their probabilities, best first."""
        return list(self.read(text, top=top).intents)

    def language(self, text: str) -> tuple[str | None, float]:
        """The likeliest language of ``text`` and its probability (``None`` if unknown)."""
        reading = self.read(text, top=1)
        return reading.language, reading.language_probability


@dataclass(frozen=True, slots=True)
class Reading:
    """What the model makes of one message."""

    intents: tuple[tuple[str, float], ...]
    """The likeliest labels with their probabilities, best first."""
    language: str | None = None
    language_probability: float = 0.0


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
    counts: dict[str, int] = {}
    for row, _size in rows:
        for feature in row:
            counts[feature] = counts.get(feature, 0) + 1
    vocabulary = {f: i for i, f in enumerate(f for f, n in counts.items() if n >= min_count)}
    indptr, indices, values = [0], [], []
    for row, size in rows:
        columns = sorted(i for f in row if (i := vocabulary.get(f)) is not None)
        indices.extend(columns)
        # Scaled by all of the message's features, as at inference, known or not.
        values.extend([1.0 / max(1, size) ** 0.5] * len(columns))
        indptr.append(len(indices))
    matrix = csr_matrix((values, indices, indptr), shape=(len(rows), len(vocabulary)))

    def head(targets: list[str]) -> _Head:
        fitted = LinearSVC(C=regularization).fit(matrix, targets)
        classes = tuple(str(c) for c in fitted.classes_)
        coef = np.asarray(fitted.coef_, dtype=np.float32)
        bias = np.asarray(fitted.intercept_, dtype=np.float32)
        if len(classes) == 2:  # scikit-learn keeps one row for two classes
            coef = (np.vstack([-coef, coef]) / 2).astype(np.float32)
            bias = (np.concatenate([-bias, bias]) / 2).astype(np.float32)
        return _Head(classes, np.ascontiguousarray(coef.T), bias)

    def language_head(targets: list[str]) -> _Head:
        counts = matrix.copy()
        counts.data[:] = 1.0
        fitted = MultinomialNB(alpha=0.5).fit(counts, targets)
        return _Head(
            tuple(str(c) for c in fitted.classes_),
            np.ascontiguousarray(np.asarray(fitted.feature_log_prob_, dtype=np.float32).T),
            np.asarray(fitted.class_log_prior_, dtype=np.float32),
            temperature=1.0,
            scaled=False,
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
                scaled=False,
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
