"""The broadcast runner: this process's share of sending, safely alongside other instances.

For each broadcast being sent it writes one delivery row per subscriber (in batches), then,
one lane per channel, claims a few due deliveries at a time, sends them with the channel's
``send()`` paced through a shared :class:`~bot.channels.pacing.RateLimiter`, and records each
outcome. A delivery that was in flight in a process that died is reported ``unknown`` and
never sent again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import socket
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import datetime
from typing import Final

from bot.broadcast.drafts import FALLBACK_LOCALE, text_locales, utcnow
from bot.broadcast.outcomes import failure_outcome
from bot.broadcast.pacing import RunnerPacer, RunnerSettings
from bot.broadcast.service import SYSTEM_ACTOR
from bot.broadcast.workers import WorkerLease
from bot.channels.base import Channel
from bot.channels.pacing import (
    LOOP_TIMER,
    RateLimiter,
    SendClock,
    SharedSendClock,
    Timer,
)
from bot.config import Config
from bot.errors import (
    SendError,
    SendWithdrawn,
)
from bot.messages import Reply
from bot.privacy import address_hash
from bot.storage.base import (
    Broadcast,
    BroadcastStatus,
    ClaimedDelivery,
    DeliveryNote,
    DeliveryOutcome,
    DeliveryStatus,
    Storage,
)

logger = logging.getLogger(__name__)


_RELEASE: Final = object()
"""A claimed delivery that was never attempted (shutting down): give it back."""


_STATUS_CHECK_SECONDS: Final = 0.5
"""How stale the runner's view of "is this broadcast still being sent?" may be."""


class BroadcastRunner:
    """Sends broadcasts that are ``sending``: this process's share, safely alongside others.

    Args:
        storage: an open storage (shared with the rest of the process).
        channels: the started channels by name; broadcasts go out through their ``send()``,
            at each channel's :attr:`~bot.channels.base.Capabilities.send_rate`, a message
            costing what the channel's :meth:`~bot.channels.base.Channel.estimate` says.
        config: ``locales`` and ``default_locale``.
        rates: override the rate per channel (``None``: no limit), e.g. for benchmarks.
        send_clock: where sending time comes from; default shared through the database.
        settings: pacing and retry tunables.
        worker_id: this instance's id in the database (default: random).
        timer: where pacing reads the time and waits, and where the runner waits between
            looks for work (tests pass a fake).
        now: the wall clock (timezone-aware UTC) for what the runner writes to the database:
            claims, outcomes, when a retry falls due, heartbeats (tests pass a fake).
    """

    def __init__(
        self,
        storage: Storage,
        channels: Mapping[str, Channel],
        config: Config,
        *,
        rates: Mapping[str, float | None] | None = None,
        send_clock: SendClock | None = None,
        settings: RunnerSettings | None = None,
        worker_id: str | None = None,
        timer: Timer = LOOP_TIMER,
        now: Callable[[], datetime] = utcnow,
    ) -> None:
        self.storage = storage
        self.channels = dict(channels)
        self.config = config
        self.settings = settings or RunnerSettings()
        self.worker_id = (
            worker_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        )
        clock = send_clock or SharedSendClock(storage)
        chosen: dict[str, float | None] = {
            name: channel.capabilities.send_rate for name, channel in self.channels.items()
        }
        chosen.update(rates or {})
        self.limiters = {
            name: RateLimiter(
                name, chosen.get(name), clock, window=self.settings.rate_window, timer=timer
            )
            for name in self.channels
        }
        self._timer = timer
        self._now = now
        self._in_flight = {name: asyncio.Semaphore(self.settings.in_flight) for name in channels}
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self.lease = WorkerLease(
            storage,
            self.worker_id,
            heartbeat=self.settings.heartbeat,
            timeout=self.settings.worker_timeout,
            now=now,
        )
        self._main: asyncio.Task[None] | None = None
        self._warned: set[tuple[int, str]] = set()
        self.on_finished: list[Callable[[int], Awaitable[None]]] = []
        """Called with a broadcast's id when this runner finishes it."""
        self.sent = 0
        """Messages this runner handed to a provider successfully."""
        self._unrecorded: list[DeliveryOutcome] = []
        self._unreleased: list[int] = []
        self._flush_lock = asyncio.Lock()
        self._status_checked: dict[int, tuple[float, bool]] = {}
        self._status_lock = asyncio.Lock()

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> asyncio.Task[None]:
        """Run :meth:`run_forever` as a task (what ``kyrbot serve`` does)."""
        if self._main is None:
            self._main = asyncio.get_running_loop().create_task(self.run_forever())
        return self._main

    def wake(self) -> None:
        """Look for work now (a broadcast was just started in this process)."""
        self._wake.set()

    async def stop(self, *, grace: float = 10.0) -> None:
        """Stop claiming, let sends in flight finish, and deregister.

        Sends in flight get up to ``grace`` seconds; claimed deliveries that were not
        attempted are given back.
        """
        self._stopping.set()
        self._wake.set()
        task = self._main
        if task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(task), grace)
        except TimeoutError:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        except asyncio.CancelledError:
            pass
        except Exception:
            logger.exception("The broadcast runner ended with an error")

    async def run_forever(self) -> None:
        """Send every broadcast that is being sent, now and whenever one starts, until stopped.

        Unfinished broadcasts (from before a restart) are picked up at once.
        """
        try:
            while not self._stopping.is_set():
                try:
                    await self.lease.register()
                    for broadcast_id in await self.storage.unfinished_broadcasts():
                        if self._stopping.is_set():
                            break
                        await self.run_once(broadcast_id)
                except Exception:
                    logger.exception("Broadcast runner failed; trying again shortly")
                self._wake.clear()
                await self._sleep(self.settings.poll, wake=True)
        finally:
            await self.lease.deregister()

    async def send_to_end(self, broadcast_id: int, *, poll: float | None = None) -> None:
        """Send one broadcast until it is finished or cancelled (``kyrbot broadcast send``).

        Another instance may share the work; this returns once nothing is left for anyone.
        """
        await self.lease.register()
        try:
            while not self._stopping.is_set():
                await self.run_once(broadcast_id)
                broadcast = await self.storage.get_broadcast(broadcast_id)
                if broadcast is None or broadcast.status != BroadcastStatus.SENDING:
                    return
                await self._sleep(poll if poll is not None else self.settings.poll)
        finally:
            await self.lease.deregister()

    async def reap(self) -> int:
        """Close as ``unknown`` the in-flight deliveries of instances that died."""
        return await self.lease.reap()

    async def run_once(self, broadcast_id: int) -> None:
        """Do this instance's part of one broadcast now.

        Write its delivery rows, send what is due on our channels, and finish it if nothing
        is left.
        """
        await self._flush_outcomes()
        broadcast = await self.storage.get_broadcast(broadcast_id)
        if broadcast is None or broadcast.status != BroadcastStatus.SENDING:
            return
        if not broadcast.materialized:
            await self._materialize(broadcast)
        await asyncio.gather(*(self._lane(broadcast, name) for name in self.channels))
        await self.lease.reap()
        if await self.storage.finish_broadcast(broadcast_id, self._now()):
            await self._finished(broadcast_id)
        else:
            await self._warn_unserved(broadcast_id)

    # -- one broadcast -----------------------------------------------------------------------

    async def _materialize(self, broadcast: Broadcast) -> None:
        mapping = text_locales(self.config.locales, broadcast.texts)
        written = 0
        while not self._stopping.is_set():
            n = await self.storage.materialize_deliveries(
                broadcast.id,
                locales=mapping,
                default_locale=self.config.default_locale,
                batch_size=self.settings.materialize_batch,
                now=self._now(),
            )
            if not n:
                break
            written += n
            await asyncio.sleep(0)  # let replies in between batches
        if written:
            logger.info("Broadcast #%d: %d recipients queued", broadcast.id, written)

    async def _lane(self, broadcast: Broadcast, name: str) -> None:
        channel = self.channels[name]
        limiter = self.limiters[name]
        replies = {loc: Reply(text=text, locale=loc) for loc, text in broadcast.texts.items()}
        costs = {loc: channel.estimate(text, loc).units for loc, text in broadcast.texts.items()}
        if limiter.rate is None:
            batch = self.settings.max_batch
        else:
            per_message = max(costs.values(), default=1.0)
            batch = math.ceil(limiter.rate * self.settings.claim_seconds / per_message)
            batch = max(1, min(self.settings.max_batch, batch))
        while not self._stopping.is_set():
            claimed = await self.storage.claim_deliveries(
                broadcast.id, channel=name, worker=self.worker_id, limit=batch, now=self._now()
            )
            if not claimed:
                due = await self.storage.next_pending_at(broadcast.id, channel=name)
                if due is None:
                    return
                wait = (due - self._now()).total_seconds()
                await self._sleep(min(max(wait, 0.01), self.settings.poll))
                continue
            results = await asyncio.gather(
                *(self._deliver(broadcast.id, channel, limiter, item, replies) for item in claimed)
            )
            outcomes = [r for r in results if isinstance(r, DeliveryOutcome)]
            released = [item.id for item, r in zip(claimed, results, strict=True) if r is _RELEASE]
            await self._record(outcomes, released)

    async def _deliver(
        self,
        broadcast_id: int,
        channel: Channel,
        limiter: RateLimiter,
        item: ClaimedDelivery,
        replies: Mapping[str, Reply],
    ) -> DeliveryOutcome | object:
        async with self._in_flight[channel.name]:
            if self._stopping.is_set():
                return _RELEASE
            if not await self._still_sending(broadcast_id):
                return DeliveryOutcome(item.id, DeliveryStatus.CANCELLED)
            locale = item.locale if item.locale in replies else FALLBACK_LOCALE
            reply = channel.broadcast_reply(
                replies[locale], last_inbound_at=item.last_inbound_at, now=self._now()
            )
            if reply is None:  # outside a reply window with no template: never attempted
                return DeliveryOutcome(
                    item.id, DeliveryStatus.SKIPPED, error=DeliveryNote.NO_TEMPLATE
                )
            gate = RunnerPacer(limiter, lambda: self._go(broadcast_id))
            try:
                provider_id = await channel.send(item.address, reply, pacer=gate)
            except SendWithdrawn:
                if self._stopping.is_set():
                    return _RELEASE
                return DeliveryOutcome(item.id, DeliveryStatus.CANCELLED)
            except SendError as exc:
                return failure_outcome(
                    item,
                    exc,
                    self.settings.retry,
                    now=self._now,
                    retry_for=self.settings.retry_for,
                )
            except Exception as exc:
                # A bug, not a provider answer: whether it left is unknown, so never resend.
                logger.error(
                    "Sending a broadcast message to %s failed unexpectedly: %s",
                    address_hash(item.address),
                    type(exc).__name__,
                )
                return DeliveryOutcome(item.id, DeliveryStatus.UNKNOWN, error=type(exc).__name__)
        self.sent += 1
        return DeliveryOutcome(item.id, DeliveryStatus.SENT, provider_id=provider_id)

    async def _go(self, broadcast_id: int) -> bool:
        """Whether a message that waited its turn may still go (not stopping, not cancelled)."""
        return not self._stopping.is_set() and await self._still_sending(broadcast_id)

    async def _still_sending(self, broadcast_id: int) -> bool:
        """Whether the broadcast is still being sent (not cancelled), at most 0.5 s stale."""
        loop = asyncio.get_running_loop()
        async with self._status_lock:
            checked_at, sending = self._status_checked.get(broadcast_id, (-1e9, True))
            if loop.time() - checked_at >= _STATUS_CHECK_SECONDS:
                broadcast = await self.storage.get_broadcast(broadcast_id)
                sending = broadcast is not None and broadcast.status == BroadcastStatus.SENDING
                self._status_checked[broadcast_id] = (loop.time(), sending)
            return sending

    async def _record(self, outcomes: list[DeliveryOutcome], released: list[int]) -> None:
        """Write outcomes; on a database failure keep them, to write before the next batch.

        Meanwhile the rows stay "sending" under this instance: never claimed again, and
        reported unknown if this process dies before it can write them.
        """
        self._unrecorded.extend(outcomes)
        self._unreleased.extend(released)
        await self._flush_outcomes()

    async def _flush_outcomes(self) -> None:
        async with self._flush_lock:
            outcomes, self._unrecorded = self._unrecorded, []
            released, self._unreleased = self._unreleased, []
            try:
                await self.storage.record_deliveries(self.worker_id, outcomes, self._now())
            except Exception:
                logger.exception("Could not record %d broadcast outcomes yet", len(outcomes))
                self._unrecorded[:0] = outcomes
                self._unreleased[:0] = released
                raise
            try:
                await self.storage.release_deliveries(self.worker_id, released, self._now())
            except Exception:
                self._unreleased[:0] = released
                raise

    async def _finished(self, broadcast_id: int) -> None:
        tally: Counter[str] = Counter()
        for row in await self.storage.delivery_tally(broadcast_id):
            tally[row.status] += row.count
        await self.storage.add_audit(
            actor=SYSTEM_ACTOR,
            action="finish",
            detail={"broadcast": broadcast_id, **dict(sorted(tally.items()))},
            now=self._now(),
        )
        logger.info("Broadcast #%d finished: %s", broadcast_id, dict(sorted(tally.items())))
        for callback in list(self.on_finished):
            try:
                await callback(broadcast_id)
            except Exception:
                logger.exception("A broadcast-finished listener failed")

    async def _warn_unserved(self, broadcast_id: int) -> None:
        for row in await self.storage.delivery_tally(broadcast_id):
            key = (broadcast_id, row.channel)
            if (
                row.status == DeliveryStatus.PENDING
                and row.channel not in self.channels
                and key not in self._warned
            ):
                self._warned.add(key)
                logger.warning(
                    "Broadcast #%d: %d deliveries wait for the %s channel, which this instance "
                    "does not have configured",
                    broadcast_id,
                    row.count,
                    row.channel,
                )

    async def _sleep(self, seconds: float, *, wake: bool = False) -> None:
        """Wait ``seconds`` on the timer, or less if stopping (or, with ``wake``, woken)."""
        waits = [
            asyncio.ensure_future(self._timer.sleep(seconds)),
            asyncio.ensure_future(self._stopping.wait()),
        ]
        if wake:
            waits.append(asyncio.ensure_future(self._wake.wait()))
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waits:
                waiter.cancel()


def channels_by_name(channels: Iterable[Channel]) -> dict[str, Channel]:
    """``{channel.name: channel}``, for :class:`BroadcastRunner`."""
    return {channel.name: channel for channel in channels}
