"""Pure translation between Telegram objects and :mod:`bot.messages`: parse, render, split.

Nothing here does I/O, so every rule of the Telegram adapter that is about *what* goes in
or out is unit-tested without a server. :mod:`bot.channels.telegram.adapter` does the sending.

Formatting choice: replies are sent as **plain text with no** ``parse_mode``. Telegram then
treats every character literally, so no content (a translator's ``<``, ``*`` or ``_``, a
placeholder value) can break a message or inject formatting, and there is nothing to escape.
Telegram's servers still detect URLs, e-mail addresses and phone numbers in plain text and
clients show them as clickable links. The price is that we cannot use bold or italics, which
the content does not need (the same text also goes out by SMS).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from telegram import (
    CallbackQuery,
    ChatMember,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
    MessageEntity,
    Update,
)
from telegram.constants import ChatType, InlineKeyboardButtonLimit, MessageLimit

from bot.channels.telegram.capabilities import CHANNEL as CHANNEL  # this module's public name
from bot.messages import Address, Choice, Inbound, InboundKind, Reply

# Opt in to PTB's future behaviour: time periods such as ``RetryAfter.retry_after`` are
# ``timedelta``. Without this, PTB 22 emits a PTBDeprecationWarning each time a RetryAfter is
# *constructed* (its __init__ reads the property), which our tests turn into errors. PTB reads
# the variable at call time, so setting it here, before any request is made, is enough; an
# operator's explicit setting is kept. Code that reads such values copes with both forms.
os.environ.setdefault("PTB_TIMEDELTA", "1")


MAX_TEXT_LENGTH: int = MessageLimit.MAX_TEXT_LENGTH
"""Telegram's limit for one message, 4096. Counted here in UTF-16 code units, which is never
less than the number of characters, so a chunk that fits by our count fits either way."""

NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
"""Sent with every message: links stay clickable; previews would make every answer twice as
long on a small phone."""

CALLBACK_DATA_MAX_BYTES: int = InlineKeyboardButtonLimit.MAX_CALLBACK_DATA
"""A button's callback data is 1-64 bytes of UTF-8 (``ñ`` costs two)."""

COMMANDS: tuple[str, ...] = (
    "start",
    "menu",
    "help",
    "language",
    "subscribe",
    "unsubscribe",
    "forget",
)
"""The commands the engine understands, in the order the command menu lists them."""

DEFAULT_COMMAND_DESCRIPTIONS: Mapping[str, str] = {
    "start": "Start over",
    "menu": "Main menu",
    "help": "Help and how to reach a person",
    "language": "Cambiar idioma / Change language",
    "subscribe": "Get policy updates",
    "unsubscribe": "Stop policy updates",
    "forget": "Delete everything the bot knows about you",
}
"""English descriptions for the command menu, used when the app supplies no translations."""

_MEDIA_FIELDS: tuple[str, ...] = (
    "photo",
    "sticker",
    "voice",
    "audio",
    "video",
    "video_note",
    "animation",
    "document",
    "location",
    "venue",
    "contact",
    "poll",
    "dice",
    "story",
)
"""Message fields that carry something other than text: the person sent media."""

_GROUP_TYPES = frozenset({ChatType.GROUP, ChatType.SUPERGROUP, ChatType.CHANNEL})


def callback_data_fits(choice_id: str) -> bool:
    """Whether ``choice_id`` can be a button's callback data (1-64 bytes of UTF-8).

    Dialog validation calls this so an over-long id is reported when content loads,
    not when a person first reaches the node.
    """
    return 1 <= len(choice_id.encode("utf-8")) <= CALLBACK_DATA_MAX_BYTES


def _command_parts(message: Message) -> tuple[str, str, str] | None:
    """``(name, @target, payload)`` of a leading ``bot_command`` entity, or ``None``."""
    text = message.text
    if not text or not message.entities:
        return None
    entity = message.entities[0]
    if entity.type != MessageEntity.BOT_COMMAND or entity.offset != 0:
        return None
    # Entity offsets count UTF-16 units; a command is ASCII, so up to its end they coincide
    # with str indices, and the payload is whatever follows.
    name, _, target = text[1 : entity.length].partition("@")
    return name.lower(), target, text[entity.length :].strip()


def parse_command(message: Message, *, bot_username: str | None = None) -> tuple[str, str] | None:
    """The ``(name, payload)`` of a slash command at the start of ``message``, if any.

    A command counts only when Telegram marked it with a ``bot_command`` entity at offset 0,
    as Telegram clients do. ``/start@OtherBot`` (addressed to another bot in a group) gives
    ``None``; so does a message that is not a command. The name is lower-cased and the payload
    is the rest of the text, stripped (``"/start warrants"`` gives ``("start", "warrants")``).

    Args:
        message: the Telegram message.
        bot_username: this bot's username, to recognise ``/cmd@ThisBot``; ``None`` accepts
            any ``@`` suffix.
    """
    parts = _command_parts(message)
    if parts is None:
        return None
    name, target, payload = parts
    if target and bot_username is not None and target.lower() != bot_username.lower():
        return None
    return name, payload


def _address_of(update: Update) -> Address | None:
    chat = update.effective_chat
    if chat is not None:
        return Address(CHANNEL, str(chat.id))
    user = update.effective_user
    # A callback from a message the bot can no longer see: a person's private chat id is
    # their user id.
    return Address(CHANNEL, str(user.id)) if user is not None else None


def _is_group(update: Update) -> bool:
    chat = update.effective_chat
    return chat is not None and chat.type in _GROUP_TYPES


def button_label(query: CallbackQuery) -> str:
    """The label of the pressed button, found in the message it belongs to ("" if unknown)."""
    message = query.message
    if not isinstance(message, Message) or message.reply_markup is None:
        return ""
    for row in message.reply_markup.inline_keyboard:
        for button in row:
            if button.callback_data == query.data:
                return button.text
    return ""


def update_to_inbound(
    update: Update,
    *,
    now: datetime | None = None,
    bot_username: str | None = None,
    commands: Sequence[str] = COMMANDS,
) -> Inbound | None:
    """Translate one Telegram update into the engine's inbound event, or ``None`` to ignore it.

    * Text becomes ``TEXT``; a known command (``/start es``, ``/menu``...) becomes
      ``COMMAND`` with ``command`` set and the payload as ``text``. An unknown command
      (``/broadcast``) stays ``TEXT`` with the whole text, so the engine answers that it did
      not understand.
    * A button press becomes ``TEXT`` with ``choice_id`` set to the callback data and
      ``text`` the button's label when it can be found.
    * Photos, stickers, voice notes, locations and other media become ``MEDIA``; ``text``
      is the caption, if any.
    * Ignored (``None``): edited messages (the person already had an answer to the original,
      and answering a correction twice would confuse), channel posts, service messages (someone
      joined a group, a pinned message), and every other update type.

    ``message_id`` is ``str(update.update_id)``, which the conversation service uses to
    answer a redelivered update only once. Messages from groups carry ``group_chat=True``.

    Args:
        update: the update.
        now: the time the update was received (timezone-aware); defaults to the clock.
        bot_username: this bot's username, to ignore commands addressed to other bots.
        commands: the command names that become ``COMMAND`` events.
    """
    address = _address_of(update)
    if address is None:
        return None
    user = update.effective_user

    def event(
        text: str,
        kind: InboundKind = InboundKind.TEXT,
        *,
        choice_id: str | None = None,
        command: str | None = None,
    ) -> Inbound:
        return Inbound(
            address=address,
            text=text,
            received_at=now if now is not None else datetime.now(UTC),
            message_id=str(update.update_id),
            kind=kind,
            choice_id=choice_id,
            command=command,
            locale_hint=user.language_code if user is not None else None,
            group_chat=_is_group(update),
        )

    query = update.callback_query
    if query is not None:
        # No data: a game button or an inline-mode button; there is nothing to route.
        return event(button_label(query), choice_id=query.data) if query.data else None

    message = update.message
    if message is None:
        return None
    if message.text is not None:
        parts = _command_parts(message)
        if parts is None:
            return event(message.text)
        name, target, payload = parts
        if target and bot_username is not None and target.lower() != bot_username.lower():
            return None  # /command@AnotherBot in a group: not for us
        if name in commands:
            return event(payload, InboundKind.COMMAND, command=name)
        return event(message.text)
    if any(getattr(message, field, None) for field in _MEDIA_FIELDS):
        return event(message.caption or "", InboundKind.MEDIA)
    return None


def blocked_address(update: Update) -> Address | None:
    """The address of a person who just blocked the bot, from a ``my_chat_member`` update.

    Telegram reports a block as the bot's membership in the private chat becoming
    ``kicked``; knowing it early spares a broadcast a failed send. ``None`` otherwise.
    """
    change = update.my_chat_member
    if change is None or change.chat.type != ChatType.PRIVATE:
        return None
    if change.new_chat_member.status != ChatMember.BANNED:
        return None
    return Address(CHANNEL, str(change.chat.id))


def keyboard_rows(reply: Reply) -> list[list[dict[str, str]]]:
    """The inline keyboard for ``reply`` in the Bot API's form (empty: nothing to press).

    One choice per row, then one row of ``reply.nav``.

    Raises:
        ValueError: a choice id does not fit in callback data (see :func:`callback_data_fits`);
            dialog validation should have refused it.
    """
    rows = [[_button(choice)] for choice in reply.choices]
    if reply.nav:
        rows.append([_button(choice) for choice in reply.nav])
    return rows


def reply_to_markup(reply: Reply) -> InlineKeyboardMarkup | None:
    """:func:`keyboard_rows` as PTB's objects, or ``None`` with nothing to press.

    The adapter sends the Bot API's form (:mod:`.wire`); this is what ``Bot.send_message``
    would take for the same reply.

    Raises:
        ValueError: from :func:`keyboard_rows`.
    """
    rows = keyboard_rows(reply)
    if not rows:
        return None
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(b["text"], callback_data=b["callback_data"]) for b in row]
            for row in rows
        ]
    )


def _button(choice: Choice) -> dict[str, str]:
    if not callback_data_fits(choice.id):
        raise ValueError(
            f"choice id {choice.id!r} is not 1-{CALLBACK_DATA_MAX_BYTES} bytes of UTF-8"
        )
    return {"text": choice.label, "callback_data": choice.id}


def utf16_length(text: str) -> int:
    """The length of ``text`` in UTF-16 code units, the unit Telegram measures in."""
    return len(text.encode("utf-16-le")) // 2


_SEPARATORS: tuple[str, ...] = ("\n\n", "\n", " ")


def split_text(text: str, limit: int = MAX_TEXT_LENGTH) -> list[str]:
    """Split ``text`` into messages of at most ``limit`` UTF-16 units each.

    Paragraphs (blank-line separated) are kept whole and packed greedily; a paragraph that
    is too long is split between lines, a line between words, and a word that alone is too
    long is cut. Chunks are stripped of surrounding whitespace (Telegram would drop it) and
    blank chunks are left out, so ``""`` gives ``[]``.

    Args:
        text: the text to send.
        limit: the largest chunk, in UTF-16 code units.

    Raises:
        ValueError: ``limit`` is less than 2 (a chunk must hold any one character).
    """
    if limit < 2:
        raise ValueError("limit must be at least 2 UTF-16 units")
    chunks = _split(text.strip(), limit, 0)
    return [chunk.strip() for chunk in chunks if chunk.strip()]


def _split(text: str, limit: int, level: int) -> list[str]:
    if utf16_length(text) <= limit:
        return [text]
    if level == len(_SEPARATORS):
        return _hard_split(text, limit)
    separator = _SEPARATORS[level]
    chunks: list[str] = []
    current: str | None = None
    for part in text.split(separator):
        if utf16_length(part) > limit:
            if current is not None:
                chunks.append(current)
            pieces = _split(part, limit, level + 1)
            chunks.extend(pieces[:-1])
            current = pieces[-1]
            continue
        candidate = part if current is None else current + separator + part
        if utf16_length(candidate) <= limit:
            current = candidate
        else:
            if current is not None:
                chunks.append(current)
            current = part
    if current is not None:
        chunks.append(current)
    return chunks


def _hard_split(text: str, limit: int) -> list[str]:
    chunks: list[str] = []
    start = 0
    used = 0
    for index, char in enumerate(text):
        width = 2 if ord(char) > 0xFFFF else 1
        if used + width > limit:
            chunks.append(text[start:index])
            start, used = index, 0
        used += width
    chunks.append(text[start:])
    return chunks


def render_reply(
    reply: Reply, *, limit: int = MAX_TEXT_LENGTH
) -> list[tuple[str, InlineKeyboardMarkup | None]]:
    """The messages that show ``reply``: its text split to fit, the keyboard on the last one.

    A reply with buttons but no text cannot be sent on Telegram; it gives no messages.

    Raises:
        ValueError: from :func:`reply_to_markup`.
    """
    chunks = split_text(reply.text, limit)
    if not chunks:
        return []
    markup = reply_to_markup(reply)
    rendered: list[tuple[str, InlineKeyboardMarkup | None]] = [(chunk, None) for chunk in chunks]
    rendered[-1] = (chunks[-1], markup)
    return rendered


def command_menu(
    descriptions: Mapping[str, str] | None, *, commands: Sequence[str] = COMMANDS
) -> list[tuple[str, str]]:
    """``(command, description)`` pairs for ``setMyCommands``, in menu order.

    Missing translations fall back to the English built-ins; descriptions are cut to
    Telegram's 256 characters.
    """
    merged = {**DEFAULT_COMMAND_DESCRIPTIONS, **(descriptions or {})}
    return [(name, merged[name][:256]) for name in commands if merged.get(name)]
