"""``kyrbot privacy ...``: keys, encrypting an old database, key rotation, retention, audit.

docs/PRIVACY.md is the operator's guide to these commands.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bot.config import Config
from bot.errors import ConfigError
from bot.privacy import audit, new_key

EXIT_OK, EXIT_FOUND, EXIT_UNUSABLE = 0, 1, 2


def add_parsers(sub: Any) -> None:
    """Add ``privacy`` and its subcommands to the ``kyrbot`` parser."""
    privacy = sub.add_parser("privacy", help="keys, encryption, retention and the privacy audit")
    actions = privacy.add_subparsers(dest="privacy_command", required=True)
    _add_config(actions.add_parser("new-key", help="print a fresh random key"))

    migrate = actions.add_parser(
        "migrate", help="encrypt a database an older kyrbot kept in plain text (resumable)"
    )
    _add_config(migrate)

    rotate = actions.add_parser(
        "rotate-key", help="re-encrypt everything under privacy.encryption_key (resumable)"
    )
    _add_config(rotate)
    rotate.add_argument("--batch-size", type=int, default=200, help="rows per transaction")
    rotate.add_argument(
        "--pause", type=float, default=0.0, help="seconds between batches (spares the server)"
    )

    retention = actions.add_parser(
        "retention", help="erase what the retention windows say is too old, now"
    )
    _add_config(retention)

    scan = actions.add_parser(
        "audit", help="look for phone numbers, chat ids and message texts at rest"
    )
    _add_config(scan)
    scan.add_argument(
        "--database", type=Path, help="a SQLite file (default: the config's database.url)"
    )
    scan.add_argument("--log", type=Path, action="append", default=[], help="a log file")
    scan.add_argument(
        "--canary", action="append", default=[], help="a string known to have been sent"
    )
    scan.add_argument("--canary-file", type=Path, help="canaries, one a line")


def _say(text: str, *, err: bool = False) -> None:
    stream = sys.stderr if err else sys.stdout
    stream.write(text + "\n")
    stream.flush()  # progress is read line by line (and the process may be stopped)


def _add_config(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, default=None, help="YAML config file")


def run(args: argparse.Namespace, config: Config) -> int:
    """Run ``kyrbot privacy ...``; returns the exit code."""
    command = args.privacy_command
    if command == "new-key":
        _say(new_key())
        return EXIT_OK
    if command == "migrate":
        return asyncio.run(_migrate(config))
    if command == "rotate-key":
        return asyncio.run(_rotate(config, args.batch_size, args.pause))
    if command == "retention":
        return asyncio.run(_retention(config))
    if command == "audit":
        return _audit(config, args)
    return EXIT_UNUSABLE


def _sql_storage(config: Config) -> Any:
    from bot.storage import SqlStorage, storage_for

    storage = storage_for(config)
    if not isinstance(storage, SqlStorage):
        raise ConfigError("database.url: this command needs a database, not memory://")
    return storage


async def _migrate(config: Config) -> int:
    storage = _sql_storage(config)
    await storage.open()  # opening encrypts whatever is still plain text
    try:
        done = storage.encrypted_on_open
    finally:
        await storage.close()
    if done:
        _say(f"Encrypted {done} contacts; the database keeps no plain-text address now.")
    else:
        _say("Nothing to do: every address in the database is encrypted.")
    return EXIT_OK


async def _rotate(config: Config, batch_size: int, pause: float) -> int:
    from bot.storage.sql.rotation import RotationProgress, rotate_keys

    if batch_size < 1:
        raise ConfigError("--batch-size must be at least 1")

    def report(progress: RotationProgress) -> None:
        _say(f"re-encrypted {progress.rotated}, {progress.remaining} left")

    storage = _sql_storage(config)
    await storage.open()
    try:
        final = await rotate_keys(
            storage.database, batch_size=batch_size, pause=pause, progress=report
        )
    finally:
        await storage.close()
    if final.remaining:
        _say(f"{final.remaining} rows are still under an older key; run it again.")
        return EXIT_FOUND
    _say(
        f"Done: {final.rotated} rows re-encrypted; everything is under the current key. "
        "privacy.previous_keys can now be emptied."
    )
    return EXIT_OK


async def _retention(config: Config) -> int:
    from bot.storage import storage_for

    storage = storage_for(config)
    await storage.open()
    try:
        result = await storage.prune(**config.retention_cutoffs(datetime.now(UTC)))
    finally:
        await storage.close()
    _say(
        f"Erased {result.contacts} contacts silent for over {config.privacy.retention_days} "
        f"days, {result.sessions} sessions, {result.inbound_ids} dedup ids, "
        f"{result.deliveries} deliveries."
    )
    return EXIT_OK


def _database_path(config: Config) -> Path | None:
    url = sa.make_url(config.database.url)
    if not url.drivername.startswith("sqlite") or url.database in (None, "", ":memory:"):
        return None
    return Path(url.database)


def _audit(config: Config, args: argparse.Namespace) -> int:
    canaries = list(args.canary)
    if args.canary_file is not None:
        try:
            text = args.canary_file.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"{args.canary_file}: {exc.strerror}") from None
        canaries += [line.strip() for line in text.splitlines() if line.strip()]
    allowed = audit.Allowed(config.own_numbers())
    database = args.database or _database_path(config)
    findings: list[audit.Finding] = []
    scanned = []
    if database is not None:
        findings += audit.scan_database_files(database, allowed, canaries)
        scanned.append(str(database))
    for log in args.log:
        findings += audit.scan_text_file(log, allowed, canaries)
        scanned.append(str(log))
    if args.config is not None:
        findings += audit.scan_text_file(args.config, allowed, canaries)
        scanned.append(str(args.config))
    for finding in findings:
        _say(str(finding))
    if findings:
        _say(f"{len(findings)} findings.", err=True)
        return EXIT_FOUND
    _say(f"No phone number, chat id or message text found in {', '.join(scanned) or 'nothing'}.")
    return EXIT_OK
