"""One validated version of the bot's content: dialogs, catalogs and the engine built on them."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from bot.config import Config
from bot.content.dialogs import DialogSet, load_dialogs
from bot.content.i18n import LocaleCatalog, Translator, load_catalogs
from bot.conversation.engine import Engine, EngineSettings
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


def engine_settings(config: Config) -> EngineSettings:
    """The engine's tunables from config."""
    return EngineSettings(
        locales=tuple(config.locales),
        default_locale=config.default_locale,
        idle=timedelta(minutes=config.session.idle_minutes),
        misses_before_handoff=config.session.misses_before_handoff,
        confidence=config.routing.confidence,
        margin=config.routing.margin,
    )


def load_content(config: Config, *, base: Path | None = None) -> Content:
    """Load and validate dialogs and catalogs and build the engine.

    Raises:
        ContentError: with every problem found in dialogs and catalogs, each at file:line.
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
    if problems or dialogs is None:
        raise ContentError(problems)
    translator = Translator(catalogs, default_locale=config.default_locale)
    engine = Engine(dialogs, translator, engine_settings(config))
    elapsed = time.perf_counter() - started
    logger.info(
        "Content loaded: %d nodes, %d locales in %.3fs", len(dialogs.nodes), len(catalogs), elapsed
    )
    return Content(dialogs, catalogs, translator, engine, elapsed)
