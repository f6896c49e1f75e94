"""Free-text routing quality, measured blind on the held-out messages first.

Run: ``.venv/bin/python bench/routing.py`` (``-v`` lists every miss). Other modes:

* ``--cv`` cross-validates the shipped training examples (5 folds) for a grid of the model's
  constants (``--C``, ``--T``) and routing thresholds (``--set urgency=0.05,0.1``); this,
  never the held-out set, is what the constants and thresholds are chosen by.
* ``--blind FILE...`` measures a NEW batch of examples (same YAML shape) against the model
  trained on the shipped examples, before the batch is added: record that figure, with the
  date, in ``docs/ROUTING.md``.
* ``--keywords`` measures the keyword router alone (the fallback for a language with no
  examples) on the held-out set.

The held-out set (``tests/data/heldout/<locale>.yaml``) was written separately from the
training examples (``dialogs/examples``) and is never trained or tuned on. Every message goes
through ``Engine.decide``, the same decision the engine makes for free text at the main menu
(commands, urgency, the model, ask-back), in the message's own language.

Figures per language:

* **top-1**: the right topic answered directly counts 1, an ask-back that offers it 0.5.
  Target 95%.
* **confident-wrong on out-of-scope**: messages no topic answers that got a topic. Target 2%.
* **urgency recall**: "it is happening now" messages that open the emergency page (98%);
  **false urgency**: other messages that open it (3%).
* **ask-back rate**: topic messages answered with an ask-back.
* **latency**: one decision, p50 and p99, in microseconds.
"""

from __future__ import annotations

import argparse
import itertools
import random
import statistics
import sys
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.config import parse_config  # noqa: E402
from bot.content.examples import OUT_OF_SCOPE, Example, load_examples  # noqa: E402
from bot.conversation import classifier  # noqa: E402
from bot.conversation.engine import Engine  # noqa: E402
from bot.conversation.version import Content, examples_dir, load_content  # noqa: E402

HELDOUT = ROOT / "tests" / "data" / "heldout"
EMERGENCY = "emergency"


def content(**routing: Any) -> Content:
    """The shipped content with the default config (and any ``routing`` overrides)."""
    return load_content(
        parse_config(
            {
                "content": {
                    "dialogs_dir": str(ROOT / "dialogs"),
                    "locales_dir": str(ROOT / "locales"),
                    "cache_dir": str(ROOT / "data" / "cache"),
                },
                "routing": routing,
            }
        )
    )


def load_set(folder: Path, labels: list[str]) -> list[Example]:
    """Labelled messages from ``folder/<locale>.yaml`` files."""
    return list(load_examples(folder, labels=labels).examples)


def evaluate(engine: Engine, items: list[Example]) -> dict[str, dict[str, float]]:
    """Route every message and return the figures per language (rates in 0..1)."""
    dialog = engine.dialogs.main_menu.split(".", 1)[0]
    emergency = f"{dialog}.{EMERGENCY}"
    sums: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    latencies: list[float] = []
    for item in items:
        started = time.perf_counter()
        decision = engine.decide(item.text, item.locale)
        latencies.append((time.perf_counter() - started) * 1e6)
        row = sums[item.locale]
        urgent = decision.node == emergency
        if item.label == EMERGENCY:
            row["urgent"] += 1
            row["urgent_found"] += urgent
        else:
            row["calm"] += 1
            row["false_urgency"] += urgent
        if item.label == OUT_OF_SCOPE:
            row["none"] += 1
            row["none_answered"] += decision.node is not None
            continue
        wanted = f"{dialog}.{item.label}"
        row["topics"] += 1
        # A page under the right topic (found by its keywords) answers it too.
        if decision.node == wanted or decision.node in engine.understanding.pages_under(wanted):
            row["score"] += 1
        elif decision.ask_back and wanted in {c.node for c in decision.candidates}:
            row["score"] += 0.5
        row["ask_back"] += decision.ask_back
    figures: dict[str, dict[str, float]] = {}
    for locale, row in sorted(sums.items()):
        figures[locale] = {
            "topics": row["topics"],
            "top1": row["score"] / max(1, row["topics"]),
            "ask_back": row["ask_back"] / max(1, row["topics"]),
            "none": row["none"],
            "none_confident_wrong": row["none_answered"] / max(1, row["none"]),
            "urgency_recall": row["urgent_found"] / max(1, row["urgent"]),
            "false_urgency": row["false_urgency"] / max(1, row["calm"]),
        }
    ordered = sorted(latencies)
    figures["latency_us"] = {
        "p50": statistics.median(ordered),
        "p99": ordered[int(len(ordered) * 0.99) - 1],
    }
    return figures


def misses(engine: Engine, items: list[Example]) -> list[str]:
    """One line per message routed wrong, for ``-v``."""
    dialog = engine.dialogs.main_menu.split(".", 1)[0]
    lines = []
    for item in items:
        decision = engine.decide(item.text, item.locale)
        wanted = None if item.label == OUT_OF_SCOPE else f"{dialog}.{item.label}"
        if decision.node != wanted:
            got = decision.node or ("ask:" + ",".join(c.node for c in decision.candidates))
            lines.append(f"  [{item.locale}] {item.label:>14} -> {got}: {item.text!r}")
    return lines


def show(title: str, figures: dict[str, dict[str, float]]) -> None:
    """Print one evaluation."""
    print(title)
    for locale, row in figures.items():
        if locale == "latency_us":
            continue
        print(
            f"  {locale}: top-1 {row['top1']:.1%} of {row['topics']:.0f} "
            f"(ask-back {row['ask_back']:.1%}); out-of-scope confident-wrong "
            f"{row['none_confident_wrong']:.1%} of {row['none']:.0f}; urgency recall "
            f"{row['urgency_recall']:.1%}, false urgency {row['false_urgency']:.1%}"
        )
    latency = figures["latency_us"]
    print(f"  latency per decision: p50 {latency['p50']:.0f} us, p99 {latency['p99']:.0f} us")


def with_temperature(model: classifier.IntentModel, temperature: float) -> classifier.IntentModel:
    """The same weights with another softmax temperature (no retraining)."""
    intents = replace(model.intents, temperature=temperature)
    return classifier.IntentModel(model.vocabulary, intents, model.languages)


def cross_validate(
    shipped: Content,
    *,
    regularizations: list[float],
    temperatures: list[float],
    routing: dict[str, list[float]],
    folds: int = 5,
) -> None:
    """Choose the model's constants and thresholds on the training examples alone.

    One model is trained per fold and regularisation; temperatures and ``routing``
    thresholds (every combination of the values given) only change how its scores are read.
    """
    items = list(shipped.examples.examples)
    random.Random(7).shuffle(items)
    names = sorted(routing)
    combos = list(itertools.product(*(routing[n] for n in names)))
    for regularization in regularizations:
        trained = []
        for fold in range(folds):
            train = [e for i, e in enumerate(items) if i % folds != fold]
            trained.append((classifier.train(train, regularization=regularization), fold))
        for temperature in temperatures:
            for combo in combos:
                settings = replace(
                    shipped.engine.settings,
                    routing=replace(
                        shipped.engine.settings.routing, **dict(zip(names, combo, strict=True))
                    ),
                )
                parts = []
                for model, fold in trained:
                    engine = replace(
                        shipped.engine,
                        model=with_temperature(model, temperature),
                        settings=settings,
                    )
                    parts.append(evaluate(engine, items[fold::folds]))

                def mean(figure: str, parts: list[Any] = parts) -> float:
                    return statistics.mean(p[loc][figure] for p in parts for loc in ("en", "es"))

                shown = " ".join(f"{n}={v}" for n, v in zip(names, combo, strict=True))
                print(
                    f"C={regularization} T={temperature} {shown}: top-1 {mean('top1'):.1%} "
                    f"(ask-back {mean('ask_back'):.1%}), out-of-scope confident-wrong "
                    f"{mean('none_confident_wrong'):.1%}, urgency recall "
                    f"{mean('urgency_recall'):.1%}, false urgency {mean('false_urgency'):.1%}",
                    flush=True,
                )


def grid(values: list[str]) -> dict[str, list[float]]:
    """``name=v1,v2`` arguments as a dict of value lists."""
    found: dict[str, list[float]] = {}
    for value in values:
        name, _, listed = value.partition("=")
        found[name.strip()] = [float(v) for v in listed.split(",")]
    return found


def main() -> None:
    """Print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="list every held-out miss (whoever reads them can no longer write examples blind)",
    )
    parser.add_argument("--cv", action="store_true", help="cross-validate the training set")
    parser.add_argument("--C", nargs="+", type=float, default=[0.5, 1.0, 2.0], help="for --cv")
    parser.add_argument("--T", nargs="+", type=float, default=[3.0, 4.0, 6.0], help="for --cv")
    parser.add_argument(
        "--set",
        nargs="+",
        default=[],
        metavar="NAME=V1,V2",
        help="for --cv: routing thresholds to try (confidence, margin, ask_back, urgency)",
    )
    parser.add_argument("--keywords", action="store_true", help="the keyword router alone")
    parser.add_argument("--blind", nargs="+", type=Path, help="a new batch to measure first")
    args = parser.parse_args()
    shipped = content()
    labels = [n.split(".", 1)[1] for n in shipped.dialogs.nodes]
    if args.cv:
        cross_validate(
            shipped, regularizations=args.C, temperatures=args.T, routing=grid(args.set)
        )
        return
    engine = shipped.engine
    if args.keywords:
        engine = replace(engine, model=None)
        engine.__post_init__()
    if args.blind:
        batch = [
            e
            for path in args.blind
            for e in load_set(path.parent, labels)
            if path.stem == e.locale
        ]
        show(f"blind, new batch {', '.join(map(str, args.blind))}:", evaluate(engine, batch))
        return
    heldout = load_set(HELDOUT, labels)
    kind = "keyword router" if args.keywords else "trained model"
    show(f"held-out ({kind}; never trained or tuned on):", evaluate(engine, heldout))
    training = list(shipped.examples.examples)
    print(f"training examples: {len(training)} in {examples_dir(shipped_config())}")
    if args.verbose:
        print("\n".join(misses(engine, heldout)))


def shipped_config() -> Any:
    """The default config (for paths in the report)."""
    return parse_config({"content": {"dialogs_dir": str(ROOT / "dialogs")}})


if __name__ == "__main__":
    main()
