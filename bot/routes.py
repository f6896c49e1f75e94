"""One HTTP route a channel serves on the bot's single web server (the bottom layer)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
"""An aiohttp request handler."""


@dataclass(frozen=True, slots=True)
class Route:
    """One HTTP route: a channel offers it, :mod:`bot.web` mounts it.

    Attributes:
        method: the HTTP method (``"POST"``).
        path: the path (``"/twilio/sms"``).
        handler: the coroutine answering the request.
    """

    method: str
    path: str
    handler: Handler
