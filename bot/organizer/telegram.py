"""The organizers' Telegram console: /broadcast (write, preview, send, watch) and /stats.

It hooks into the Telegram channel's PTB application as a handler in group -1, which runs
before the channel's own handler (the seam :mod:`bot.channels.telegram.adapter` documents). Updates
from allow-listed organizers (``organizers.telegram_ids``) in a private chat that belong to
the console are answered here and stopped with ``ApplicationHandlerStop``; everything else,
including anyone else's /broadcast, goes on to the conversation as usual (where an unknown
command gets the normal "not understood" answer).

The flow: /broadcast asks for the text in each configured language in turn (``/skip`` gives
a language the English text, ``/cancel`` stops), then shows each text as it will arrive and a
summary (recipients per channel and language, SMS encoding, segments and cost) with Send,
Edit and Cancel buttons. Send starts the broadcast; one message is then edited in place with
the progress, and at the end with the report. The console's conversation state is kept in
memory per organizer chat; drafts themselves are in the database from the preview on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
    Update,
)
from telegram.error import BadRequest, TelegramError
from telegram.ext import Application, ApplicationHandlerStop, TypeHandler

from bot.broadcast import texts as T
from bot.broadcast.service import (
    FALLBACK_LOCALE,
    BroadcastError,
    BroadcastService,
    Words,
    format_preview_summary,
    format_report,
    format_stats,
    organizer_actor,
    preview_texts,
)
from bot.channels.telegram.render import parse_command, split_text
from bot.content.i18n import Translator
from bot.sms_text import MAX_MESSAGE_CHARS
from bot.storage.base import Broadcast, BroadcastStatus

logger = logging.getLogger(__name__)

HANDLER_GROUP: Final = -1
"""Runs before the channel's own handler (group 0)."""
CALLBACK_PREFIX: Final = "bc:"
_NO_PREVIEW: Final = LinkPreviewOptions(is_disabled=True)
_SESSION_IDLE: Final = 3600.0
"""An unfinished /broadcast conversation is forgotten after this many idle seconds."""
STATS_WEEKS: Final = 4
_SETTLE_SECONDS: Final = 15.0
"""After a stop, how long the progress message waits for sends in flight before its report."""


@dataclass
class _Draft:
    """An organizer writing (or editing) a broadcast, one language at a time."""

    locales: list[str]
    texts: dict[str, str] = field(default_factory=dict)
    index: int = 0
    allow_fallback: bool = False
    editing: Broadcast | None = None
    touched: float = field(default_factory=time.monotonic)

    @property
    def current(self) -> str:
        return self.locales[self.index]


class OrganizerConsole:
    """Answers organizers' /broadcast and /stats on Telegram and the buttons that follow.

    Args:
        service: the broadcast service.
        organizers: Telegram user ids allowed to broadcast (``organizers.telegram_ids``).
        translator: returns the current catalogs (content can be reloaded).
        default_locale: the organizer language when Telegram gives no hint.
        wake: called after a broadcast starts, so this process's runner begins at once.
        report_chat_id: a chat that also gets each finished broadcast's report.
        progress_seconds: how often the progress message is edited.
    """

    def __init__(
        self,
        service: BroadcastService,
        *,
        organizers: Iterable[int],
        translator: Callable[[], Translator],
        default_locale: str = FALLBACK_LOCALE,
        wake: Callable[[], None] | None = None,
        report_chat_id: int | None = None,
        progress_seconds: float = 2.0,
    ) -> None:
        self.service = service
        self.organizers = frozenset(organizers)
        self._translator = translator
        self._default_locale = default_locale
        self._wake = wake
        self._report_chat_id = report_chat_id
        self._progress_seconds = progress_seconds
        self._drafts: dict[int, _Draft] = {}
        self._watchers: dict[int, asyncio.Task[None]] = {}
        self._application: Application[Any, Any, Any, Any, Any, Any] | None = None

    def attach(self, application: Application[Any, Any, Any, Any, Any, Any]) -> None:
        """Add the console's handler to the Telegram channel's PTB application."""
        self._application = application
        application.add_handler(TypeHandler(Update, self._on_update), group=HANDLER_GROUP)

    async def close(self) -> None:
        """Stop watching broadcasts' progress."""
        tasks = list(self._watchers.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._watchers.clear()

    async def announce(self, broadcast_id: int) -> None:
        """Send a finished broadcast's report to ``organizers.report_chat_id``, if set."""
        if self._report_chat_id is None or self._application is None:
            return
        words = self._words(None)
        report = await self.service.report(broadcast_id)
        await self._send(self._report_chat_id, format_report(report, words))

    # -- dispatch ----------------------------------------------------------------------------

    async def _on_update(self, update: Update, _context: Any) -> None:
        user = update.effective_user
        chat = update.effective_chat
        if user is None or chat is None or user.id not in self.organizers:
            return
        if chat.type != "private":
            return
        words = self._words(user.language_code)
        actor = organizer_actor(telegram_user_id=user.id)
        query = update.callback_query
        if query is not None:
            data = query.data or ""
            if not data.startswith(CALLBACK_PREFIX):
                return
            with contextlib.suppress(TelegramError):
                await query.answer()
            message = query.message if isinstance(query.message, Message) else None
            try:
                await self._on_button(chat.id, message, data, actor, words)
            except BroadcastError as exc:
                await self._send(chat.id, exc.render(words))
            raise ApplicationHandlerStop
        message = update.message
        if message is None:
            return
        try:
            handled = await self._on_message(chat.id, message, actor, words)
        except BroadcastError as exc:
            self._drafts.pop(chat.id, None)
            await self._send(chat.id, exc.render(words))
            handled = True
        if handled:
            raise ApplicationHandlerStop

    async def _on_message(self, chat_id: int, message: Message, actor: str, words: Words) -> bool:
        """Handle an organizer's message if it belongs to the console; False to pass it on."""
        self._forget_idle()
        draft = self._drafts.get(chat_id)
        bot = self._application.bot.username if self._application is not None else None
        command = parse_command(message, bot_username=bot) if message.text else None
        name = command[0] if command is not None else None
        if name == "broadcast":
            await self._begin(chat_id, words, None)
        elif name == "stats":
            rows = await self.service.weekly_stats(weeks=STATS_WEEKS)
            await self._send(chat_id, format_stats(rows, words, weeks=STATS_WEEKS))
        elif draft is not None and name in ("cancel", "skip", "keep"):
            await self._draft_command(chat_id, draft, name, actor, words)
        elif draft is not None and name is None:
            if message.text is None:
                await self._send(chat_id, words(T.NEED_TEXT))
            else:
                await self._draft_text(chat_id, draft, message.text, actor, words)
        else:
            return False
        return True

    def _words(self, language_code: str | None) -> Words:
        translator = self._translator()
        locale = translator.negotiate(language_code) or self._default_locale
        return Words(translator, locale)

    def _forget_idle(self) -> None:
        horizon = time.monotonic() - _SESSION_IDLE
        for chat_id in [c for c, d in self._drafts.items() if d.touched < horizon]:
            del self._drafts[chat_id]

    # -- writing -----------------------------------------------------------------------------

    async def _begin(self, chat_id: int, words: Words, editing: Broadcast | None) -> None:
        draft = _Draft(locales=list(self.service.locales), editing=editing)
        if editing is not None:
            draft.allow_fallback = editing.allow_fallback
        self._drafts[chat_id] = draft
        await self._ask(chat_id, draft, words)

    async def _ask(self, chat_id: int, draft: _Draft, words: Words) -> None:
        locale = draft.current
        values: dict[str, object] = {
            "number": draft.index + 1,
            "total": len(draft.locales),
            "language": words.language(locale),
        }
        if draft.editing is not None:
            current = draft.editing.texts.get(locale, "—")
            text = words(T.ASK_EDIT, id=draft.editing.id, current=current, **values)
        elif locale == FALLBACK_LOCALE:
            text = words(T.ASK_TEXT, **values)
        else:
            text = words(T.ASK_TEXT_OPTIONAL, **values)
        await self._send(chat_id, text)

    async def _draft_command(
        self, chat_id: int, draft: _Draft, name: str, actor: str, words: Words
    ) -> None:
        draft.touched = time.monotonic()
        if name == "cancel":
            del self._drafts[chat_id]
            await self._send(chat_id, words(T.AUTHORING_STOPPED))
            return
        locale = draft.current
        if name == "skip":
            if locale == FALLBACK_LOCALE:
                await self._send(chat_id, words(T.CANNOT_SKIP_ENGLISH))
                return
            draft.allow_fallback = True
            draft.texts.pop(locale, None)
        elif name == "keep":
            kept = draft.editing.texts.get(locale) if draft.editing is not None else None
            if kept is None:
                await self._ask(chat_id, draft, words)
                return
            draft.texts[locale] = kept
        await self._next(chat_id, draft, actor, words)

    async def _draft_text(
        self, chat_id: int, draft: _Draft, text: str, actor: str, words: Words
    ) -> None:
        draft.touched = time.monotonic()
        locale = draft.current
        value = text.strip()
        if len(value) > MAX_MESSAGE_CHARS:
            error = BroadcastError(
                T.ERROR_TOO_LONG, language=locale, length=len(value), limit=MAX_MESSAGE_CHARS
            )
            await self._send(chat_id, error.render(words))
            await self._ask(chat_id, draft, words)
            return
        draft.texts[locale] = value
        await self._next(chat_id, draft, actor, words)

    async def _next(self, chat_id: int, draft: _Draft, actor: str, words: Words) -> None:
        draft.index += 1
        if draft.index < len(draft.locales):
            await self._ask(chat_id, draft, words)
            return
        del self._drafts[chat_id]
        allow = draft.allow_fallback and any(loc not in draft.texts for loc in draft.locales)
        if draft.editing is not None:
            broadcast = await self.service.edit(
                actor, draft.editing.id, draft.texts, allow_fallback=allow
            )
        else:
            broadcast = await self.service.create(actor, draft.texts, allow_fallback=allow)
        await self._show_preview(chat_id, broadcast.id, actor, words)

    async def _show_preview(
        self, chat_id: int, broadcast_id: int, actor: str, words: Words
    ) -> None:
        preview = await self.service.preview(broadcast_id, actor=actor)
        for block in preview_texts(preview, words):
            await self._send(chat_id, block)
        summary = format_preview_summary(preview, words) + "\n\n" + words(T.CONFIRM_HINT)
        buttons = InlineKeyboardMarkup(
            [
                [
                    _button(words(T.BUTTON_SEND), "send", broadcast_id),
                    _button(words(T.BUTTON_EDIT), "edit", broadcast_id),
                    _button(words(T.BUTTON_CANCEL), "cancel", broadcast_id),
                ]
            ]
        )
        await self._send(chat_id, summary, buttons)

    # -- buttons -----------------------------------------------------------------------------

    async def _on_button(
        self, chat_id: int, message: Message | None, data: str, actor: str, words: Words
    ) -> None:
        try:
            _prefix, action, raw_id = data.split(":", 2)
            broadcast_id = int(raw_id)
        except ValueError:
            return
        if action == "send":
            await self._clear_buttons(message)
            await self.service.start(actor, broadcast_id)
            if self._wake is not None:
                self._wake()
            report = await self.service.report(broadcast_id)
            sent = await self._send(
                chat_id,
                format_report(report, words),
                InlineKeyboardMarkup([[_button(words(T.BUTTON_STOP), "stop", broadcast_id)]]),
            )
            if sent is not None:
                self._watch(chat_id, sent.message_id, broadcast_id, words)
        elif action == "edit":
            broadcast = await self.service.get(broadcast_id)
            if broadcast.status != BroadcastStatus.DRAFT:
                raise BroadcastError(T.ERROR_NOT_DRAFT, id=broadcast_id, status=broadcast.status)
            await self._clear_buttons(message)
            await self._begin(chat_id, words, broadcast)
        elif action in ("cancel", "stop"):
            report = await self.service.cancel(actor, broadcast_id)
            await self._clear_buttons(message)
            if action == "cancel":
                await self._send(chat_id, format_report(report, words))
        elif action == "refresh" and message is not None:
            report = await self.service.report(broadcast_id)
            await self._edit(
                message.chat_id,
                message.message_id,
                format_report(report, words),
                _refresh_markup(words, broadcast_id),
            )

    async def _clear_buttons(self, message: Message | None) -> None:
        if message is None or message.reply_markup is None:
            return
        with contextlib.suppress(TelegramError):
            await message.edit_reply_markup(reply_markup=None)

    # -- progress ----------------------------------------------------------------------------

    def _watch(self, chat_id: int, message_id: int, broadcast_id: int, words: Words) -> None:
        old = self._watchers.pop(message_id, None)
        if old is not None:
            old.cancel()
        task = asyncio.get_running_loop().create_task(
            self._follow(chat_id, message_id, broadcast_id, words)
        )
        self._watchers[message_id] = task
        task.add_done_callback(lambda _t: self._watchers.pop(message_id, None))

    async def _follow(
        self, chat_id: int, message_id: int, broadcast_id: int, words: Words
    ) -> None:
        """Edit the progress message until the broadcast is over, then into its report."""
        shown: str | None = None
        settle_until: float | None = None
        while True:
            try:
                report = await self.service.report(broadcast_id)
            except Exception:
                logger.exception("Reading broadcast #%d's progress failed", broadcast_id)
                await asyncio.sleep(self._progress_seconds)
                continue
            text = format_report(report, words)
            finished = report.broadcast.status != BroadcastStatus.SENDING
            if finished and report.waiting:
                # Stopped: the few sends already in flight finish first (a few seconds at most).
                settle_until = settle_until or time.monotonic() + _SETTLE_SECONDS
                finished = time.monotonic() >= settle_until
            if finished:
                await self._edit(chat_id, message_id, text, _refresh_markup(words, broadcast_id))
                return
            if text != shown:
                stop = InlineKeyboardMarkup(
                    [[_button(words(T.BUTTON_STOP), "stop", broadcast_id)]]
                )
                await self._edit(chat_id, message_id, text, stop if settle_until is None else None)
                shown = text
            await asyncio.sleep(self._progress_seconds)

    # -- Bot API -----------------------------------------------------------------------------

    async def _send(
        self, chat_id: int, text: str, markup: InlineKeyboardMarkup | None = None
    ) -> Message | None:
        """Send ``text`` (split if too long; the buttons go on the last part)."""
        assert self._application is not None
        parts = split_text(text) or [text]
        sent: Message | None = None
        for number, part in enumerate(parts, start=1):
            try:
                sent = await self._application.bot.send_message(
                    chat_id=chat_id,
                    text=part,
                    reply_markup=markup if number == len(parts) else None,
                    link_preview_options=_NO_PREVIEW,
                )
            except TelegramError as exc:
                logger.warning("Organizer message not sent: %s", type(exc).__name__)
                return None
        return sent

    async def _edit(
        self, chat_id: int, message_id: int, text: str, markup: InlineKeyboardMarkup | None
    ) -> None:
        assert self._application is not None
        parts: Sequence[str] = split_text(text) or [text]
        try:
            await self._application.bot.edit_message_text(
                chat_id=chat_id,
                message_id=message_id,
                text=parts[0],
                reply_markup=markup,
                link_preview_options=_NO_PREVIEW,
            )
        except BadRequest as exc:
            if "not modified" not in exc.message.lower():
                logger.warning("Editing the progress message failed: %s", exc.message)
        except TelegramError as exc:
            logger.warning("Editing the progress message failed: %s", type(exc).__name__)


def _button(label: str, action: str, broadcast_id: int) -> InlineKeyboardButton:
    return InlineKeyboardButton(label, callback_data=f"{CALLBACK_PREFIX}{action}:{broadcast_id}")


def _refresh_markup(words: Words, broadcast_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[_button(words(T.BUTTON_REFRESH), "refresh", broadcast_id)]])
