"""The operator-console seam on Telegram: allow-listed people's updates in, buttons out.

Allow-listed people's private messages and button presses become plain events, and the
console's texts with buttons are sent or edited for it. The Telegram channel offers every
update to :meth:`TelegramConsole.offer` before its own handling; the console
(:mod:`bot.organizer.telegram`) sees only :class:`~bot.channels.console.ConsoleEvent` and
:class:`~bot.channels.console.Button`.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Collection

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ChatType
from telegram.error import BadRequest, TelegramError

from bot.channels.console import Buttons, ConsoleEvent, ConsoleHandler, ConsoleHost
from bot.channels.telegram.render import NO_PREVIEW, parse_command, split_text

logger = logging.getLogger(__name__)


def console_event(update: Update, *, bot_username: str | None) -> ConsoleEvent | None:
    """The update as a console event: a private message or button press; else ``None``."""
    user, chat = update.effective_user, update.effective_chat
    if user is None or chat is None or chat.type != ChatType.PRIVATE:
        return None
    query = update.callback_query
    if query is not None:
        pressed = query.message if isinstance(query.message, Message) else None
        return ConsoleEvent(
            chat_id=chat.id,
            user_id=user.id,
            language_code=user.language_code,
            button=query.data or "",
            message_id=pressed.message_id if pressed is not None else None,
            message_has_buttons=pressed is not None and pressed.reply_markup is not None,
        )
    message = update.message
    if message is None:
        return None
    command = parse_command(message, bot_username=bot_username) if message.text else None
    return ConsoleEvent(
        chat_id=chat.id,
        user_id=user.id,
        language_code=user.language_code,
        text=message.text,
        command=command[0] if command is not None else None,
        payload=command[1] if command is not None else "",
    )


def _markup(buttons: Buttons) -> InlineKeyboardMarkup | None:
    rows = [[InlineKeyboardButton(b.label, callback_data=b.data) for b in row] for row in buttons]
    return InlineKeyboardMarkup(rows) if rows else None


class TelegramConsole(ConsoleHost):
    """The :class:`~bot.channels.console.ConsoleHost` of one Telegram channel.

    Args:
        bot: returns the channel's Bot API client.
    """

    def __init__(self, bot: Callable[[], Bot]) -> None:
        self._bot = bot
        self._handler: ConsoleHandler | None = None
        self._users: frozenset[int] = frozenset()

    def add_console(self, handler: ConsoleHandler, *, users: Collection[int]) -> None:
        """See :class:`~bot.channels.console.ConsoleHost`."""
        self._handler = handler
        self._users = frozenset(users)

    def wants(self, user_id: int) -> bool:
        """Whether :meth:`offer` would look at this person's updates (allow-listed, attached)."""
        return self._handler is not None and user_id in self._users

    async def offer(self, update: Update) -> bool:
        """Give an allow-listed person's update to the console; True when it took it."""
        handler = self._handler
        user = update.effective_user
        if handler is None or user is None or user.id not in self._users:
            return False
        event = console_event(update, bot_username=self._bot().username)
        if event is None:
            return False
        return await handler(event)

    async def post(self, chat_id: int, text: str, buttons: Buttons = ()) -> int | None:
        """See :class:`~bot.channels.console.ConsoleHost`."""
        parts = split_text(text) or [text]
        markup = _markup(buttons)
        sent: Message | None = None
        for number, part in enumerate(parts, start=1):
            try:
                sent = await self._bot().send_message(
                    chat_id=chat_id,
                    text=part,
                    reply_markup=markup if number == len(parts) else None,
                    link_preview_options=NO_PREVIEW,
                )
            except TelegramError as exc:
                logger.warning("Organizer message not sent: %s", type(exc).__name__)
                return None
        return sent.message_id if sent is not None else None

    async def edit(self, chat_id: int, message_id: int, text: str, buttons: Buttons = ()) -> None:
        """See :class:`~bot.channels.console.ConsoleHost`."""
        parts = split_text(text) or [text]
        try:
            await self._bot().edit_message_text(
                chat_id=chat_id,
                message_id=message_id,
                text=parts[0],
                reply_markup=_markup(buttons),
                link_preview_options=NO_PREVIEW,
            )
        except BadRequest as exc:
            if "not modified" not in exc.message.lower():
                logger.warning("Editing the progress message failed: %s", exc.message)
        except TelegramError as exc:
            logger.warning("Editing the progress message failed: %s", type(exc).__name__)

    async def clear_buttons(self, chat_id: int, message_id: int) -> None:
        """See :class:`~bot.channels.console.ConsoleHost`."""
        with contextlib.suppress(TelegramError):
            await self._bot().edit_message_reply_markup(
                chat_id=chat_id, message_id=message_id, reply_markup=None
            )
