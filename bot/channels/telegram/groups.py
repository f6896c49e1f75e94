"""Groups and channels on Telegram: the named chats the bot serves, and leaving all others.

The bot is for one person at a time: what someone asks about police and ICE must not be seen
by a group. Anyone can add a bot to a group, though, and a keyboard the bot sent can be
forwarded into a channel and pressed there. So every update from a chat that is not private
goes through :class:`GroupGate` before anything else, and none reaches the conversation
(no group or channel becomes a contact, and nothing is answered there):

* a chat the config names (:func:`named_chats`: the organizers' report chat, and the
  volunteers' group once ``handoff.telegram_chat_id`` exists) is left alone: the bot stays;
* in any other group or supergroup, the bot says once, in every configured language, that
  it works only in private chats, then leaves. It says so only when it was just added or
  someone wrote text to it; a photo, a dice, a forum topic being opened or a button press
  makes it leave without a word. It never posts into a channel: it only leaves.

Which chats it has just left is remembered (the last :data:`REMEMBERED`), so updates that
were already on their way are not answered twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Final

from telegram import Bot, ChatMember, Message, Update
from telegram.constants import ChatType
from telegram.error import TelegramError

from bot.channels.telegram.render import NO_PREVIEW
from bot.channels.telegram.updates import RecentUpdates
from bot.config import Config
from bot.content.i18n import Translator
from bot.content.strings import PRIVATE_CHATS_ONLY

logger = logging.getLogger(__name__)

REMEMBERED: Final = 1024
"""How many recently left chats are remembered, to leave each only once."""

_GONE: Final = frozenset({ChatMember.LEFT, ChatMember.BANNED})


def named_chats(config: Config) -> frozenset[int]:
    """The group chats the config names, where the bot stays: every chat it is meant for.

    The organizers' report chat (``organizers.report_chat_id``), and the volunteers' group
    (``handoff.telegram_chat_id``): :meth:`bot.config.Config.configured_telegram_chats`.
    """
    return config.configured_telegram_chats()


def private_chats_notice(translator: Translator, locales: Iterable[str]) -> str:
    """What the bot says before leaving a group: the notice in each language, in order.

    A group has no language of its own, so every configured language is in the one message
    (English, then Spanish by default); a language whose catalog lacks it adds nothing.
    """
    texts = (translator.text(locale, PRIVATE_CHATS_ONLY) for locale in locales)
    return "\n\n".join(dict.fromkeys(texts))


class GroupGate:
    """Keeps groups and channels out of the conversation; leaves those the config does not name.

    Args:
        bot: returns the channel's Bot API client.
        named: chats to stay in (see :func:`named_chats`).
        notice: what to say before leaving a group, in every configured language.
    """

    def __init__(self, bot: Callable[[], Bot], *, named: frozenset[int], notice: str) -> None:
        self._bot = bot
        self._named = named
        self._notice = notice
        self._left = RecentUpdates(REMEMBERED)

    async def screen(self, update: Update) -> bool:
        """Deal with an update from a group or channel; True when it must go no further.

        False only for updates from private chats (and those without a chat).
        """
        chat = update.effective_chat
        if chat is None or chat.type == ChatType.PRIVATE:
            return False
        if chat.id in self._named or _bot_went_away(update):
            return True
        if not self._left.first(chat.id):
            return True  # left already; this update was on its way
        if chat.type != ChatType.CHANNEL and _invites_an_answer(update):
            await self._say_goodbye(chat.id, update.message)
        await self._leave(chat.id)
        return True

    async def _say_goodbye(self, chat_id: int, message: Message | None) -> None:
        topic = message is not None and message.is_topic_message
        thread = message.message_thread_id if topic and message is not None else None
        try:
            await self._bot().send_message(
                chat_id=chat_id,
                text=self._notice,
                message_thread_id=thread,
                link_preview_options=NO_PREVIEW,
            )
        except TelegramError as exc:
            logger.info("The private-chats notice was not sent: %s", type(exc).__name__)

    async def _leave(self, chat_id: int) -> None:
        try:
            await self._bot().leave_chat(chat_id)
        except TelegramError as exc:  # not a member (a pressed forwarded keyboard), or gone
            logger.info("Leaving a group or channel failed: %s", type(exc).__name__)
        else:
            logger.info("Left a group or channel the config does not name")


def _bot_went_away(update: Update) -> bool:
    """Whether the update says the bot was removed from the chat (nothing left to do)."""
    change = update.my_chat_member
    return change is not None and change.new_chat_member.status in _GONE


def _invites_an_answer(update: Update) -> bool:
    """The bot was just added, or someone wrote text in the chat (a command, a mention)."""
    if update.my_chat_member is not None:
        return True
    message = update.message
    return message is not None and bool(message.text)
