"""Start-up calls to the Bot API (connect, webhook, command menus) and quiet library logs."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, Final

from telegram import Bot, BotCommand, BotCommandScopeDefault
from telegram.error import BadRequest, InvalidToken, TelegramError
from telegram.ext import Application

from bot.channels.telegram.render import command_menu
from bot.errors import ChannelUnavailable, ConfigError

logger = logging.getLogger(__name__)

ALLOWED_UPDATES: Final = ("message", "callback_query", "my_chat_member")
"""Update types asked for; edited messages are not (they would be ignored anyway)."""


def quiet_loggers() -> None:
    """Keep token-bearing URLs (httpx INFO) and update contents (PTB DEBUG) out of the log.

    A library logger the operator left unset is pinned at its floor or the level it
    currently inherits, whichever is quieter; so it never becomes more verbose than it was,
    and stays quiet if the root logger is later turned down to DEBUG.
    """
    for name, floor in (("httpx", logging.WARNING), ("telegram", logging.INFO)):
        library_logger = logging.getLogger(name)
        if library_logger.level == logging.NOTSET:
            library_logger.setLevel(max(floor, library_logger.getEffectiveLevel()))


async def connect(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """``getMe`` (once: a second call does nothing).

    Raises:
        ConfigError: the Bot API server rejected the token.
        ChannelUnavailable: the Bot API server could not be reached.
    """
    try:
        await application.initialize()
    except InvalidToken:
        raise ConfigError("telegram.token: the Bot API server rejected the token") from None
    except TelegramError as exc:
        raise ChannelUnavailable(
            f"cannot reach the Telegram Bot API ({type(exc).__name__})"
        ) from exc


async def set_webhook(bot: Bot, url: str, *, secret: str) -> None:
    """Register ``url`` as the webhook, with ``secret`` and the update types the bot reads.

    Raises:
        ConfigError: Telegram refused the address.
        ChannelUnavailable: the call failed otherwise.
    """
    try:
        await bot.set_webhook(url=url, secret_token=secret, allowed_updates=list(ALLOWED_UPDATES))
    except BadRequest as exc:
        raise ConfigError(f"server.public_url: Telegram refused the webhook: {exc}") from None
    except TelegramError as exc:
        raise ChannelUnavailable(f"setWebhook failed ({type(exc).__name__})") from exc


async def register_commands(
    bot: Bot,
    *,
    locales: Sequence[str],
    default_locale: str,
    descriptions: Mapping[str, Mapping[str, str]],
) -> None:
    """``setMyCommands`` once per configured language and once as the default.

    A failure is logged: the commands still work without the menu.
    """
    done: set[str] = set()
    targets: list[tuple[str | None, str]] = []
    for locale in locales:
        language = locale.replace("-", "_").split("_")[0].lower()  # Telegram: ISO 639-1
        if language not in done:
            done.add(language)
            targets.append((language, locale))
    targets.append((None, default_locale))
    for language_code, locale in targets:
        menu = command_menu(descriptions.get(locale))
        commands = [BotCommand(name, description) for name, description in menu]
        try:
            await bot.set_my_commands(
                commands, scope=BotCommandScopeDefault(), language_code=language_code
            )
        except TelegramError as exc:
            logger.warning(
                "setMyCommands for %s failed: %s",
                language_code or "default",
                type(exc).__name__,
            )
