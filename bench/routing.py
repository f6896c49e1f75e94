"""Free-text routing quality on the labelled question set ``tests/data/questions.yaml``.

Run: ``.venv/bin/python bench/routing.py`` (``-v`` also lists every miss). Targets (issue:
content): top-1 accuracy of at least 90% in each language on the topic questions, and at
most 5% of the questions no topic answers ("none") getting a confident answer.

Figures, per language:

* **top-1**: the best-scoring topic is the labelled one, whether or not it was confident.
* **confident-correct**: the best topic is right *and* confident, so the bot answers it
  directly; otherwise the bot says it did not understand and shows the menu.
* **confident-wrong**: a confident answer with the wrong topic (the harmful case).
* **none answered**: the share of "none" questions that got a confident answer (all wrong).

The router is the one the engine builds from the shipped dialogs and catalogs with the
default config (``routing.confidence`` / ``routing.margin``), and every question is routed as
free text, as the engine does for a message that is not a command or a menu choice.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.config import parse_config  # noqa: E402
from bot.conversation.version import load_content  # noqa: E402

QUESTIONS = ROOT / "tests" / "data" / "questions.yaml"
NONE = "none"


def load_questions(path: Path = QUESTIONS) -> list[dict[str, str]]:
    """The labelled questions: dicts with ``text``, ``lang`` and ``topic``."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [
        {"text": str(q["text"]), "lang": str(q["lang"]), "topic": str(q["topic"])} for q in data
    ]


def evaluate(path: Path = QUESTIONS) -> dict[str, Any]:
    """Route every question and return the figures.

    Returns:
        ``{"languages": {lang: {"questions", "top1", "confident_correct",
        "confident_wrong"}}, "none": {"questions", "confident", "by_language": {...}},
        "misses": [...], "none_answered": [...], "dialog": ...}``; rates are 0..1.
    """
    config = parse_config(
        {"content": {"dialogs_dir": str(ROOT / "dialogs"), "locales_dir": str(ROOT / "locales")}}
    )
    content = load_content(config)
    router = content.engine.router
    dialog = content.dialogs.main_menu.split(".", 1)[0]
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    none_counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    misses: list[dict[str, Any]] = []
    none_answered: list[dict[str, Any]] = []
    for question in load_questions(path):
        result = router.route(question["text"])
        lang, topic = question["lang"], question["topic"]
        got = result.node.split(".", 1)[1] if result.node else None
        if topic == NONE:
            none_counts[lang]["questions"] += 1
            if result.confident:
                none_counts[lang]["confident"] += 1
                none_answered.append({**question, "got": got, "score": result.score})
            continue
        if f"{dialog}.{topic}" not in content.dialogs.nodes:
            raise ValueError(f"{path.name}: unknown topic {topic!r} for {question['text']!r}")
        row = counts[lang]
        row["questions"] += 1
        right = got == topic
        row["top1"] += right
        row["confident_correct"] += right and result.confident
        row["confident_wrong"] += (not right) and result.confident
        if not (right and result.confident):
            misses.append(
                {
                    **question,
                    "got": got,
                    "score": result.score,
                    "confident": result.confident,
                    "runner_up": result.runner_up.split(".", 1)[1] if result.runner_up else None,
                    "runner_up_score": result.runner_up_score,
                }
            )
    languages = {
        lang: {
            "questions": row["questions"],
            "top1": row["top1"] / row["questions"],
            "confident_correct": row["confident_correct"] / row["questions"],
            "confident_wrong": row["confident_wrong"] / row["questions"],
        }
        for lang, row in sorted(counts.items())
    }
    total_none = sum(c["questions"] for c in none_counts.values())
    confident_none = sum(c["confident"] for c in none_counts.values())
    return {
        "languages": languages,
        "none": {
            "questions": total_none,
            "confident": confident_none / total_none if total_none else 0.0,
            "by_language": {
                lang: {
                    "questions": c["questions"],
                    "confident": c["confident"] / c["questions"] if c["questions"] else 0.0,
                }
                for lang, c in sorted(none_counts.items())
            },
        },
        "misses": misses,
        "none_answered": none_answered,
        "settings": {"confidence": router.confidence, "margin": router.margin},
    }


def main(argv: list[str]) -> int:
    figures = evaluate()
    settings = figures["settings"]
    print(
        f"Routing on {QUESTIONS.relative_to(ROOT)} "
        f"(confidence >= {settings['confidence']}, margin >= {settings['margin']})"
    )
    print(f"{'lang':<6}{'questions':>10}{'top-1':>9}{'conf-correct':>14}{'conf-wrong':>12}")
    for lang, row in figures["languages"].items():
        print(
            f"{lang:<6}{row['questions']:>10}{row['top1']:>9.1%}"
            f"{row['confident_correct']:>14.1%}{row['confident_wrong']:>12.1%}"
        )
    none = figures["none"]
    by_lang = ", ".join(
        f"{lang} {c['confident']:.1%} of {c['questions']}"
        for lang, c in none["by_language"].items()
    )
    print(
        f"none: {none['questions']} questions, {none['confident']:.1%} got a confident "
        f"(wrong) answer ({by_lang})"
    )
    print("targets: top-1 >= 90.0% in each language; none answered <= 5.0%")
    if "-v" in argv:
        print("\nNot answered directly (wanted -> got, score, runner-up):")
        for miss in figures["misses"]:
            mark = "CONFIDENT-WRONG" if miss["confident"] else "not confident"
            print(
                f"  [{miss['lang']}] {miss['text']!r}: {miss['topic']} -> {miss['got']} "
                f"{miss['score']:.2f} / {miss['runner_up']} {miss['runner_up_score']:.2f} ({mark})"
            )
        print("\n'none' questions answered:")
        for item in figures["none_answered"]:
            print(f"  [{item['lang']}] {item['text']!r} -> {item['got']} {item['score']:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
