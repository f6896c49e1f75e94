"""The commonest update read without python-telegram-bot's objects: plain text in a private chat.

Most updates a bot like this gets are a person typing in their private chat with it, and
building PTB's :class:`~telegram.Update` for one (a ``Message`` sets a hundred attributes,
each through PTB's checked ``__setattr__``) cost more than the conversation's engine step
(about 100 µs alone, of the ~1 ms an update cost in ``bench/telegram.py``). :func:`plain_text`
reads that one shape straight from the JSON, and only when the update is exactly it: the
``update_id`` and a ``message`` with nothing but a message id, a date, the private chat,
its sender and a text without entities, every field of the type Telegram documents.
Anything else, down to one unknown key, goes the whole way through PTB and the checks of
:mod:`.shape`, as before; so does a plain text the adapter needs PTB's objects for after all
(the operator console's people, a chat named as the volunteers' group), which the adapter
builds from :attr:`PlainText.data`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from bot.channels.telegram.render import CHANNEL
from bot.messages import Address, Inbound, InboundKind

_UPDATE_KEYS: Final = frozenset({"update_id", "message"})
_MESSAGE_KEYS: Final = frozenset({"message_id", "date", "chat", "from", "text"})
_CHAT_KEYS: Final = frozenset({"id", "type", "first_name", "last_name", "username"})
_CHAT_REQUIRED: Final = frozenset({"id", "type"})
_USER_KEYS: Final = frozenset(
    {"id", "is_bot", "first_name", "last_name", "username", "language_code", "is_premium"}
)
_USER_REQUIRED: Final = frozenset({"id", "is_bot", "first_name"})
_NAMES: Final = ("first_name", "last_name", "username", "language_code")
_LATEST_DATE: Final = 2**32
"""Dates beyond this (the year 2106) go through PTB, which decides what to make of them."""


@dataclass(frozen=True, slots=True)
class PlainText:
    """A person's plain text in their private chat with the bot, as :func:`plain_text` read it."""

    update_id: int
    chat_id: int
    """The private chat's id, which is the person's user id."""
    text: str
    language_code: str | None
    data: dict[str, Any]
    """The update's JSON, from which PTB's ``Update`` can still be built."""

    def inbound(self, received_at: datetime) -> Inbound:
        """The conversation's event, as :func:`~.render.update_to_inbound` makes it."""
        return Inbound(
            address=Address(CHANNEL, str(self.chat_id)),
            text=self.text,
            received_at=received_at,
            message_id=str(self.update_id),
            kind=InboundKind.TEXT,
            locale_hint=self.language_code,
        )


def plain_text(data: dict[str, Any]) -> PlainText | None:
    """``data`` as a :class:`PlainText`, or ``None`` unless it is exactly that shape."""
    if data.keys() != _UPDATE_KEYS:
        return None
    update_id, message = data["update_id"], data["message"]
    if not _is_int(update_id) or type(message) is not dict or message.keys() != _MESSAGE_KEYS:
        return None
    chat, user, text, date = message["chat"], message["from"], message["text"], message["date"]
    if not (
        _is_int(message["message_id"])
        and _is_int(date)
        and 0 <= date < _LATEST_DATE
        and type(text) is str
        and _fits(chat, _CHAT_KEYS, _CHAT_REQUIRED)
        and _fits(user, _USER_KEYS, _USER_REQUIRED)
    ):
        return None
    chat_id = chat["id"]
    if not (
        chat["type"] == "private"
        and _is_int(chat_id)
        and _is_int(user["id"])
        and user["id"] == chat_id
        and user["is_bot"] is False
        and type(user.get("is_premium", False)) is bool
        and all(type(holder.get(name, "")) is str for holder in (chat, user) for name in _NAMES)
    ):
        return None
    language = user.get("language_code")
    return PlainText(update_id, chat_id, text, language, data)


def _fits(value: object, allowed: frozenset[str], required: frozenset[str]) -> bool:
    return type(value) is dict and value.keys() <= allowed and value.keys() >= required


def _is_int(value: object) -> bool:
    return type(value) is int
