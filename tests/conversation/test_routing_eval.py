"""Free-text routing keeps its blind figures on the held-out messages (bench/routing.py).

The floors sit a little below the figures measured when the model shipped (docs/ROUTING.md),
so an example or code change that makes the bot understand people worse fails here. To see
why, measure the change on the training examples (``bench/routing.py --cv``) or on a new
batch (``--blind``): ``-v`` prints the held-out messages that miss, and whoever reads them
can no longer write examples blind. The held-out set is never trained or tuned on; these
floors are guards, not the targets.
"""

from __future__ import annotations

from typing import Any

import pytest

from bench.routing import HELDOUT, evaluate, load_set
from bot.conversation.version import Content

FLOORS = {"top1": 0.94, "urgency_recall": 0.98}
CEILINGS = {"none_confident_wrong": 0.03, "false_urgency": 0.01}


@pytest.fixture(scope="module")
def figures(content: Content) -> dict[str, Any]:
    labels = [node.split(".", 1)[1] for node in content.dialogs.nodes]
    return evaluate(content.engine, load_set(HELDOUT, labels))


@pytest.mark.parametrize("locale", ["en", "es"])
@pytest.mark.parametrize("figure", sorted(FLOORS))
def test_held_out_figures_stay_above_their_floor(figures, locale, figure):
    assert figures[locale][figure] >= FLOORS[figure]


@pytest.mark.parametrize("locale", ["en", "es"])
@pytest.mark.parametrize("figure", sorted(CEILINGS))
def test_held_out_mistakes_stay_below_their_ceiling(figures, locale, figure):
    assert figures[locale][figure] <= CEILINGS[figure]


def test_the_held_out_set_has_every_label_in_both_languages(content: Content):
    labels = [node.split(".", 1)[1] for node in content.dialogs.nodes]
    held = load_set(HELDOUT, labels)
    taught = {e.label for e in content.examples.examples}
    for locale in ("en", "es"):
        assert {e.label for e in held if e.locale == locale} == taught
