"""The organizers' Telegram console: /broadcast (write, preview, send, watch), /stats, /console.

It uses the console seam the Telegram channel offers (:class:`bot.channels.console.ConsoleHost`):
the channel hands it the private-chat messages and button presses of allow-listed organizers
(``organizers.telegram_ids``) first, as plain :class:`~bot.channels.console.ConsoleEvent`
values. Those that belong to the console are answered here and kept from the conversation;
everything else, including anyone else's /broadcast, goes on to the conversation as usual
(where an unknown command gets the normal "not understood" answer).

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
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Final

from bot.broadcast import refusals as R
from bot.broadcast.drafts import FALLBACK_LOCALE
from bot.broadcast.service import BroadcastService, organizer_actor
from bot.broadcast.words import Words, refusal, render_refusal
from bot.channels.console import Button, Buttons, ConsoleEvent, ConsoleHost
from bot.content.i18n import Translator
from bot.errors import BroadcastError
from bot.organizer import texts as T
from bot.organizer.reports import (
    format_preview_summary,
    format_report,
    format_stats,
    preview_texts,
)
from bot.organizer.web import texts as WEB
from bot.sms_text import MAX_MESSAGE_CHARS
from bot.storage.base import Broadcast, BroadcastStatus

logger = logging.getLogger(__name__)

CALLBACK_PREFIX: Final = "bc:"
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
        login_link: makes a web console login link for an organizer (``/console``); without
            it (the web console is off) ``/console`` goes on to the conversation.
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
        login_link: Callable[[int], Awaitable[str | None]] | None = None,
        progress_seconds: float = 2.0,
    ) -> None:
        self.service = service
        self.organizers = frozenset(organizers)
        self._translator = translator
        self._default_locale = default_locale
        self._wake = wake
        self._report_chat_id = report_chat_id
        self._login_link = login_link
        self._progress_seconds = progress_seconds
        self._drafts: dict[int, _Draft] = {}
        self._watchers: dict[int, asyncio.Task[None]] = {}
        self._host: ConsoleHost | None = None

    def attach(self, host: ConsoleHost) -> None:
        """Take the organizers' events from a channel's console seam, and answer through it."""
        self._host = host
        host.add_console(self._on_event, users=self.organizers)

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
        if self._report_chat_id is None or self._host is None:
            return
        words = self._words(None)
        report = await self.service.report(broadcast_id)
        await self._send(self._report_chat_id, format_report(report, words))

    # -- dispatch ----------------------------------------------------------------------------

    async def _on_event(self, event: ConsoleEvent) -> bool:
        """An organizer's private message or button press; True when it was the console's."""
        words = self._words(event.language_code)
        actor = organizer_actor(telegram_user_id=event.user_id)
        chat_id = event.chat_id
        if event.button is not None:
            if not event.button.startswith(CALLBACK_PREFIX):
                return False
            try:
                await self._on_button(event, actor, words)
            except BroadcastError as exc:
                await self._send(chat_id, render_refusal(exc, words))
            return True
        try:
            return await self._on_message(event, actor, words)
        except BroadcastError as exc:
            self._drafts.pop(chat_id, None)
            await self._send(chat_id, render_refusal(exc, words))
            return True

    async def _on_message(self, event: ConsoleEvent, actor: str, words: Words) -> bool:
        """Handle an organizer's message if it belongs to the console; False to pass it on."""
        self._forget_idle()
        chat_id = event.chat_id
        draft = self._drafts.get(chat_id)
        name = event.command
        if name == "broadcast":
            await self._begin(chat_id, words, None)
        elif name == "console" and self._login_link is not None:
            url = await self._login_link(event.user_id)
            if url is None:
                return False
            await self._send(chat_id, words(WEB.LINK_MESSAGE, url=url))
        elif name == "stats":
            rows = await self.service.weekly_stats(weeks=STATS_WEEKS)
            text = format_stats(rows, words, weeks=STATS_WEEKS, channels=self.service.channels)
            await self._send(chat_id, text)
        elif draft is not None and name in ("cancel", "skip", "keep"):
            await self._draft_command(chat_id, draft, name, actor, words)
        elif draft is not None and name is None:
            if event.text is None:
                await self._send(chat_id, words(T.NEED_TEXT))
            else:
                await self._draft_text(chat_id, draft, event.text, actor, words)
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
            error = refusal(
                R.ERROR_TOO_LONG, language=locale, length=len(value), limit=MAX_MESSAGE_CHARS
            )
            await self._send(chat_id, render_refusal(error, words))
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
        buttons = [
            [
                _button(words(T.BUTTON_SEND), "send", broadcast_id),
                _button(words(T.BUTTON_EDIT), "edit", broadcast_id),
                _button(words(T.BUTTON_CANCEL), "cancel", broadcast_id),
            ]
        ]
        await self._send(chat_id, summary, buttons)

    # -- buttons -----------------------------------------------------------------------------

    async def _on_button(self, event: ConsoleEvent, actor: str, words: Words) -> None:
        chat_id = event.chat_id
        try:
            _prefix, action, raw_id = (event.button or "").split(":", 2)
            broadcast_id = int(raw_id)
        except ValueError:
            return
        if action == "send":
            await self._clear_buttons(event)
            await self.service.start(actor, broadcast_id)
            if self._wake is not None:
                self._wake()
            report = await self.service.report(broadcast_id)
            sent = await self._send(
                chat_id,
                format_report(report, words),
                [[_button(words(T.BUTTON_STOP), "stop", broadcast_id)]],
            )
            if sent is not None:
                self._watch(chat_id, sent, broadcast_id, words)
        elif action == "edit":
            broadcast = await self.service.get(broadcast_id)
            if broadcast.status != BroadcastStatus.DRAFT:
                raise refusal(R.ERROR_NOT_DRAFT, id=broadcast_id, status=broadcast.status)
            await self._clear_buttons(event)
            await self._begin(chat_id, words, broadcast)
        elif action in ("cancel", "stop"):
            report = await self.service.cancel(actor, broadcast_id)
            await self._clear_buttons(event)
            if action == "cancel":
                await self._send(chat_id, format_report(report, words))
        elif action == "refresh" and event.message_id is not None:
            report = await self.service.report(broadcast_id)
            await self._edit(
                chat_id,
                event.message_id,
                format_report(report, words),
                _refresh_markup(words, broadcast_id),
            )

    async def _clear_buttons(self, event: ConsoleEvent) -> None:
        if self._host is None or event.message_id is None or not event.message_has_buttons:
            return
        await self._host.clear_buttons(event.chat_id, event.message_id)

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
                stop = [[_button(words(T.BUTTON_STOP), "stop", broadcast_id)]]
                await self._edit(chat_id, message_id, text, stop if settle_until is None else ())
                shown = text
            await asyncio.sleep(self._progress_seconds)

    # -- the channel -----------------------------------------------------------------------

    async def _send(self, chat_id: int, text: str, buttons: Buttons = ()) -> int | None:
        """Send ``text`` (split if too long; buttons on the last part); its message id."""
        assert self._host is not None
        return await self._host.post(chat_id, text, buttons)

    async def _edit(self, chat_id: int, message_id: int, text: str, buttons: Buttons) -> None:
        assert self._host is not None
        await self._host.edit(chat_id, message_id, text, buttons)


def _button(label: str, action: str, broadcast_id: int) -> Button:
    return Button(label, f"{CALLBACK_PREFIX}{action}:{broadcast_id}")


def _refresh_markup(words: Words, broadcast_id: int) -> Buttons:
    return [[_button(words(T.BUTTON_REFRESH), "refresh", broadcast_id)]]
