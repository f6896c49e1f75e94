"""Pacing and retrying sends: the one rate limiter, its sending clocks, and the one retry policy.

Every channel paces its own sends through a :class:`RateLimiter` (its rate comes from the
channel's capabilities), and a broadcast runner paces a whole broadcast through one that takes
its sending time from the database (:class:`SharedSendClock`), so several instances together
keep one rate. A provider's "wait" (Telegram's ``retry_after``) pauses a limiter: replies to
people wait out the pause too, but never queue behind a broadcast's sending time.

:class:`RetryPolicy` is the one rule for trying again, used by replies (a few quick tries,
in process) and by broadcasts (a few slow tries, scheduled in the database).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Protocol

from bot.errors import OutcomeUnknown, RateLimited, SendError

if TYPE_CHECKING:
    from bot.storage.base import Storage


class Timer(Protocol):
    """Where pacing reads the time and waits; tests pass one that needs no real waiting."""

    def now(self) -> float:
        """Monotonic seconds."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds``."""
        ...


class LoopTimer:
    """The running event loop's clock and ``asyncio.sleep``: the timer outside tests."""

    def now(self) -> float:
        """See :class:`Timer`."""
        return asyncio.get_running_loop().time()

    async def sleep(self, seconds: float) -> None:
        """See :class:`Timer`."""
        await asyncio.sleep(seconds)


LOOP_TIMER: Final = LoopTimer()


class SendClock(Protocol):
    """Hands out sending time per channel; shared by every instance that uses the same one."""

    async def reserve(self, channel: str, seconds: float) -> float:
        """Reserve ``seconds`` of sending time; returns how long until the window starts."""
        ...

    async def pause(self, channel: str, seconds: float) -> None:
        """Let nobody send on ``channel`` for ``seconds`` (the provider asked us to wait)."""
        ...


class LocalSendClock:
    """Sending time for one process only (tests, and a single instance without shared rate)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._next: dict[str, float] = {}

    async def reserve(self, channel: str, seconds: float) -> float:
        """See :class:`SendClock`."""
        now = self._clock()
        start = max(self._next.get(channel, now), now)
        self._next[channel] = start + seconds
        return start - now

    async def pause(self, channel: str, seconds: float) -> None:
        """See :class:`SendClock`."""
        self._next[channel] = max(self._next.get(channel, 0.0), self._clock() + seconds)


class SharedSendClock:
    """Sending time reserved in the database, so the rate holds for all instances together.

    Uses Unix time, so instances on several hosts need synchronised clocks (NTP).
    """

    def __init__(self, storage: Storage, clock: Callable[[], float] = time.time) -> None:
        self._storage = storage
        self._clock = clock

    async def reserve(self, channel: str, seconds: float) -> float:
        """See :class:`SendClock`."""
        start = await self._storage.reserve_send_time(channel, seconds, self._clock())
        return max(0.0, start - self._clock())

    async def pause(self, channel: str, seconds: float) -> None:
        """See :class:`SendClock`."""
        await self._storage.pause_sending(channel, self._clock() + seconds)


class Pacer(Protocol):
    """What :meth:`bot.channels.base.Channel.send` paces through: a limiter, or a caller's own.

    A caller's pacer may raise :class:`~bot.errors.SendWithdrawn` from :meth:`acquire` to take
    the message back after its wait (a broadcast cancelled meanwhile).
    """

    async def acquire(self, cost: float = 1.0) -> None:
        """Wait until ``cost`` units may be sent."""
        ...

    async def pause(self, seconds: float) -> None:
        """Hold every send for ``seconds``: the provider asked us to wait."""
        ...


class RateLimiter:
    """Paces one channel's sends at ``rate`` units a second (messages or SMS segments).

    Sending time is taken from a :class:`SendClock` in small windows (``window`` seconds);
    inside a window, sends are spaced ``cost / rate`` apart. With a shared clock every
    instance takes its windows from the same timeline, so together they never exceed the
    rate. ``rate=None`` means no limit; a pause holds sends either way.
    """

    def __init__(
        self,
        channel: str,
        rate: float | None,
        clock: SendClock,
        *,
        window: float = 0.25,
        timer: Timer = LOOP_TIMER,
    ) -> None:
        if rate is not None and rate <= 0:
            raise ValueError("rate must be positive")
        self.channel = channel
        self.rate = rate
        self._clock = clock
        self._window = window
        self._timer = timer
        self._lock = asyncio.Lock()
        self._cursor: float | None = None
        self._end = 0.0
        self._paused_until = 0.0

    async def acquire(self, cost: float = 1.0) -> None:
        """Wait until ``cost`` units may be sent (a message, or an SMS's segments)."""
        if self.rate is None:
            await self.resumed()
            return
        need = cost / self.rate
        async with self._lock:
            if self._cursor is None or self._cursor + need > self._end + 1e-9:
                length = max(need, self._window)
                delay = await self._clock.reserve(self.channel, length)
                start = self._timer.now() + delay
                self._cursor, self._end = start, start + length
            at = self._cursor
            self._cursor = at + need
        await self._until(at)

    async def resumed(self) -> None:
        """Wait out a pause, without using any sending time (what replies to people do)."""
        await self._until(0.0)

    async def pause(self, seconds: float) -> None:
        """Hold every send on this channel for ``seconds``, here and (shared) elsewhere."""
        self._paused_until = max(self._paused_until, self._timer.now() + seconds)
        self._cursor = None  # the next window starts after the pause
        await self._clock.pause(self.channel, seconds)

    async def _until(self, at: float) -> None:
        while True:
            wait = max(at, self._paused_until) - self._timer.now()
            if wait <= 0:
                return
            await self._timer.sleep(wait)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """When a failed send is tried again: retryable errors only, with backoff and jitter.

    The delay before attempt ``n + 1`` is ``backoff * 2 ** (n - 1)``, jittered by
    ``±jitter``, capped at ``max_backoff``, and never shorter than the ``retry_after`` a
    provider asked for. There are at most ``max_attempts`` attempts in all.
    """

    max_attempts: int
    """Attempts in all, the first included."""
    backoff: float
    """Seconds before the first retry; doubled for each further attempt."""
    max_backoff: float = 300.0
    """The longest backoff (a provider's ``retry_after`` may be longer)."""
    max_wait: float | None = None
    """A provider's ``retry_after`` longer than this is not waited for (give up); None: any."""
    retry_unknown: bool = False
    """Also retry :class:`~bot.errors.OutcomeUnknown` (a reply: better twice than never)."""
    jitter: float = 0.2

    def delay(
        self,
        attempt: int,
        error: SendError,
        *,
        uniform: Callable[[float, float], float] = random.uniform,
    ) -> float | None:
        """Seconds to wait before trying again after ``attempt`` failed; None to give up.

        Args:
            attempt: the attempt that failed (1 for the first).
            error: how it failed.
            uniform: the jitter's random source.
        """
        retryable = error.retryable or (self.retry_unknown and isinstance(error, OutcomeUnknown))
        if not retryable or attempt >= self.max_attempts:
            return None
        wait = 0.0
        if isinstance(error, RateLimited) and error.retry_after:
            wait = error.retry_after
        if self.max_wait is not None and wait > self.max_wait:
            return None
        factor = uniform(1.0 - self.jitter, 1.0 + self.jitter)
        backoff = min(self.backoff * 2.0 ** (attempt - 1) * factor, self.max_backoff)
        return max(wait, backoff)


REPLY_RETRY: Final = RetryPolicy(max_attempts=4, backoff=0.5, max_wait=60.0, retry_unknown=True)
"""Replies to a person: four quick tries; a flood wait over a minute drops the reply."""
