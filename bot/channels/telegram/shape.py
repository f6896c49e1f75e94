"""The shape a Telegram update must have before the adapter reads it: nesting, field types.

python-telegram-bot builds an :class:`~telegram.Update` from whatever JSON it is given and
checks no types: a ``text`` of ``123``, callback ``data`` of ``{}`` or a ``chat.id`` of
``"abc"`` come through as they are, and fail later, deep in the conversation or in a send.
Telegram itself never sends such updates, but the webhook is reachable by anyone who learns
its secret, and a test server can send anything. So every field the bot reads is checked
here, at the edge, once: :func:`too_deep` on the raw body before :func:`json.loads` builds it
(Python's JSON decoder recurses, so depth 1,000 is a ``RecursionError``), and
:func:`update_problem` on the built update. An update that fails is dropped with a warning
that names its type and the field, never a value.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from itertools import accumulate
from typing import Any, Final

from telegram import (
    CallbackQuery,
    Chat,
    ChatMemberUpdated,
    InlineKeyboardMarkup,
    MaybeInaccessibleMessage,
    Message,
    Update,
    User,
)

MAX_DEPTH: Final = 32
"""Deepest nesting of objects and arrays accepted. A real update nests about eight deep (an
update, its message, the replied-to message, its keyboard, a row, a button, a login URL)."""

# A JSON string, or an unterminated one running to the end: matching the unterminated case
# too keeps the scan linear (each match consumes what it read), whatever the input.
_STRING: Final = re.compile(rb'"(?:[^"\\]|\\.)*"?', re.DOTALL)
_NOT_BRACKETS: Final = bytes(b for b in range(256) if b not in b"[]{}")
_STEP: Final = tuple(1 if b in b"[{" else -1 for b in range(256))

UPDATE_TYPES: Final = frozenset(str(kind) for kind in Update.ALL_TYPES)
"""The update types the Bot API defines (``message``, ``callback_query``...), safe to log."""


def too_deep(body: bytes, limit: int = MAX_DEPTH) -> bool:
    """Whether the JSON in ``body`` nests objects and arrays more than ``limit`` deep.

    Brackets inside strings do not count. Linear in the body's length; a body with fewer
    brackets than ``limit`` (every real update) is answered without scanning.
    """
    if body.count(b"{") + body.count(b"[") <= limit:
        return False
    brackets = _STRING.sub(b"", body).translate(None, _NOT_BRACKETS)
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0) > limit


def update_type(data: Mapping[str, Any]) -> str:
    """The Bot API type of a raw update (``"message"``...), or ``"unknown"``; safe to log."""
    return next((key for key in data if key in UPDATE_TYPES), "unknown")


def kind_of(update: Update) -> str:
    """The Bot API type of a built update, as :func:`update_type` names it."""
    present = (kind for kind in UPDATE_TYPES if getattr(update, kind, None) is not None)
    return next(present, "unknown")


def update_problem(update: Update) -> str | None:
    """Which field of ``update`` has a type the adapter cannot use, or ``None`` if none has.

    Checks every field the Telegram channel, its console and the conversation read: the
    update id, the effective chat and user, a message's text, caption, entities, thread and
    keyboard, a button press's id, data and message, a membership change's statuses.
    """
    if not _is_int(update.update_id):
        return "update_id"
    checks: list[tuple[str, str | None]] = [
        ("chat", _chat_problem(update.effective_chat)),
        ("from", _user_problem(update.effective_user)),
    ]
    for name in ("message", "edited_message", "channel_post", "edited_channel_post"):
        message = getattr(update, name)
        if message is not None:
            checks.append((name, _message_problem(message)))
    query = update.callback_query
    if query is not None:
        checks.append(("callback_query", _query_problem(query)))
    change = update.my_chat_member
    if change is not None:
        checks.append(("my_chat_member", _member_problem(change)))
    return next((f"{where}.{problem}" for where, problem in checks if problem), None)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _optional_str(value: object) -> bool:
    return value is None or isinstance(value, str)


def _chat_problem(chat: object) -> str | None:
    if chat is None:
        return None
    if not isinstance(chat, Chat):
        return "type"
    if not _is_int(chat.id):
        return "id"
    return None if isinstance(chat.type, str) else "type"


def _user_problem(user: object) -> str | None:
    if user is None:
        return None
    if not isinstance(user, User):
        return "type"
    if not _is_int(user.id):
        return "id"
    return None if _optional_str(user.language_code) else "language_code"


def _message_problem(message: MaybeInaccessibleMessage) -> str | None:
    if not _is_int(message.message_id):
        return "message_id"
    chat: object = message.chat  # typed as always there; a hostile body can leave it out
    if chat is None:
        return "chat"
    if (problem := _chat_problem(chat)) is not None:
        return f"chat.{problem}"
    if not isinstance(message, Message):
        return None  # an inaccessible message: only its chat and id are there
    if (problem := _user_problem(message.from_user)) is not None:
        return f"from.{problem}"
    for name in ("text", "caption"):
        if not _optional_str(getattr(message, name)):
            return name
    if message.message_thread_id is not None and not _is_int(message.message_thread_id):
        return "message_thread_id"
    if not _entities_ok(message.entities):
        return "entities"
    markup = message.reply_markup
    if markup is not None and not _keyboard_ok(markup):
        return "reply_markup"
    return None


def _entities_ok(entities: Iterable[Any]) -> bool:
    return all(
        isinstance(entity.type, str) and _is_int(entity.offset) and _is_int(entity.length)
        for entity in entities
    )


def _keyboard_ok(markup: object) -> bool:
    if not isinstance(markup, InlineKeyboardMarkup):
        return False
    return all(
        isinstance(button.text, str) and _optional_str(button.callback_data)
        for row in markup.inline_keyboard
        for button in row
    )


def _query_problem(query: CallbackQuery) -> str | None:
    query_id: object = query.id  # typed as a string; PTB keeps whatever JSON gave
    if not isinstance(query_id, str):
        return "id"
    if not _optional_str(query.data):
        return "data"
    if (problem := _user_problem(query.from_user)) is not None:
        return f"from.{problem}"
    message: object = query.message
    if message is None:
        return None
    if not isinstance(message, MaybeInaccessibleMessage):
        return "message"
    problem = _message_problem(message)
    return f"message.{problem}" if problem is not None else None


def _member_problem(change: ChatMemberUpdated) -> str | None:
    # A membership change always names its chat; without one there is nobody to act for.
    chat: object = change.chat  # typed as always there; a hostile update may leave it out
    if chat is None:
        return "chat"
    if (problem := _chat_problem(chat)) is not None:
        return f"chat.{problem}"
    if (problem := _user_problem(change.from_user)) is not None:
        return f"from.{problem}"
    for name in ("old_chat_member", "new_chat_member"):
        member = getattr(change, name)
        if not isinstance(getattr(member, "status", None), str):
            return f"{name}.status"
    return None


def press_is_ours(query: CallbackQuery) -> bool:
    """Whether a button press is of a button the bot sent, on the message it sent it with.

    Telegram only reports presses of a message's own buttons, so data that is not on the
    pressed message's keyboard was made up, and a press on an inline message (the bot sends
    none) is not the bot's either. A message too old for Telegram to include (inaccessible)
    cannot be checked; the conversation treats its data as a stale button.
    """
    message = query.message
    if message is None:
        return False
    if not isinstance(message, Message):
        return True
    markup = message.reply_markup
    if markup is None:
        return False
    return any(
        button.callback_data == query.data for row in markup.inline_keyboard for button in row
    )
