"""``kyrbot console link --organizer ID``: a web console login link, made on the server.

For an operator at the server's command line; the link is printed, valid once for ten
minutes, for the allow-listed organizer (``organizers.telegram_ids``) it names. Anyone else
gets a plain refusal.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from bot.config import Config

EXIT_OK, EXIT_REFUSED = 0, 1


def add_parsers(sub: Any) -> None:
    """Add ``console link`` to the ``kyrbot`` parser."""
    console = sub.add_parser("console", help="the organizers' web console")
    actions = console.add_subparsers(dest="console_command", required=True)
    link = actions.add_parser("link", help="print a single-use login link (10 minutes)")
    link.add_argument(
        "--config", type=Path, default=None, help="YAML config file (default: built-in defaults)"
    )
    link.add_argument(
        "--organizer", type=int, required=True, help="the organizer's Telegram user id"
    )


def run(args: argparse.Namespace, config: Config) -> int:
    """Run ``kyrbot console link``; returns the exit code."""
    url = asyncio.run(make_link(config, args.organizer))
    if url is None:
        sys.stderr.write("refused: that id is not an organizer (organizers.telegram_ids)\n")
        return EXIT_REFUSED
    if not config.console.enabled:
        sys.stderr.write("note: console.enabled is not set; the server does not serve it yet\n")
    sys.stdout.write(url + "\n")
    return EXIT_OK


async def make_link(config: Config, organizer: int) -> str | None:
    """A login link for ``organizer`` on the configured database, or ``None`` (refused)."""
    from datetime import timedelta

    from bot.organizer.web.logins import Logins
    from bot.organizer.web.server import base_url
    from bot.storage import console_store, open_storage

    storage = open_storage(config.database.url)
    await storage.open()
    try:
        logins = Logins(
            console_store(storage),
            storage,
            organizers=config.organizers.telegram_ids,
            idle=timedelta(minutes=config.console.idle_minutes),
        )
        return await logins.make_link(organizer, base_url(config))
    finally:
        await storage.close()
