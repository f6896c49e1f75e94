"""A reply's ``sendMessage`` calls in the Bot API's own form, built without PTB's objects.

Sending a reply through ``Bot.send_message`` builds an ``InlineKeyboardMarkup`` of
``InlineKeyboardButton`` objects, serialises it back to a dict, wraps every argument in a
request parameter, and parses the answer into a ``Message`` with its chat, user and
keyboard, of which the adapter reads one number. At full load that object work cost as
much as the conversation itself, so replies are rendered straight to the parameters
Telegram reads (the same ones PTB would send: ``tests/channels/telegram/test_wire.py``
compares them) and posted through the bot's own request object. The request still goes
through PTB's error mapping (``BaseRequest.post``), so a failure raises the same
``TelegramError`` as before and :func:`~bot.channels.telegram.errors.send_error` maps it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Final

from telegram import Bot
from telegram.error import TelegramError
from telegram.request import RequestData

# RequestData is public; its parameters' class lives in a private module (PTB pinned <23).
from telegram.request._requestparameter import RequestParameter

from bot.channels.telegram.render import keyboard_rows, split_text
from bot.messages import Reply

NO_PREVIEW_JSON: Final = '{"is_disabled":true}'
"""``LinkPreviewOptions(is_disabled=True)`` as sent: links stay clickable, no previews."""

WirePart = tuple[str, str | None]
"""One message: its text, and its keyboard as the ``reply_markup`` JSON (or None)."""


def keyboard_json(reply: Reply) -> str | None:
    """:func:`~bot.channels.telegram.render.keyboard_rows` as ``reply_markup`` JSON, or None.

    Raises:
        ValueError: a choice id does not fit in callback data.
    """
    rows = keyboard_rows(reply)
    if not rows:
        return None
    return json.dumps({"inline_keyboard": rows}, ensure_ascii=False, separators=(",", ":"))


def wire_parts(reply: Reply, *, limit: int | None = None) -> list[WirePart]:
    """As :func:`~bot.channels.telegram.render.render_reply`, in the Bot API's form.

    Raises:
        ValueError: from :func:`keyboard_json`.
    """
    chunks = split_text(reply.text) if limit is None else split_text(reply.text, limit)
    if not chunks:
        return []
    parts: list[WirePart] = [(chunk, None) for chunk in chunks]
    parts[-1] = (chunks[-1], keyboard_json(reply))
    return parts


def send_parameters(chat_id: int, part: WirePart) -> RequestData:
    """The ``sendMessage`` parameters for ``part``: plain text, no link preview."""
    text, keyboard = part
    parameters: Sequence[tuple[str, str]] = (
        ("chat_id", str(chat_id)),
        ("text", text),
        ("link_preview_options", NO_PREVIEW_JSON),
    )
    if keyboard is not None:
        parameters = (*parameters, ("reply_markup", keyboard))
    return RequestData([RequestParameter(name, value, None) for name, value in parameters])


async def send_message(bot: Bot, chat_id: int, part: WirePart) -> int:
    """``sendMessage`` for ``part``; returns Telegram's message id.

    Raises:
        TelegramError: as ``Bot.send_message`` raises it (the same request wrapper maps
            HTTP statuses and transport failures), or when the answer has no message id.
    """
    result = await bot.request.post(
        url=f"{bot.base_url}/sendMessage", request_data=send_parameters(chat_id, part)
    )
    message_id = result.get("message_id") if isinstance(result, dict) else None
    if not isinstance(message_id, int) or isinstance(message_id, bool):
        raise TelegramError("sendMessage answered without a message id")
    return message_id
