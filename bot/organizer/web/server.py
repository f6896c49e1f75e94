"""The console assembled: its pages' routes on the bot's one web server, under ``/console``.

:class:`Console` is what :mod:`bot.app` builds when ``console.enabled`` is set; it adds only
routes under ``/console`` (no middleware), so the webhooks on the same server pay nothing
for it. The Telegram console's ``/console`` command and ``kyrbot console link`` both make
their links with :attr:`Console.logins`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from aiohttp import web

from bot.broadcast.drafts import utcnow
from bot.broadcast.service import BroadcastService
from bot.config import Config
from bot.content.i18n import Translator
from bot.organizer.web.broadcasts import BroadcastPages
from bot.organizer.web.content_pages import ContentPages, StatusSource
from bot.organizer.web.csrf import Csrf
from bot.organizer.web.guard import Guard
from bot.organizer.web.live import LiveNumbers
from bot.organizer.web.login_pages import LoginPages
from bot.organizer.web.logins import Logins
from bot.organizer.web.pages import Pages
from bot.organizer.web.stats_pages import StatsPages
from bot.routes import Route
from bot.storage.base import Storage
from bot.storage.console import ConsoleStore


def base_url(config: Config, port: int | None = None) -> str:
    """Where organizers reach the server: ``server.public_url``, else its host and port."""
    if config.server.public_url:
        return config.server.public_url.rstrip("/")
    host = config.server.host
    if host in ("0.0.0.0", "::", ""):  # noqa: S104  (a bound-everywhere address, not a bind)
        host = "127.0.0.1"
    return f"http://{host}:{port if port is not None else config.server.port}"


class Console:
    """The organizers' web console.

    Args:
        config: uses ``console.*``, ``organizers.telegram_ids``, ``server.public_url``,
            ``content.*`` review dates, ``privacy.hash_key`` (the CSRF key).
        service: the broadcast service.
        storage: the bot's storage (the audit log).
        store: the console's store on the same database.
        translator: returns the current catalogs.
        status: runs the content check for the content page.
        wake: starts this process's broadcast runner after a send.
        channels: the running channels' names (whose rendering the compose page shows).
        now: the clock.
    """

    def __init__(
        self,
        config: Config,
        *,
        service: BroadcastService,
        storage: Storage,
        store: ConsoleStore,
        translator: Callable[[], Translator],
        status: StatusSource,
        wake: Callable[[], None] | None = None,
        channels: tuple[str, ...] = (),
        now: Callable[[], datetime] = utcnow,
    ) -> None:
        self.logins = Logins(
            store,
            storage,
            organizers=config.organizers.telegram_ids,
            idle=timedelta(minutes=config.console.idle_minutes),
            now=now,
        )
        self.pages = Pages(translator, config.default_locale)
        secure = (config.server.public_url or "").startswith("https://")
        self.guard = Guard(self.logins, Csrf(config.privacy.hash_key), self.pages, secure)
        self._parts = (
            LoginPages(self.logins, self.guard, self.pages),
            BroadcastPages(service, self.guard, self.pages, wake),
            LiveNumbers(service, self.guard, channels),
            StatsPages(service, store, self.guard, self.pages, now),
            ContentPages(
                status,
                Path(config.console.routing_figures),
                config.content.last_reviewed,
                config.content.legal_review,
                self.guard,
                self.pages,
            ),
        )

    def routes(self) -> list[Route]:
        """Every console route (all under ``/console``)."""
        routes = [
            Route("GET", "/console", self._home),
            Route("GET", "/console/", self._home),
            Route("GET", "/console/static/{name}", self._static),
        ]
        for part in self._parts:
            routes.extend(part.routes())
        return routes

    async def _home(self, _request: web.Request) -> web.StreamResponse:
        return web.Response(status=303, headers={"Location": "/console/broadcasts"})

    async def _static(self, request: web.Request) -> web.StreamResponse:
        return self.pages.static(request.match_info["name"])
