"""The one HTTP server: channel webhook routes plus ``GET /healthz`` and ``GET /readyz``."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from aiohttp import web

from bot.routes import Route

logger = logging.getLogger(__name__)

HealthCheck = Callable[[], Awaitable[bool]]
ReadinessCheck = Callable[[], Awaitable[tuple[bool, dict[str, Any]]]]


def build_web_app(
    routes: Iterable[Route],
    *,
    max_body_bytes: int = 65536,
    health: HealthCheck | None = None,
    readiness: ReadinessCheck | None = None,
) -> web.Application:
    """An aiohttp application serving ``routes``, ``/healthz`` and ``/readyz``.

    ``/healthz`` is liveness (``health``); ``/readyz`` is readiness (``readiness``: 503
    with the reasons in the body when not ready; without one it follows ``health``). Bodies
    larger than ``max_body_bytes`` are refused with 413 by aiohttp before any handler
    reads them (``client_max_size``).
    """
    app = web.Application(client_max_size=max_body_bytes)

    async def healthz(_request: web.Request) -> web.Response:
        ok = True if health is None else await health()
        return web.json_response({"ok": ok}, status=200 if ok else 503)

    async def readyz(request: web.Request) -> web.Response:
        if readiness is None:
            return await healthz(request)
        ready, body = await readiness()
        return web.json_response(body, status=200 if ready else 503)

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    for route in routes:
        app.router.add_route(route.method, route.path, route.handler)
    return app


class WebServer:
    """Runs an aiohttp application on host:port until stopped."""

    def __init__(self, app: web.Application, *, host: str, port: int) -> None:
        self._runner = web.AppRunner(app, access_log=None)  # access logs would carry query strings
        self._host = host
        self._port = port
        self.port: int | None = None
        """The bound port once started (useful when ``port`` is 0)."""

    async def start(self) -> None:
        """Bind and start serving."""
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        server = site._server  # aiohttp exposes the bound socket only here
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else self._port
        logger.info("HTTP server listening on %s:%s", self._host, self.port)

    async def stop(self) -> None:
        """Stop serving and close connections."""
        await self._runner.cleanup()
