"""What a pressed button gets back: its spinner stopped and its keyboard closed."""

from __future__ import annotations

import asyncio
import logging

from telegram import CallbackQuery, Message
from telegram.error import TelegramError

from bot.channels.telegram.render import MAX_TEXT_LENGTH, NO_PREVIEW, button_label, utf16_length

logger = logging.getLogger(__name__)


async def answer_press(query: CallbackQuery, in_flight: asyncio.Semaphore) -> None:
    """Stop the button's progress spinner; first thing, so a later failure cannot skip it."""
    try:
        async with in_flight:
            await query.answer()
    except TelegramError as exc:
        # An old or already answered query: the person sees nothing wrong.
        logger.debug("answerCallbackQuery failed: %s", type(exc).__name__)


async def close_keyboard(query: CallbackQuery, in_flight: asyncio.Semaphore) -> None:
    """Replace the pressed message's buttons with the chosen label, so old menus stay quiet."""
    message = query.message
    if not isinstance(message, Message) or message.reply_markup is None:
        return
    label = button_label(query)
    text = f"{message.text}\n\n» {label}" if message.text and label else None
    try:
        async with in_flight:
            if text is not None and utf16_length(text) <= MAX_TEXT_LENGTH:
                await message.edit_text(text, link_preview_options=NO_PREVIEW)
            else:
                await message.edit_reply_markup(reply_markup=None)
    except TelegramError as exc:
        logger.debug("Removing a pressed keyboard failed: %s", type(exc).__name__)
