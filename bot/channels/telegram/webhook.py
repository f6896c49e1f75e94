"""Telegram's webhook: the secret it must carry, and the update in its body (or why not)."""

from __future__ import annotations

import hmac
import json
import logging
import re
from typing import Any, Final

from aiohttp import web
from telegram import Bot, Update

from bot.channels.telegram.plain import PlainText, plain_text
from bot.channels.telegram.shape import too_deep, update_problem, update_type
from bot.errors import ConfigError

logger = logging.getLogger(__name__)

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
) -> Update | PlainText | web.Response:
    """The update a webhook request carries, or the answer to give instead.

    A person's plain text in their private chat comes as a :class:`~.plain.PlainText`,
    without PTB's objects; every other update as PTB's ``Update``.

    403 without the right secret, 413 for a body over ``max_body`` bytes, 400 for a body that
    is not a Telegram update at all (not JSON, nested deeper than
    :data:`~bot.channels.telegram.shape.MAX_DEPTH`, no integer ``update_id``). An update
    python-telegram-bot cannot build is answered 200 and logged at WARNING with its type:
    Telegram redelivers a refused update, and holds back the ones behind it meanwhile.
    """
    supplied = request.headers.get(SECRET_HEADER, "").encode("utf-8", "replace")
    if not hmac.compare_digest(supplied, secret.encode("utf-8")):
        return web.Response(status=403, text="forbidden")
    if request.content_length is not None and request.content_length > max_body:
        return web.Response(status=413, text="too large")
    body = await request.read()  # aiohttp answers 413 itself beyond client_max_size
    if len(body) > max_body:
        return web.Response(status=413, text="too large")
    if too_deep(body):
        logger.warning("Refused a Telegram webhook body nested too deep")
        return web.Response(status=400, text="too deep")
    try:
        data: Any = json.loads(body)
    except (ValueError, RecursionError):
        return web.Response(status=400, text="not JSON")
    update_id = data.get("update_id") if isinstance(data, dict) else None
    if not isinstance(update_id, int) or isinstance(update_id, bool):
        return web.Response(status=400, text="not an update")
    plain = plain_text(data)
    if plain is not None:
        return plain
    try:
        update = Update.de_json(data, bot)
    except Exception as exc:  # PTB raises whatever a malformed field trips over
        logger.warning(
            "Ignored a Telegram %s update that cannot be read (%s)",
            update_type(data),
            type(exc).__name__,
        )
        return web.Response(status=200, text="ignored")
    problem = update_problem(update)
    if problem is not None:
        logger.warning(
            "Ignored a Telegram %s update: %s has the wrong type", update_type(data), problem
        )
        return web.Response(status=200, text="ignored")
    return update
