"""Telegram's webhook: the secret it must carry, and the update in its body (or why not)."""

from __future__ import annotations

import hmac
import json
import re
from typing import Any, Final

from aiohttp import web
from telegram import Bot, Update

from bot.errors import ConfigError

WEBHOOK_PATH: Final = "/telegram/webhook"
SECRET_HEADER: Final = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name

_SECRET_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,256}")


def validate_webhook_secret(secret: str | None) -> str:
    """Check ``telegram.webhook_secret`` against the Bot API's rule and return it.

    Raises:
        ConfigError: the secret is missing, or is not 1-256 characters of ``A-Z a-z 0-9 _ -``.
    """
    if not secret:
        raise ConfigError(
            "telegram.webhook_secret: required when server.public_url is set (webhook mode); "
            "set it from ${ENV_VAR} to 1-256 characters of A-Z a-z 0-9 _ -"
        )
    if not _SECRET_PATTERN.fullmatch(secret):
        raise ConfigError(
            "telegram.webhook_secret: must be 1-256 characters of A-Z a-z 0-9 _ - "
            "(Telegram's rule for secret_token)"
        )
    return secret


async def read_update(
    request: web.Request, *, secret: str, max_body: int, bot: Bot
) -> Update | web.Response:
    """The update a webhook request carries, or the answer to give instead.

    403 without the right secret, 413 for a body over ``max_body`` bytes, 400 for a body that
    is not a Telegram update.
    """
    supplied = request.headers.get(SECRET_HEADER, "").encode("utf-8", "replace")
    if not hmac.compare_digest(supplied, secret.encode("utf-8")):
        return web.Response(status=403, text="forbidden")
    if request.content_length is not None and request.content_length > max_body:
        return web.Response(status=413, text="too large")
    body = await request.read()  # aiohttp answers 413 itself beyond client_max_size
    if len(body) > max_body:
        return web.Response(status=413, text="too large")
    try:
        data: Any = json.loads(body)
    except ValueError:
        return web.Response(status=400, text="not JSON")
    update_id = data.get("update_id") if isinstance(data, dict) else None
    if not isinstance(update_id, int) or isinstance(update_id, bool):
        return web.Response(status=400, text="not an update")
    try:
        return Update.de_json(data, bot)
    except Exception:  # PTB raises whatever a malformed field trips over
        return web.Response(status=400, text="not an update")
