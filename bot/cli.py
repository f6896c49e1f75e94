"""The ``kyrbot`` command line (also ``python -m bot``)."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from bot.channels import registry
from bot.config import Config, load_config
from bot.errors import BotError, ConfigError, ContentError
from bot.organizer import cli as broadcast_cli
from bot.organizer import privacy_cli
from bot.organizer.web import link_cli as console_cli

if TYPE_CHECKING:
    from bot.app import App

logger = logging.getLogger(__name__)

EXIT_OK, EXIT_ERRORS, EXIT_UNUSABLE = 0, 1, 2


def _add_config(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", type=Path, default=None, help="YAML config file (default: built-in defaults)"
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    parser = argparse.ArgumentParser(
        prog="kyrbot", description="Know-your-rights chatbot about Milwaukee police rule SOP 130."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    sub = parser.add_subparsers(dest="command", required=True)

    chat = sub.add_parser("chat", help="talk to the bot in this terminal")
    _add_config(chat)
    chat.add_argument("--lang", help="start in this language (en, es, ...)")
    chat.add_argument(
        "--as",
        dest="render_as",
        choices=list(registry.PREVIEWS),
        default="terminal",
        help="show replies as this channel would",
    )
    chat.add_argument("--json", action="store_true", help="one JSON object per input line")
    chat.add_argument("--show-segments", action="store_true", help="with --as sms: show cost")
    chat.add_argument("--db", help="database URL or SQLite file to keep (default: throwaway)")
    chat.add_argument(
        "--audio", type=Path, help="with --as voice: also write WAV files here (needs espeak-ng)"
    )

    ask = sub.add_parser("ask", help="show which topic a free-text question goes to")
    _add_config(ask)
    ask.add_argument("text", help="the message, as a person would type it")
    ask.add_argument(
        "--lang", default=None, help="the reader's locale (default: the message's language)"
    )
    ask.add_argument("--json", action="store_true", help="print one JSON object")

    check = sub.add_parser("check", help="check dialogs and translations")
    _add_config(check)
    check.add_argument("--json", action="store_true")
    check.add_argument("--locale", default=None, help="only this locale")

    serve = sub.add_parser("serve", help="run the bot (webhooks, Telegram polling)")
    _add_config(serve)

    i18n = sub.add_parser("i18n", help="translation files: extract, update, init LANG, stats")
    _add_config(i18n)
    i18n_sub = i18n.add_subparsers(dest="i18n_command", required=True)
    i18n_sub.add_parser("extract", help="write locales/messages.pot from dialogs and code")
    update = i18n_sub.add_parser("update", help="extract, then merge into every catalog")
    update.add_argument("locale", nargs="?", help="only this locale")
    init = i18n_sub.add_parser("init", help="extract, then start a catalog for a new language")
    init.add_argument("locale")
    i18n_sub.add_parser("stats", help="translated / fuzzy / missing / obsolete per locale")

    reload_ = sub.add_parser("reload", help="make a running 'kyrbot serve' reload its content")
    _add_config(reload_)
    broadcast_cli.add_parsers(sub)
    console_cli.add_parsers(sub)
    privacy_cli.add_parsers(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``kyrbot`` console script."""
    args = build_parser().parse_args(argv)
    _configure_logging(args)
    try:
        config = load_config(args.config)
        if args.command == "chat":
            return _chat(args, config)
        if args.command == "ask":
            return _ask(args, config)
        if args.command == "check":
            return _check(args, config)
        if args.command == "serve":
            return _serve(config)
        if args.command == "i18n":
            return _i18n(args, config)
        if args.command in ("broadcast", "stats"):
            return broadcast_cli.run(args, config)
        if args.command == "console":
            return console_cli.run(args, config)
        if args.command == "privacy":
            return privacy_cli.run(args, config)
        if args.command == "reload":
            from bot.app import send_reload

            pid = send_reload(config)
            print(f"Asked the server (pid {pid}) to reload its content.")
            return EXIT_OK
    except ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return EXIT_UNUSABLE
    except ContentError as exc:
        print("The content has errors; nothing was started:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return EXIT_ERRORS
    except BotError as exc:
        # Anything else we raise on purpose (a channel that cannot start, storage that cannot
        # open) is a clear message, not a traceback.
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_UNUSABLE
    except KeyboardInterrupt:
        return EXIT_OK
    except BrokenPipeError:
        # The reader went away (``kyrbot check --json | head``): stop quietly.
        _quiet_stdout()
        return EXIT_OK
    return EXIT_UNUSABLE


def _quiet_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush cannot fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def _configure_logging(args: argparse.Namespace) -> None:
    level = logging.INFO if args.verbose or args.command == "serve" else logging.ERROR
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # its INFO lines carry URLs with tokens
    # twilio's client logs every request's URL and headers at INFO: noise, and the account id.
    logging.getLogger("twilio").setLevel(logging.WARNING)


def _database_url(value: str) -> str:
    if "://" in value:
        return value
    return f"sqlite+aiosqlite:///{Path(value).resolve()}"


def _chat(args: argparse.Namespace, config: Config) -> int:
    from bot.app import App
    from bot.channels.terminal import TerminalChannel
    from bot.privacy import AddressVault
    from bot.storage import Storage, open_storage, storage_for

    if args.lang and args.lang not in config.locales:
        raise ConfigError(
            f"--lang {args.lang}: not one of the configured locales {config.locales}"
        )
    with tempfile.TemporaryDirectory(prefix="kyrbot-chat-") as scratch:
        storage: Storage
        if args.db:  # a database to keep: under the config's keys
            database = config.database.model_copy(update={"url": _database_url(args.db)})
            storage = storage_for(config.model_copy(update={"database": database}))
        else:  # thrown away at the end, with the random keys it was encrypted under
            url = f"sqlite+aiosqlite:///{Path(scratch) / 'chat.sqlite3'}"
            storage = open_storage(url, vault=AddressVault.throwaway())
        app = App(config, storage=storage)
        channel = TerminalChannel(
            render_as=args.render_as,
            as_json=args.json,
            locale_hint=args.lang,
            fold_accents=registry.fold_accents(config),
            show_segments=args.show_segments,
            voice_words=_voice_words(app) if args.render_as == "voice" else None,
            audio_dir=_audio_dir(args),
        )

        async def run() -> None:
            await app.open()
            try:
                await channel.start(app.callbacks)
            finally:
                await app.close()

        asyncio.run(run())
    return EXIT_OK


def _audio_dir(args: argparse.Namespace) -> Path | None:
    """``--audio DIR``, made, when espeak-ng can speak; else None (and why, on stderr)."""
    if args.audio is None:
        return None
    from bot.channels.voice.audio import available

    if args.render_as != "voice" or not available():
        print(
            "--audio needs --as voice and espeak-ng installed; no audio written", file=sys.stderr
        )
        return None
    args.audio.mkdir(parents=True, exist_ok=True)
    return Path(args.audio)


def _voice_words(app: App) -> dict[str, dict[str, str]]:
    from bot.channels.voice.words import translated

    return translated(app.content.translator.text, app.content.engine.locales)


def _ask(args: argparse.Namespace, config: Config) -> int:
    from bot.conversation.render import Renderer
    from bot.conversation.version import load_content

    content = load_content(config)
    engine = content.engine
    if args.lang is not None and args.lang not in engine.locales:
        raise ConfigError(f"--lang {args.lang}: not one of the configured locales")
    locale = (
        args.lang
        or engine.understanding.language_of(args.text)
        or engine.commands.detect_language(args.text)
        or config.default_locale
    )
    decision = engine.decide(args.text, locale)
    text = None
    if decision.node is not None:
        renderer = Renderer.from_config(content, config)
        text = renderer.render(engine.page(decision.node, locale), locale).text
    candidates = [{"node": c.node, "probability": c.probability} for c in decision.candidates]
    runner_up = decision.candidates[1] if len(decision.candidates) > 1 else None
    record = {
        "node": decision.node,
        "score": decision.score,
        "confident": decision.confident,
        "text": text,
        "runner_up": runner_up.node if runner_up else None,
        "runner_up_score": runner_up.probability if runner_up else 0.0,
        "decided_by": decision.decided_by,
        "candidates": candidates,
    }
    if args.json:
        print(json.dumps(record, ensure_ascii=False))
        return EXIT_OK
    if decision.ask_back:
        offered = ", ".join(f"{c.node} ({c.probability})" for c in decision.candidates)
        print(f"asks back, offering: {offered}")
    elif decision.node is None:
        verdict = "out of scope" if decision.out_of_scope else "not understood"
        print(f"would NOT answer ({verdict}; decided by {decision.decided_by})")
    else:
        print(f"answers: {decision.node} (score {decision.score}; by {decision.decided_by})")
    if text:
        print()
        print(text)
    return EXIT_OK


def _check(args: argparse.Namespace, config: Config) -> int:
    from bot.checks import format_report, run_checks

    if args.locale and args.locale not in config.locales:
        raise ConfigError(f"--locale {args.locale}: not one of the configured locales")
    report = run_checks(config, only_locale=args.locale)
    if args.json:
        print(json.dumps(report.as_json(), ensure_ascii=False, indent=1))
    else:
        print(format_report(report))
    return EXIT_OK if report.ok else EXIT_ERRORS


def _serve(config: Config) -> int:
    from bot.app import App

    for name in config.organization.unset_numbers():
        # Loud on purpose: people in trouble would be told to call no number at all.
        print(
            f"WARNING: organization.{name} is not set; the emergency page gives no number "
            "to call. Set it in the config file.",
            file=sys.stderr,
        )
    status = None
    if config.console.enabled:
        from bot.checks.status import CheckStatus

        status = CheckStatus(config)
    app = App(config, content_status=status)
    if status is not None:
        app.reload_listeners.append(lambda _content, _error: status.refresh())
    asyncio.run(app.serve())
    return EXIT_OK


def _i18n(args: argparse.Namespace, config: Config) -> int:
    from bot.content import catalog_tools as i18n_tools

    paths = i18n_tools.paths_for(config)
    try:
        if args.i18n_command in ("extract", "update", "init"):
            i18n_tools.extract(paths)
            print(f"wrote {paths.template}")
        if args.i18n_command == "update":
            print(i18n_tools.update(paths, args.locale).strip() or "catalogs updated")
        elif args.i18n_command == "init":
            print(i18n_tools.init(paths, args.locale).strip())
            print(f"Now add '{args.locale}' to 'locales:' in your config to offer it.")
    except i18n_tools.I18nError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERRORS
    if args.i18n_command == "stats":
        from bot.checks import run_checks

        report = run_checks(config)
        for locale, stats in report.locales.items():
            counts = stats.as_dict()
            print(f"{locale}: " + ", ".join(f"{v} {k}" for k, v in counts.items()))
        return EXIT_OK if report.ok else EXIT_ERRORS
    return EXIT_OK
