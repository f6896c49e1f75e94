"""``kyrbot broadcast ...`` and ``kyrbot stats``: organizers' command line on the server.

::

    kyrbot broadcast create --text en="..." --text es="..." [--file es=PATH] [--yaml FILE]
                            [--allow-fallback]
    kyrbot broadcast preview ID
    kyrbot broadcast send ID [--yes] [--detach]
    kyrbot broadcast status ID [--json]
    kyrbot broadcast list
    kyrbot broadcast cancel ID
    kyrbot stats [--weeks N] [--json [--tickets]]

``send`` shows the preview, asks for confirmation (unless ``--yes``), starts the broadcast
and sends it from this process with a progress bar on stderr; a running ``kyrbot serve`` on
the same database shares the work safely. With ``--detach`` it only starts it, for the
running server to send. Every step is in the audit log under ``cli:<login>``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import json
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO, TypeVar

import yaml

from bot.config import Config
from bot.errors import ConfigError

if TYPE_CHECKING:  # imported when a command runs, so building the parser stays quick
    from bot.broadcast.outcomes import Report
    from bot.broadcast.service import BroadcastService
    from bot.broadcast.words import Words

EXIT_OK, EXIT_REFUSED, EXIT_UNUSABLE = 0, 1, 2

_T = TypeVar("_T")


def _add_config(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", type=Path, default=None, help="YAML config file (default: built-in defaults)"
    )


def add_parsers(sub: Any) -> None:
    """Add ``broadcast`` (with its subcommands) and ``stats`` to the ``kyrbot`` parser."""
    broadcast = sub.add_parser("broadcast", help="write, preview and send policy updates")
    actions = broadcast.add_subparsers(dest="broadcast_command", required=True)

    create = actions.add_parser("create", help="save a draft (texts per language)")
    _add_config(create)
    create.add_argument(
        "--text",
        action="append",
        default=[],
        metavar="LOCALE=TEXT",
        help="the update in one language (repeat for each language)",
    )
    create.add_argument(
        "--file",
        action="append",
        default=[],
        metavar="LOCALE=PATH",
        help="read one language's text from a UTF-8 file",
    )
    create.add_argument(
        "--yaml",
        type=Path,
        help="a YAML file: {texts: {en: ..., es: ...}, allow_fallback: false}",
    )
    create.add_argument(
        "--allow-fallback",
        action="store_true",
        help="send the English text to languages without a text of their own",
    )

    preview = actions.add_parser("preview", help="who would get it, and what SMS costs")
    _add_config(preview)
    preview.add_argument("id", type=int)

    send = actions.add_parser("send", help="send a draft (asks first unless --yes)")
    _add_config(send)
    send.add_argument("id", type=int)
    send.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    send.add_argument(
        "--detach",
        action="store_true",
        help="only start it; a running 'kyrbot serve' on the same database sends it",
    )

    status = actions.add_parser("status", help="progress or final report")
    _add_config(status)
    status.add_argument("id", type=int)
    status.add_argument("--json", action="store_true", help="the counts as JSON")

    listing = actions.add_parser("list", help="recent broadcasts")
    _add_config(listing)
    listing.add_argument("--limit", type=int, default=20, help="how many (default 20)")

    cancel = actions.add_parser("cancel", help="cancel a draft, or stop a broadcast being sent")
    _add_config(cancel)
    cancel.add_argument("id", type=int)

    stats = sub.add_parser("stats", help="topics people opened per week (counts only)")
    _add_config(stats)
    stats.add_argument("--weeks", type=int, default=8, help="how many weeks back (default 8)")
    stats.add_argument("--json", action="store_true", help="one JSON list of counts")
    stats.add_argument(
        "--tickets",
        action="store_true",
        help="with --json: the chats with volunteers (opened, answered, median first answer)",
    )


def run(args: argparse.Namespace, config: Config) -> int:
    """Run ``kyrbot broadcast ...`` or ``kyrbot stats``; returns the exit code."""
    from bot.broadcast.words import Words
    from bot.errors import BroadcastError

    words = Words()
    try:
        if args.command == "stats":
            return asyncio.run(_with_service(config, lambda s: _stats(s, args, words)))
        command = args.broadcast_command
        if command == "create":
            texts, allow_fallback = _read_texts(args)
            return asyncio.run(
                _with_service(config, lambda s: _create(s, texts, allow_fallback, words))
            )
        if command == "preview":
            return asyncio.run(_with_service(config, lambda s: _preview(s, args.id, words)))
        if command == "send":
            return asyncio.run(_send(config, args, words))
        if command == "status":
            return asyncio.run(_with_service(config, lambda s: _status(s, args, words)))
        if command == "list":
            return asyncio.run(_with_service(config, lambda s: _list(s, args.limit, words)))
        if command == "cancel":
            return asyncio.run(_with_service(config, lambda s: _cancel(s, args.id, words)))
    except BroadcastError as exc:
        _say(f"refused: {exc}", err=True)
        return EXIT_REFUSED
    return EXIT_UNUSABLE


def _say(text: str = "", *, err: bool = False) -> None:
    """Print a line for the organizer (stdout; stderr for refusals and progress)."""
    stream = sys.stderr if err else sys.stdout
    stream.write(text + "\n")
    stream.flush()


def _actor() -> str:
    from bot.broadcast.service import organizer_actor

    try:
        login = getpass.getuser()
    except (KeyError, OSError):
        login = "unknown"
    return organizer_actor(login=login)


def _read_texts(args: argparse.Namespace) -> tuple[dict[str, str], bool]:
    texts: dict[str, str] = {}
    allow_fallback = bool(args.allow_fallback)
    if args.yaml is not None:
        try:
            data = yaml.safe_load(args.yaml.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"{args.yaml}: cannot read the texts: {exc}") from None
        if isinstance(data, dict) and isinstance(data.get("texts"), dict):
            allow_fallback = allow_fallback or bool(data.get("allow_fallback", False))
            data = data["texts"]
        if not isinstance(data, dict):
            raise ConfigError(f"{args.yaml}: expected a mapping of language to text")
        texts.update({str(k): str(v) for k, v in data.items()})
    for item in args.file:
        locale, path = _pair(item, "--file")
        try:
            texts[locale] = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"--file {item}: cannot read it: {exc.strerror}") from None
    for item in args.text:
        locale, text = _pair(item, "--text")
        texts[locale] = text
    if not texts:
        raise ConfigError("give the texts with --text LOCALE=TEXT, --file LOCALE=PATH or --yaml")
    return texts, allow_fallback


def _pair(item: str, option: str) -> tuple[str, str]:
    locale, sep, value = item.partition("=")
    if not sep or not locale.strip():
        raise ConfigError(f"{option} {item!r}: expected LOCALE=VALUE, e.g. es=...")
    return locale.strip(), value


async def _with_service(config: Config, action: Callable[[BroadcastService], Awaitable[_T]]) -> _T:
    from bot.broadcast.service import BroadcastService
    from bot.storage import storage_for

    storage = storage_for(config)
    await storage.open()
    try:
        return await action(BroadcastService(storage, config))
    finally:
        await storage.close()


async def _create(
    service: BroadcastService, texts: dict[str, str], allow_fallback: bool, words: Words
) -> int:
    from bot.organizer.reports import format_preview

    broadcast = await service.create(_actor(), texts, allow_fallback=allow_fallback)
    _say(f"Created broadcast #{broadcast.id} (draft).\n")
    preview = await service.preview(broadcast.id, actor=_actor())
    _say(format_preview(preview, words))
    _say(f"\nSend it with: kyrbot broadcast send {broadcast.id}")
    return EXIT_OK


async def _preview(service: BroadcastService, broadcast_id: int, words: Words) -> int:
    from bot.organizer.reports import format_preview

    preview = await service.preview(broadcast_id, actor=_actor())
    _say(format_preview(preview, words))
    return EXIT_OK


async def _status(service: BroadcastService, args: argparse.Namespace, words: Words) -> int:
    from bot.organizer.reports import format_report, report_counts

    report = await service.report(args.id)
    if args.json:
        _say(json.dumps(report_counts(report), ensure_ascii=False, indent=1))
    else:
        _say(format_report(report, words))
    return EXIT_OK


async def _list(service: BroadcastService, limit: int, words: Words) -> int:
    broadcasts = await service.recent(limit=limit)
    if not broadcasts:
        _say("No broadcasts yet.")
        return EXIT_OK
    for b in broadcasts:
        when = words.when(b.started_at or b.created_at)
        first = next(iter(b.texts.values()), "").splitlines()[0:1]
        snippet = (first[0][:50] + "…") if first and len(first[0]) > 50 else "".join(first)
        _say(f"#{b.id:<5} {b.status:<9} {when:<24} {','.join(b.texts):<8} {snippet}")
    return EXIT_OK


async def _cancel(service: BroadcastService, broadcast_id: int, words: Words) -> int:
    from bot.organizer.reports import format_report

    report = await service.cancel(_actor(), broadcast_id)
    _say(format_report(report, words))
    return EXIT_OK


async def _stats(service: BroadcastService, args: argparse.Namespace, words: Words) -> int:
    from bot.handoff.stats import ticket_counts
    from bot.organizer.reports import format_stats, format_ticket_counts

    weeks = max(1, int(args.weeks))
    rows = await service.weekly_stats(weeks=weeks)
    since = datetime.now(UTC) - timedelta(weeks=weeks)
    tickets = await ticket_counts(service.storage, since=since)
    if args.json and args.tickets:
        median = tickets.median_first_answer
        _say(
            json.dumps(
                {
                    "opened": tickets.opened,
                    "answered": tickets.answered,
                    "median_first_answer_seconds": (
                        median.total_seconds() if median is not None else None
                    ),
                }
            )
        )
    elif args.json:
        _say(
            json.dumps(
                [
                    {
                        "week": r.week.isoformat(),
                        "node": r.node,
                        "locale": r.locale,
                        "channel": r.channel,
                        "count": r.count,
                    }
                    for r in rows
                ],
                ensure_ascii=False,
            )
        )
    else:
        _say(format_stats(rows, words, weeks=weeks, channels=service.channels))
        _say()
        _say(format_ticket_counts(tickets, words, weeks=weeks))
    return EXIT_OK


# -- send ------------------------------------------------------------------------------------


async def _send(config: Config, args: argparse.Namespace, words: Words) -> int:
    from bot.broadcast.runner import BroadcastRunner, channels_by_name
    from bot.broadcast.service import BroadcastService
    from bot.channels import registry
    from bot.organizer.reports import format_preview, format_report
    from bot.storage import storage_for
    from bot.storage.base import BroadcastStatus

    storage = storage_for(config)
    await storage.open()
    try:
        service = BroadcastService(storage, config)
        preview = await service.preview(args.id, actor=_actor())
        if preview.broadcast.status != BroadcastStatus.DRAFT:
            await service.start(_actor(), args.id)  # refuses with the reason
        _say(format_preview(preview, words))
        _say()
        if not args.yes and not _confirm(preview.total, args.id, words):
            _say("Not sent.")
            return EXIT_REFUSED
        await service.start(_actor(), args.id)
        if args.detach:
            _say(
                f"Broadcast #{args.id} started; a running 'kyrbot serve' sends it. "
                f"Follow it with: kyrbot broadcast status {args.id}"
            )
            return EXIT_OK
        channels = registry.build_channels(config)
        for channel in channels:
            # Only sending here: a running ``kyrbot serve`` receives. People found blocked or
            # opted out are recorded by the runner from the send errors.
            await channel.open()
        runner = BroadcastRunner(storage, channels_by_name(channels), config)
        bar = asyncio.get_running_loop().create_task(_progress(service, args.id, words))
        try:
            await runner.send_to_end(args.id)
        finally:
            bar.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await bar
            for channel in channels:
                with contextlib.suppress(Exception):
                    await channel.stop()
        _say(err=True)
        _say(format_report(await service.report(args.id), words))
        return EXIT_OK
    finally:
        await storage.close()


def _confirm(total: int, broadcast_id: int, words: Words) -> bool:
    if not sys.stdin.isatty():
        _say("Not a terminal: add --yes to send without asking.", err=True)
        return False
    answer = input(f"Send broadcast #{broadcast_id} to {words.number(total)} people now? [y/N] ")
    return answer.strip().lower() in ("y", "yes", "s", "si", "sí")


async def _progress(
    service: BroadcastService, broadcast_id: int, words: Words, *, out: TextIO | None = None
) -> None:
    """A plain-text progress bar on stderr, redrawn in place on a terminal."""
    stream = out or sys.stderr
    tty = stream.isatty()
    last_line = 0.0
    while True:
        report = await service.report(broadcast_id)
        line = progress_line(report, words)
        now = time.monotonic()
        if tty:
            stream.write("\r" + line)
            stream.flush()
        elif now - last_line >= 2.0:
            stream.write(line + "\n")
            stream.flush()
            last_line = now
        await asyncio.sleep(0.5)


def progress_line(report: Report, words: Words, *, width: int = 30) -> str:
    """``[#########.....] 340/1,000 34%  sent 330 · failed 2 · opted out 5 · unknown 3``."""
    total, done = report.total, report.done
    fraction = done / total if total else 0.0
    filled = round(width * fraction)
    s = report.summary()
    return (
        f"[{'#' * filled}{'.' * (width - filled)}] {words.number(done)}/{words.number(total)} "
        f"{words.percent(fraction)}  sent {words.number(s['sent'])} · failed "
        f"{words.number(s['failed'])} · opted out {words.number(s['opted_out'])} · unknown "
        f"{words.number(s['unknown'])}"
    )
