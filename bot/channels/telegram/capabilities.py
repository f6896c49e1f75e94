"""What the Telegram channel can do, from config alone; free of python-telegram-bot imports.

Broadcast previews and reports read these without loading PTB. Sending on Telegram is free,
and a broadcast text (at most 1,600 characters) is one message.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Final

from bot.channels.capabilities import Capabilities
from bot.config import Config

CHANNEL: Final = "telegram"
"""The :attr:`~bot.messages.Address.channel` of every Telegram address."""

MAX_TEXT_LENGTH: Final = 4096
"""Telegram's limit for one message (PTB's ``MessageLimit.MAX_TEXT_LENGTH``; a test checks)."""

TELEGRAM_CAPABILITIES: Final = Capabilities(
    buttons=True, max_text_length=MAX_TEXT_LENGTH, commands=True, display_name="Telegram"
)
"""What every Telegram channel can do, whatever the config."""


def telegram_capabilities(config: Config) -> Capabilities:
    """The Telegram channel's capabilities under ``config``: ``telegram.messages_per_second``."""
    return replace(TELEGRAM_CAPABILITIES, send_rate=config.telegram.messages_per_second)
