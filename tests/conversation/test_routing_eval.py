"""Free-text routing keeps its figures on the labelled question set (bench/routing.py).

Targets (issue: content): at least 90% top-1 accuracy in each language, and at most 5% of
the questions no topic answers getting a confident answer. A keyword edit that drops below
them fails here; run ``.venv/bin/python bench/routing.py -v`` to see which questions moved.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
QUESTIONS = ROOT / "tests" / "data" / "questions.yaml"


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_routing", ROOT / "bench" / "routing.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def figures() -> dict[str, Any]:
    result: dict[str, Any] = _bench().evaluate()
    return result


def test_the_question_set_is_big_enough_and_half_spanish() -> None:
    questions = yaml.safe_load(QUESTIONS.read_text(encoding="utf-8"))
    topical = [q for q in questions if q["topic"] != "none"]
    spanish = [q for q in topical if q["lang"] == "es"]
    assert len(topical) >= 150
    assert 0.4 <= len(spanish) / len(topical) <= 0.6
    assert sum(q["topic"] == "none" for q in questions) >= 30
    assert len({q["text"].strip().lower() for q in questions}) == len(questions), "duplicates"


def test_every_stable_topic_has_questions_in_both_languages() -> None:
    questions = yaml.safe_load(QUESTIONS.read_text(encoding="utf-8"))
    stable = {
        "sop130", "warrants", "door", "traffic_stop", "arrested", "not_covered", "report",
        "u_visa", "emergency", "updates", "subscribe", "about",
    }  # fmt: skip
    for lang in ("en", "es"):
        asked = {q["topic"] for q in questions if q["lang"] == lang}
        assert stable <= asked, f"{lang}: no questions for {sorted(stable - asked)}"


@pytest.mark.parametrize("lang", ["en", "es"])
def test_top1_accuracy_is_at_least_90_percent(figures: dict[str, Any], lang: str) -> None:
    row = figures["languages"][lang]
    assert row["top1"] >= 0.90, f"{lang} top-1 {row['top1']:.1%}: run bench/routing.py -v"


def test_few_unanswerable_questions_get_a_confident_answer(figures: dict[str, Any]) -> None:
    share = figures["none"]["confident"]
    wrong = [f"{q['text']!r} -> {q['got']}" for q in figures["none_answered"]]
    assert share <= 0.05, f"{share:.1%} of 'none' questions answered: {wrong}"
