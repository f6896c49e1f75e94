"""The intent model reads a message exactly as it was trained, however its word rows are kept."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bot.content.examples import Example
from bot.conversation import classifier
from bot.conversation.classifier import IntentModel, features
from bot.conversation.state import State, evolve

EXAMPLES = [
    ("ice is at my door", "door"),
    ("they are knocking on the door", "door"),
    ("la migra toca la puerta", "door"),
    ("tocan la puerta y dicen que son policia", "door"),
    ("the police stopped my car", "traffic_stop"),
    ("me paro la policia en el carro", "traffic_stop"),
    ("pulled over by a cop on the highway", "traffic_stop"),
    ("me pararon manejando", "traffic_stop"),
    ("how much does a divorce lawyer cost", "none"),
    ("cuanto cobra un abogado de divorcio", "none"),
    ("where do i pay a parking ticket", "none"),
    ("donde pago una multa de estacionamiento", "none"),
]
MESSAGES = [
    "ICE at the door door door",
    "la policia me paro en el carro ayer",
    "cuanto cobra un abogado",
    "zzz qqq",
    "",
]


@pytest.fixture(scope="module")
def model() -> IntentModel:
    """A model trained on a dozen messages (in milliseconds)."""
    examples = [
        Example(
            text,
            label,
            "es" if any(w in text for w in (" la ", "me ", "cuanto", "donde")) else "en",
            "x",
            i,
        )
        for i, (text, label) in enumerate(EXAMPLES)
    ]
    return classifier.train(examples, min_count=1)


def by_features(model: IntentModel, text: str) -> dict[str, float]:
    """The probabilities worked out from scratch: counted features times their weights."""
    found, total = features(text)
    scores = model.intents.bias.astype(np.float64) * model.intents.temperature
    for feature, count in found.items():
        if (i := model.vocabulary.get(feature)) is not None:
            scores = scores + (
                count * model.intents.weights[i] * model.intents.temperature / math.sqrt(total)
            )
    exps = np.exp(scores - scores.max())
    return dict(zip(model.intents.labels, (exps / exps.sum()).tolist(), strict=True))


@pytest.mark.parametrize("text", MESSAGES)
def test_reading_a_message_sums_its_words_as_its_counted_features_would(model, text):
    expected = by_features(model, text)
    read = model.read(text, top=len(expected))
    assert [label for label, _ in read.intents] == sorted(expected, key=expected.get, reverse=True)
    for label, probability in read.intents:
        assert probability == pytest.approx(expected[label], abs=1e-6)


def test_a_message_of_unknown_words_has_no_language(model):
    assert model.read("zzz qqq").language is None
    assert model.read("la policia me paro").language == "es"


def test_the_word_rows_kept_stay_bounded_and_answers_do_not_change(model):
    bounded = IntentModel(model.vocabulary, model.intents, model.languages, word_cache=300)
    fresh = IntentModel(model.vocabulary, model.intents, model.languages)
    # Far more distinct words than the bounded model keeps, then the real messages again.
    stream = [f"palabra{i} door policia{i}" for i in range(1000)] + MESSAGES
    for text in stream:
        assert bounded.read(text) == fresh.read(text)
        assert bounded.cached_words <= 300


def test_a_state_copy_changes_only_the_fields_named():
    state = State(node="kyr.door", history=("kyr.menu",), locale="es", misses=1)
    copied = evolve(state, misses=0, offered=("n:kyr.door",))
    assert copied == State(
        node="kyr.door", history=("kyr.menu",), locale="es", misses=0, offered=("n:kyr.door",)
    )
    assert state.misses == 1
    with pytest.raises(TypeError, match="no field 'bogus'"):
        evolve(state, bogus=1)


def test_training_fits_the_counted_features_of_each_example_scaled_by_their_total(model):
    """The weights are those of the plain matrix: one row per example, sorted columns."""
    from scipy.sparse import csr_matrix
    from sklearn.svm import LinearSVC

    rows = []
    for text, _label in EXAMPLES:
        found, total = features(text)
        rows.append(
            sorted(
                (model.vocabulary[f], n * (1.0 / max(1, total) ** 0.5))
                for f, n in found.items()
                if f in model.vocabulary
            )
        )
    matrix = csr_matrix(
        (
            [value for row in rows for _i, value in row],
            [i for row in rows for i, _value in row],
            np.cumsum([0] + [len(row) for row in rows]),
        ),
        shape=(len(rows), len(model.vocabulary)),
    )
    fitted = LinearSVC(C=classifier.REGULARIZATION, random_state=0).fit(
        matrix, [label for _text, label in EXAMPLES]
    )
    assert model.intents.labels == tuple(fitted.classes_)
    assert np.array_equal(model.intents.weights, np.asarray(fitted.coef_, np.float32).T)
    assert np.array_equal(model.intents.bias, np.asarray(fitted.intercept_, np.float32))


def test_records_are_built_and_compared_as_plain_frozen_dataclasses():
    state = State("kyr.door", ("kyr.menu",), misses=2)
    assert state == State(node="kyr.door", history=("kyr.menu",), misses=2)
    assert (state.locale, state.offered, state.disclaimer_shown) == (None, (), False)
    assert hash(state) == hash(State(node="kyr.door", history=("kyr.menu",), misses=2))
    with pytest.raises(AttributeError):
        state.node = "kyr.menu"  # type: ignore[misc]
    with pytest.raises(TypeError):
        State(bogus=1)  # type: ignore[call-arg]
