"""The one HTTP server: webhook routes, ``GET /healthz`` and ``/readyz``, calm under bad HTTP.

Anyone can send the server anything. aiohttp answers bytes that are not HTTP, and bodies cut
short or badly chunked, with 400 (or by closing the connection), but logs each at ERROR with a
traceback that quotes the offending bytes. Here such a request is one WARNING line naming the
kind of error and never the bytes (:class:`_MalformedHttpFilter` on the server's logger, and
:func:`_broken_bodies` for bodies that fail while a handler reads them); a request that made
a handler itself fail is still an ERROR with its traceback, as a bug should be.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from bot.routes import Route

logger = logging.getLogger(__name__)

_server_log = logging.getLogger(f"{__name__}.http")
"""What aiohttp's request handler logs through (instead of ``aiohttp.server``)."""


class _MalformedHttpFilter(logging.Filter):
    """Turns aiohttp's ERROR-with-traceback for malformed HTTP into one WARNING line."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, HttpProcessingError):
            if record.levelno > logging.WARNING:  # aiohttp keeps TLS-on-http noise at DEBUG
                record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.msg = "Refused malformed HTTP from a client (%s, %s)"
            record.args = (type(error).__name__, error.code)
            record.exc_info = record.exc_text = None
        return True


_server_log.addFilter(_MalformedHttpFilter())

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def _broken_bodies(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Answer 400 when a request's body fails while a handler reads it (logged in one line)."""
    try:
        return await handler(request)
    except (HttpProcessingError, web.RequestPayloadError) as exc:
        logger.warning("Refused a malformed request body (%s)", type(exc).__name__)
    except ConnectionResetError:
        logger.info("A client went away before its request body arrived")
    return web.Response(status=400, text="malformed request")


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
    app = web.Application(client_max_size=max_body_bytes, middlewares=[_broken_bodies])

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
        # Access logs would carry query strings; errors go through the filtered logger.
        self._runner = web.AppRunner(app, access_log=None, logger=_server_log)
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
