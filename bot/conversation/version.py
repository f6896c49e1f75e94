"""One validated version of the bot's content: dialogs, catalogs and the engine built on them."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from bot.config import Config
from bot.content.dialogs import DialogSet, load_dialogs
from bot.content.examples import ExampleSet, load_examples
from bot.content.i18n import LocaleCatalog, Translator, load_catalogs
from bot.conversation.classifier import load_or_train
from bot.conversation.engine import Engine, EngineSettings
from bot.conversation.understanding import RoutingSettings
from bot.errors import ContentError, Problem

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Content:
    """Everything that changes when authors or translators edit files; swapped whole on reload."""

    dialogs: DialogSet
    catalogs: dict[str, LocaleCatalog]
    translator: Translator
    engine: Engine
    load_seconds: float
    examples: ExampleSet = field(default_factory=ExampleSet)


def engine_settings(config: Config) -> EngineSettings:
    """The engine's tunables from config."""
    return EngineSettings(
        locales=tuple(config.locales),
        default_locale=config.default_locale,
        idle=timedelta(minutes=config.session.idle_minutes),
        misses_before_handoff=config.session.misses_before_handoff,
        routing=RoutingSettings(
            keyword_confidence=config.routing.confidence,
            keyword_margin=config.routing.margin,
            confidence=config.routing.model_confidence,
            margin=config.routing.model_margin,
            ask_back=config.routing.ask_back,
            urgency=config.routing.urgency,
            language_switch=config.routing.language_switch,
        ),
    )


def examples_dir(config: Config) -> Path:
    """Where the labelled example messages are (``dialogs/examples`` by default)."""
    return config.content.examples_dir or config.content.dialogs_dir / "examples"


def load_content(config: Config, *, base: Path | None = None) -> Content:
    """Load and validate dialogs, catalogs and examples; build the intent model and engine.

    The model comes from ``content.cache_dir`` when the examples are unchanged (by content
    hash), and is trained (a few seconds) and cached otherwise.

    Raises:
        ContentError: with every problem found in dialogs, catalogs and examples, each at
            file:line.
    """
    started = time.perf_counter()
    problems: list[Problem] = []
    dialogs: DialogSet | None = None
    catalogs: dict[str, LocaleCatalog] = {}
    try:
        dialogs = load_dialogs(config.content.dialogs_dir, base=base)
    except ContentError as exc:
        problems.extend(exc.problems)
    try:
        catalogs = load_catalogs(config.content.locales_dir, config.locales, base=base)
    except ContentError as exc:
        problems.extend(exc.problems)
    examples = ExampleSet()
    if dialogs is not None:
        main = dialogs.main_menu.split(".", 1)[0]
        labels = [n.name for n in dialogs.nodes.values() if n.id.startswith(f"{main}.")]
        try:
            examples = load_examples(examples_dir(config), labels=labels, base=base)
        except ContentError as exc:
            problems.extend(exc.problems)
    if problems or dialogs is None:
        raise ContentError(problems)
    translator = Translator(catalogs, default_locale=config.default_locale)
    model = None
    if examples.examples:
        model = load_or_train(examples.examples, examples.digest, config.content.cache_dir)
    engine = Engine(
        dialogs,
        translator,
        engine_settings(config),
        model=model,
        example_locales=frozenset(examples.locales),
    )
    elapsed = time.perf_counter() - started
    logger.info(
        "Content loaded: %d nodes, %d locales in %.3fs", len(dialogs.nodes), len(catalogs), elapsed
    )
    return Content(dialogs, catalogs, translator, engine, elapsed, examples)
