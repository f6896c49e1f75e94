"""How relayed texts travel: one narrow sender for both directions, on the reply path.

Everything the handoff sends goes through :class:`RelaySender`. Relayed texts are never
logged and never stored by this module.

:class:`ChannelRelay` sends answers to the person as replies: through the durable outbox
(:class:`~bot.channels.outbox.OutboxSender`) when one is wired, as ``kyrbot serve`` wires it,
so an answer is stored before it is sent, retried while the person's provider is down, erased
once sent, and never overtakes a reply to the same person that is still waiting; without an
outbox, through the channel's :meth:`~bot.channels.base.Channel.deliver_replies`. Either way
it uses no broadcast sending time, so a running broadcast never delays it, and an SMS is split
and counted like any reply. The group's messages go out one at a time, in order, from a queue
paced by a :class:`~bot.channels.pacing.RateLimiter` at the group's limit (Telegram: 20 a
minute per group), so a flood of tickets waits in the queue rather than hitting Telegram's
limit.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Protocol

from bot.channels.base import Channel, log_failure
from bot.channels.outbox import OutboxSender, Outcome
from bot.channels.pacing import LOOP_TIMER, LocalSendClock, RateLimiter, Timer
from bot.errors import SendError
from bot.messages import Address, Reply
from bot.storage.base import TicketStore

logger = logging.getLogger(__name__)


class Delivery(enum.Enum):
    """What became of an answer to a person."""

    SENT = "sent"
    QUEUED = "queued"
    """Stored in the outbox: the person's provider did not take it yet, and it is retried
    until ``outbox.reply_retry_minutes`` have passed (or it waits behind an earlier reply)."""
    TOO_LONG = "too_long"
    """Over the person's channel's reply limit (SMS segments): nothing was sent."""
    FAILED = "failed"
    """The channel could not deliver it (or the person is gone)."""


class RelaySender(Protocol):
    """The two ways a relayed text leaves the bot."""

    async def send_to_person(self, contact_id: int, text: str) -> Delivery:
        """Send ``text`` (already translated, placeholders filled) to the contact."""
        ...

    async def send_to_group(self, text: str, *, on_behalf_of: int | None = None) -> None:
        """Queue ``text`` for the volunteers' group; sent in order, within the group's limit.

        ``on_behalf_of``: the contact whose message this relays; if it cannot be sent, the
        relay's ``on_lost`` hears of that contact (to tell them).
        """
        ...


_DELIVERY = {
    Outcome.SENT: Delivery.SENT,
    Outcome.WAITING: Delivery.QUEUED,
    Outcome.FAILED: Delivery.FAILED,
}

LostRelay = Callable[[int], Awaitable[None]]
"""Told the contact id whose message could not reach the group."""


class ChannelRelay:
    """:class:`RelaySender` on the channels' own send methods (see the module docstring).

    Args:
        channels: the running channels by name.
        group_channel: the channel hosting the volunteers' group (Telegram).
        group: the group's address on it.
        contacts: where a contact id is turned into its address, at sending time only.
        per_minute: the group's message limit.
        timer: for pacing (tests pass a fake).
        outbox: where answers to people are stored and sent (without one: sent directly).
    """

    def __init__(
        self,
        *,
        channels: Mapping[str, Channel],
        group_channel: Channel,
        group: Address,
        contacts: TicketStore,
        per_minute: float = 20.0,
        timer: Timer = LOOP_TIMER,
        outbox: OutboxSender | None = None,
    ) -> None:
        self._channels = dict(channels)
        self._outbox = outbox
        self._group_channel = group_channel
        self._group = group
        self._contacts = contacts
        self.pacer = RateLimiter(
            "volunteers-group",
            per_minute / 60.0,
            LocalSendClock(timer.now),
            window=0.0,
            timer=timer,
        )
        self._queue: asyncio.Queue[tuple[str, int | None]] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        self.group_failures = 0
        self.on_lost: LostRelay | None = None
        """Hears of each contact whose relayed message the group did not get."""

    async def send_to_person(self, contact_id: int, text: str) -> Delivery:
        """See :class:`RelaySender`; the contact's address is read now and not kept."""
        contact = await self._contacts.ticket_contact(contact_id)
        if contact is None:
            return Delivery.FAILED
        channel = self._channels.get(contact.address.channel)
        if channel is None:
            return Delivery.FAILED
        locale = contact.locale or "en"
        limit = channel.capabilities.reply_units_limit
        if limit is not None and channel.estimate(text, locale).units > limit:
            return Delivery.TOO_LONG
        replies = (Reply(text=text, locale=locale),)
        if self._outbox is None:
            delivered = await channel.deliver_replies(contact.address, replies)
            return Delivery.SENT if delivered else Delivery.FAILED
        outcome = await self._outbox.submit_outcome(
            channel, contact.address, replies, private=True
        )
        return _DELIVERY[outcome]

    def units(self, channel_name: str, text: str, locale: str) -> tuple[float, float | None]:
        """What ``text`` costs on a channel, and the most one reply may cost there."""
        channel = self._channels.get(channel_name)
        if channel is None:
            return 1.0, None
        return channel.estimate(text, locale).units, channel.capabilities.reply_units_limit

    async def send_to_group(self, text: str, *, on_behalf_of: int | None = None) -> None:
        """See :class:`RelaySender`."""
        if self._worker is None or self._worker.done():
            self._worker = asyncio.get_running_loop().create_task(self._drain())
        await self._queue.put((text, on_behalf_of))

    async def flush(self) -> None:
        """Wait until every queued group message was sent (or given up on)."""
        await self._queue.join()

    async def close(self) -> None:
        """Stop sending to the group (queued messages are dropped)."""
        if self._worker is not None:
            self._worker.cancel()
            await asyncio.gather(self._worker, return_exceptions=True)
            self._worker = None

    async def _drain(self) -> None:
        while True:
            text, contact_id = await self._queue.get()
            try:
                await self._group_channel.send(self._group, Reply(text=text), pacer=self.pacer)
            except Exception as exc:  # never let one message stop the queue
                self.group_failures += 1
                if isinstance(exc, SendError):
                    logger.warning(
                        "A message to the volunteers' group failed (%s)", type(exc).__name__
                    )
                else:
                    log_failure(logger, "Sending to the volunteers' group", exc, None)
                await self._lost(contact_id)
            finally:
                self._queue.task_done()

    async def _lost(self, contact_id: int | None) -> None:
        if contact_id is None or self.on_lost is None:
            return
        try:
            await self.on_lost(contact_id)
        except Exception as exc:
            log_failure(logger, "Telling a person their message was not relayed", exc, None)
