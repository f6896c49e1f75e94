"""How Telegram updates are taken in: per-chat order, recent ids, a bounded backlog, no memory.

python-telegram-bot's :class:`~telegram.ext.Application` notes the chat id and user id of
every update it processes, for its persistence to save later; with no persistence nothing
ever clears those sets, so a long-running bot would hold the id of everyone who ever wrote,
past their ``/forget``. :class:`ForgetfulApplication` notes nothing when there is no
persistence (the bot has none), and the adapter never touches ``chat_data``/``user_data``,
so those stay empty.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable
from typing import Any

from telegram import Update
from telegram.ext import Application, BaseUpdateProcessor, Job

from bot.channels.telegram.plain import PlainText

logger = logging.getLogger(__name__)


def chat_key(update: object) -> int | None:
    """The chat an update belongs to (a private chat's id is the person's user id)."""
    if isinstance(update, PlainText):
        return update.chat_id
    if not isinstance(update, Update):
        return None
    chat = update.effective_chat
    user = update.effective_user
    key: object = chat.id if chat is not None else user.id if user is not None else None
    # Only a number keys a lock: a malformed update (refused later) must not break ordering.
    return key if isinstance(key, int) else None


class ForgetfulApplication(Application[Any, Any, Any, Any, Any, Any]):
    """PTB's Application, minus its record of who wrote when there is no persistence."""

    def _mark_for_persistence_update(
        self, *, update: object | None = None, job: Job[Any] | None = None
    ) -> None:
        # Overrides a private method: tests/channels/telegram/test_residue.py fails if a PTB
        # upgrade renames it and the ids start piling up again.
        if self.persistence is not None:
            super()._mark_for_persistence_update(update=update, job=job)


class PerChatUpdateProcessor(BaseUpdateProcessor):
    """Updates from different chats run concurrently; one chat's updates run in arrival order.

    PTB's default handles one update at a time for the whole bot, so one slow database
    write would delay everyone; unbounded concurrency could answer one person's two quick
    messages out of order. PTB starts a task per update in arrival order and
    ``asyncio.Lock`` is first-come first-served, so per-chat order is kept.
    """

    __slots__ = ("_locks", "_users")

    def __init__(self, max_concurrent_updates: int) -> None:
        super().__init__(max_concurrent_updates)
        self._locks: dict[int, asyncio.Lock] = {}
        self._users: dict[int, int] = {}

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Await ``coroutine`` while holding the lock of the update's chat."""
        key = chat_key(update)
        if key is None:
            await coroutine
            return
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._users[key] = self._users.get(key, 0) + 1
        try:
            async with lock:
                await coroutine
        finally:
            self._users[key] -= 1
            if not self._users[key]:
                del self._users[key], self._locks[key]

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to release."""


class RecentUpdates:
    """The last ``size`` update ids (or other ids), to act only once on what comes twice.

    The conversation dedups what reaches it, across restarts too; this covers what never
    does: answering a button press, a block notice, the keyboard closed after a press.
    """

    def __init__(self, size: int = 4096) -> None:
        self._size = size
        self._ids: OrderedDict[int, None] = OrderedDict()

    def first(self, update_id: int) -> bool:
        """False for an update id seen recently (a webhook redelivery); remembers it."""
        if update_id in self._ids:
            return False
        self._ids[update_id] = None
        if len(self._ids) > self._size:
            self._ids.popitem(last=False)
        return True


class Backlog:
    """Webhook updates accepted (answered 200) and not yet handled, up to a bound.

    The webhook answers as soon as an update is queued, so a flood faster than the
    conversation would otherwise pile up in memory. Beyond ``limit`` the webhook refuses
    (Telegram sends the update again later), saying so once per episode.
    """

    __slots__ = ("_told", "limit", "pending")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.pending = 0
        self._told = False

    def admit(self) -> bool:
        """Count one more update in, or False when the backlog is full."""
        if self.pending >= self.limit:
            if not self._told:
                self._told = True
                logger.warning(
                    "Telegram updates arrive faster than they are handled (%d waiting); "
                    "asking Telegram to send the next ones again later",
                    self.pending,
                )
            return False
        self.pending += 1
        return True

    def done(self) -> None:
        """One admitted update was handled (a polled update, never admitted, counts nothing)."""
        if not self.pending:
            return
        self.pending -= 1
        if self._told and self.pending < self.limit // 2:
            self._told = False
            logger.info("Telegram updates are handled as they arrive again")
