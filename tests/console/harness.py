"""A real ``kyrbot`` server with the web console, on the fake Bot API and Twilio servers.

The App runs with a real SQLite file and the real python-telegram-bot and twilio clients, on
the tests' event loop (one per module), beside Playwright's async API driving Chromium. Its
clock is injected: tests move it to age a login link.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.app import App
from bot.checks.status import CheckStatus
from bot.config import Config
from bot.storage import SqlStorage, console_store
from bot.storage.console import ConsoleStore
from tests.fakes.telegram_server import FakeBotApi
from tests.fakes.twilio_server import FakeTwilioServer
from tests.support.broadcast import ORGANIZER, add_subscribers, broadcast_config

STRANGER = 4_000_777
"""A Telegram user who is not an organizer."""


def chromium_path() -> str:
    """Debian's Chromium; in CI its absence fails the run, elsewhere the browser tests skip."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is not None:
        return path
    if os.environ.get("CI"):
        pytest.fail("chromium is not installed (apt-get install -y chromium); CI needs it")
    pytest.skip("chromium is not installed (apt-get install -y chromium)")


class MovableClock:
    """The console's clock: the real time plus an offset a test can move."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset


class ConsoleServer:
    """``kyrbot serve`` (the App) with the console on, and both fake providers.

    Args:
        tmp: a directory for the database and config.
    """

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.clock = MovableClock()
        self.telegram = FakeBotApi()
        self.twilio = FakeTwilioServer()
        self.app: App | None = None
        self.config: Config | None = None
        self.storage = SqlStorage(f"sqlite+aiosqlite:///{tmp / 'kyrbot.sqlite3'}")
        self.store: ConsoleStore = console_store(self.storage)
        self.database_url = f"sqlite+aiosqlite:///{tmp / 'kyrbot.sqlite3'}"
        self._serving: asyncio.Task[None] | None = None

    @property
    def base_url(self) -> str:
        assert self.app is not None and self.app.web is not None
        return f"http://127.0.0.1:{self.app.web.port}"

    async def start(self) -> None:
        await self.telegram.start()
        await self.twilio.start()
        self.config = broadcast_config(
            tg=self.telegram,
            tw=self.twilio,
            database=self.database_url,
            server={"port": 0},
            console={"enabled": True},
            content={"last_reviewed": "2026-11-20"},
        )
        await self.storage.open()
        await add_subscribers(self.storage, telegram=3, sms=3, locales=("es", "en", None))
        status = CheckStatus(self.config)
        await status()  # starts the content check now, so the content page has it sooner
        self.app = App(
            self.config, storage=self.storage, content_status=status, clock=self.clock.now
        )
        ready = asyncio.Event()
        self._serving = asyncio.ensure_future(self.app.serve(ready=lambda _app: ready.set()))
        waiting = asyncio.ensure_future(ready.wait())
        await asyncio.wait({waiting, self._serving}, return_when=asyncio.FIRST_COMPLETED)
        if self._serving.done():
            self._serving.result()  # serve failed: show why
        await waiting

    async def stop(self) -> None:
        if self.app is not None:
            self.app.stop()
        if self._serving is not None:
            await asyncio.wait_for(self._serving, 30)
        await self.telegram.stop()
        await self.twilio.stop()

    async def console_link(self, user_id: int = ORGANIZER) -> str | None:
        """Send ``/console`` from ``user_id`` in Telegram; the link the bot answers with."""
        before = len(self.telegram.sent_to(user_id))
        self.telegram.push_update(
            self.telegram.text_update(user_id, "/console", language_code="en", user_id=user_id)
        )
        await self.telegram.wait_until(
            lambda: len(self.telegram.sent_to(user_id)) > before, within=20
        )
        text = self.telegram.sent_to(user_id)[-1].text
        return next((word for word in text.split() if word.startswith("http")), None)
