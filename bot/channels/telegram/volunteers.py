"""The volunteers' Telegram group: allow-listed volunteers' messages in, everyone else ignored.

The group is a configured chat (:meth:`bot.config.Config.configured_telegram_chats`): every
update from it is taken here, before the conversation sees it, so nothing said in the group
ever reaches a person except through the desk (:mod:`bot.handoff`). Messages from anyone not
on ``handoff.volunteer_ids`` are dropped without an answer. The bot keeps Telegram's privacy
mode on: in a group it then receives only commands and replies to its own messages, which
is all the desk needs.
"""

from __future__ import annotations

import logging
from collections.abc import Collection

from telegram import Message, Update

from bot.channels.desk import DeskHandler, VolunteerMessage
from bot.channels.telegram.render import CHANNEL, parse_command

logger = logging.getLogger(__name__)


def volunteer_message(
    update: Update, *, volunteers: Collection[int], bot_id: int | None, bot_username: str | None
) -> VolunteerMessage | None:
    """A group update as a volunteer's message, or None (not text, or not a volunteer)."""
    message = update.message
    user = update.effective_user
    if message is None or user is None or not message.text or user.id not in volunteers:
        return None
    command = parse_command(message, bot_username=bot_username)
    replied = message.reply_to_message
    replied_to = None
    if (
        isinstance(replied, Message)
        and replied.text
        and replied.from_user is not None
        and (bot_id is None or replied.from_user.id == bot_id)
    ):
        replied_to = replied.text
    return VolunteerMessage(
        volunteer=f"{CHANNEL}:{user.id}",
        text=command[1] if command is not None else message.text,
        command=command[0] if command is not None else None,
        replied_to=replied_to,
    )


class VolunteersGroup:
    """Takes every update from the volunteers' group; passes volunteers' messages on.

    Args:
        chat_id: the group (``handoff.telegram_chat_id``).
        volunteers: Telegram user ids allowed to answer (``Config.volunteer_ids()``).
    """

    def __init__(self, chat_id: int, volunteers: Collection[int]) -> None:
        self.chat_id = chat_id
        self._volunteers = frozenset(volunteers)
        self._handler: DeskHandler | None = None

    def attach(self, handler: DeskHandler) -> None:
        """Hand volunteers' messages to ``handler``."""
        self._handler = handler

    def owns(self, update: Update) -> bool:
        """True for every update from the group (taken here, whoever wrote it)."""
        chat = update.effective_chat
        return chat is not None and chat.id == self.chat_id

    async def take(self, update: Update, *, bot_id: int | None, bot_username: str | None) -> None:
        """Pass a volunteer's message to the handler; drop anything else quietly."""
        found = volunteer_message(
            update, volunteers=self._volunteers, bot_id=bot_id, bot_username=bot_username
        )
        if found is None:
            logger.debug("An update in the volunteers' group was ignored")
            return
        if self._handler is None:
            logger.warning("A volunteer wrote in the group, but no desk is attached")
            return
        await self._handler(found)
