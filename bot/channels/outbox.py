"""The outbox sender: replies stored before they are sent, retried until their deadline.

A channel that sends replies outside the webhook response (Telegram) hands them to
:meth:`OutboxSender.submit`. The replies are written to the outbox
(:mod:`bot.storage.outbox`) first, then sent at once by the caller; a retryable failure
leaves the row waiting with a backoff, and the background loop (:meth:`OutboxSender.run_forever`,
one per instance) sends it when it falls due, honouring a provider's ``retry_after``, until
``outbox.reply_retry_minutes`` have passed since the reply was made. Then, or at once for a
permanent error, the row is marked failed, its text erased, and the failure logged. A
restart resumes every waiting row; a row a dead sender held goes back to waiting after
:attr:`OutboxSettings.lease`. One person's replies always go in order: a later reply waits
for an earlier one that is being retried.

Replies to a contact that is not stored (the confirmation after ``/forget``) cannot be
referenced by ``contacts.id`` and go as before, retried briefly in memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import json
import logging
import os
import socket
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from bot.channels.base import Channel, log_failure
from bot.channels.pacing import LOOP_TIMER, RetryPolicy, Timer
from bot.errors import RecipientUnreachable, SendError, StorageError
from bot.messages import Address, Choice, Reply
from bot.privacy import address_hash
from bot.storage.outbox import OutboxItem, OutboxStore

logger = logging.getLogger(__name__)

_PAYLOAD_VERSION: Final = 1
_SHORTEST_WAIT: Final = 0.01
"""Seconds the loop waits at least between looks, so a row it cannot take never spins it."""


_PRIVATE_MARK: Final = '{"v":1,"private":true,'
"""How a private payload begins (see :func:`encode_reply`), so sending needs no second parse."""


def encode_reply(reply: Reply, *, private: bool = False) -> str:
    """The reply as the outbox stores it: its text, choices, navigation and locale.

    ``private``: a text nobody may find in the database's files once it is sent (what a
    volunteer wrote): sending it scrubs the store's copies (:meth:`OutboxStore.scrub_sent`).
    """
    head: dict[str, Any] = (
        {"v": _PAYLOAD_VERSION, "private": True} if private else {"v": _PAYLOAD_VERSION}
    )
    return json.dumps(
        {
            **head,
            "text": reply.text,
            "choices": [[c.id, c.label] for c in reply.choices],
            "nav": [[c.id, c.label] for c in reply.nav],
            "locale": reply.locale,
            "node": reply.node,
        },
        ensure_ascii=False,
        separators=(",", ":"),
    )


def decode_reply(payload: str) -> Reply:
    """The reply :func:`encode_reply` stored.

    Raises:
        ValueError: not a payload this code wrote.
    """
    data: Any = json.loads(payload)
    if not isinstance(data, dict) or data.get("v") != _PAYLOAD_VERSION:
        raise ValueError("not an outbox payload")
    return Reply(
        text=str(data["text"]),
        choices=tuple(Choice(str(i), str(label)) for i, label in data["choices"]),
        nav=tuple(Choice(str(i), str(label)) for i, label in data["nav"]),
        locale=str(data["locale"]),
        node=data.get("node"),
    )


class Outcome(enum.Enum):
    """What became of replies handed to :meth:`OutboxSender.submit_outcome`, at once."""

    SENT = "sent"
    """Every reply reached the provider."""
    WAITING = "waiting"
    """Stored and not sent yet: retried by the background loop until its deadline (or
    waiting behind an earlier reply to the same person)."""
    FAILED = "failed"
    """Given up on: a permanent error, or nothing to retry (the failure is logged)."""


@dataclass(frozen=True, slots=True)
class OutboxSettings:
    """How the outbox retries. Config gives the deadline; the rest suits production."""

    reply_retry: float = 600.0
    """Seconds a reply is retried after it was made (``outbox.reply_retry_minutes``)."""
    backoff: float = 0.5
    """Seconds before the first retry; doubled for each further one (with jitter)."""
    max_backoff: float = 30.0
    """The longest wait between tries (a provider's ``retry_after`` may be longer)."""
    poll: float = 1.0
    """Seconds between looks for replies that fell due."""
    lease: float = 120.0
    """A row held this long by a sender is given back (the sender died)."""
    batch: int = 50
    """Rows claimed at once by the background loop."""

    @property
    def policy(self) -> RetryPolicy:
        """Retry every retryable error (and an unknown outcome: better twice than never)."""
        return RetryPolicy(
            max_attempts=1_000_000,
            backoff=self.backoff,
            max_backoff=self.max_backoff,
            retry_unknown=True,
        )


def utcnow() -> datetime:
    """The wall clock, timezone-aware UTC."""
    return datetime.now(UTC)


class OutboxSender:
    """Stores replies, sends them, and retries what failed; one per process.

    Args:
        store: the outbox (``storage.outbox``).
        channels: the channels by name that send through it.
        settings: retry tunables.
        timer: where the loop waits (tests pass a fake).
        now: the wall clock for what is written (tests pass the fake timer's ``utcnow``).
        worker_id: this sender's id in the rows it holds (default: random).
    """

    def __init__(
        self,
        store: OutboxStore,
        channels: Mapping[str, Channel],
        *,
        settings: OutboxSettings | None = None,
        timer: Timer = LOOP_TIMER,
        now: Callable[[], datetime] = utcnow,
        worker_id: str | None = None,
    ) -> None:
        self.store = store
        self.channels = dict(channels)
        self.settings = settings or OutboxSettings()
        self._policy = self.settings.policy
        self._timer = timer
        self._now = now
        self.worker_id = worker_id or (
            f"outbox:{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        )
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.sent = 0
        """Replies this sender handed to a provider."""
        self.failed = 0
        """Replies given up on."""

    # -- what channels call ------------------------------------------------------------------

    async def submit(self, channel: Channel, address: Address, replies: Sequence[Reply]) -> bool:
        """Store ``replies`` to ``address`` and send them now, in order, after earlier ones.

        Returns True when every reply was sent now; False when some wait for a retry (or
        failed), which the background loop then takes care of.
        """
        return await self.submit_outcome(channel, address, replies) is Outcome.SENT

    async def submit_outcome(
        self,
        channel: Channel,
        address: Address,
        replies: Sequence[Reply],
        *,
        private: bool = False,
    ) -> Outcome:
        """:meth:`submit`, saying whether what was not sent now waits for a retry or failed.

        ``private``: once sent (or given up on), no copy of the text may stay in the store's
        files (see :func:`encode_reply`).
        """
        if not replies:
            return Outcome.SENT
        now = self._now()
        try:
            enqueued = await self.store.enqueue(
                address,
                [encode_reply(reply, private=private) for reply in replies],
                worker=self.worker_id,
                now=now,
                expires_at=now + timedelta(seconds=self.settings.reply_retry),
            )
        except StorageError as exc:
            logger.error("Replies could not be stored in the outbox; sending directly: %s", exc)
            return await self._direct(channel, address, replies)
        if enqueued is None:  # not a stored contact (erased): nothing to reference
            return await self._direct(channel, address, replies)
        if not enqueued.claimed:
            self.wake()  # an earlier reply to this person is waiting: these go after it
            return Outcome.WAITING
        items = list(enqueued.items)
        for index, (item, reply) in enumerate(zip(items, replies, strict=True)):
            outcome = await self._attempt(channel, item, reply)
            if outcome is Outcome.SENT:
                continue
            for later in items[index + 1 :]:  # keep the order: they go after the retried one
                await self._give_back(later)
            return Outcome.WAITING if index + 1 < len(items) else outcome
        return Outcome.SENT

    @staticmethod
    async def _direct(channel: Channel, address: Address, replies: Sequence[Reply]) -> Outcome:
        delivered = await channel.deliver_replies(address, replies)
        return Outcome.SENT if delivered else Outcome.FAILED

    def wake(self) -> None:
        """Look for due replies now."""
        self._wake.set()

    # -- the background loop -----------------------------------------------------------------

    def start(self) -> asyncio.Task[None]:
        """Run :meth:`run_forever` as a task."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self.run_forever())
        return self._task

    async def stop(self) -> None:
        """Stop the loop; sends in progress finish first."""
        self._stopping.set()
        self._wake.set()
        task, self._task = self._task, None
        if task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def run_forever(self) -> None:
        """Send due replies until stopped; waiting ones from before a restart go first."""
        while not self._stopping.is_set():
            try:
                handled = await self.run_once()
            except Exception:
                logger.exception("The outbox sender failed; trying again shortly")
                handled = 0
            if handled:
                continue
            self._wake.clear()
            await self._sleep(await self._idle_wait())

    async def run_once(self) -> int:
        """Give back rows a dead sender held, then send what is due; returns how many."""
        now = self._now()
        released = await self.store.release_outbox(
            claimed_before=now - timedelta(seconds=self.settings.lease), now=now
        )
        if released:
            logger.warning("Outbox: %d replies a stopped sender held go out again", released)
        items = await self.store.claim_outbox(
            worker=self.worker_id,
            channels=sorted(self.channels),
            now=now,
            limit=self.settings.batch,
        )
        if not items:
            return 0
        await asyncio.gather(*(self._attempt_claimed(item) for item in items))
        return len(items)

    async def _idle_wait(self) -> float:
        due = await self.store.next_outbox_due(sorted(self.channels))
        if due is None:
            return self.settings.poll
        wait = (due - self._now()).total_seconds()
        return min(max(wait, _SHORTEST_WAIT), self.settings.poll)

    async def _sleep(self, seconds: float) -> None:
        waits = [
            asyncio.ensure_future(self._timer.sleep(seconds)),
            asyncio.ensure_future(self._wake.wait()),
        ]
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waits:
                waiter.cancel()

    # -- one attempt -------------------------------------------------------------------------

    async def _attempt_claimed(self, item: OutboxItem) -> None:
        await self._attempt(self.channels[item.address.channel], item)

    async def _attempt(
        self, channel: Channel, item: OutboxItem, reply: Reply | None = None
    ) -> Outcome:
        """Try one held row once; record what became of it.

        ``reply``: the row's reply when the caller has it already (it was just stored);
        otherwise it is read from the row.
        """
        try:
            if reply is None:
                reply = decode_reply(item.payload)
            await channel.send_reply(item.address, reply)
        except SendError as error:
            return await self._failed_attempt(item, error)
        except Exception as exc:
            log_failure(logger, "Sending a stored reply", exc, item.address)
            await self._give_up(item, type(exc).__name__)
            return Outcome.FAILED
        self.sent += 1
        await self.store.outbox_sent(self.worker_id, [item.id])
        await self._scrub(item)
        return Outcome.SENT

    async def _failed_attempt(self, item: OutboxItem, error: SendError) -> Outcome:
        name = type(error).__name__
        delay = self._policy.delay(item.attempts, error)
        now = self._now()
        if delay is not None and now + timedelta(seconds=delay) <= item.expires_at:
            logger.info(
                "Reply to %s: %s; try %d again in %.1f s",
                address_hash(item.address),
                name,
                item.attempts + 1,
                delay,
            )
            await self.store.outbox_retry(
                self.worker_id, item.id, not_before=now + timedelta(seconds=delay), error=name
            )
            self.wake()
            return Outcome.WAITING
        by_person = isinstance(error, RecipientUnreachable) and error.by_person
        if not by_person:
            logger.warning(
                "Reply to %s not delivered (%s after %d attempts); given up",
                address_hash(item.address),
                name,
                item.attempts,
            )
        await self._give_up(item, name)
        return Outcome.FAILED

    async def _give_up(self, item: OutboxItem, error: str) -> None:
        self.failed += 1
        await self.store.outbox_failed(self.worker_id, item.id, error=error, now=self._now())
        await self._scrub(item)

    async def _scrub(self, item: OutboxItem) -> None:
        if item.payload.startswith(_PRIVATE_MARK):
            await self.store.scrub_sent()

    async def _give_back(self, item: OutboxItem) -> None:
        await self.store.outbox_retry(
            self.worker_id, item.id, not_before=self._now(), error="waiting its turn"
        )
