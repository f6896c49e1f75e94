"""A pacing timer for tests: waiting takes no real time, and every wait is recorded."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from datetime import UTC, datetime, timedelta


class FakeTimer:
    """Implements :class:`bot.channels.pacing.Timer` on a virtual clock.

    With one party (the default) ``sleep`` moves the clock at once. With ``parties=n`` the
    clock moves only when all ``n`` tasks using it are asleep (or have called
    :meth:`leave`), and then to the earliest wake-up: concurrent waits overlap as they would
    in real time, with none of the real waiting. Each party must then have at most one task
    waiting on the timer at a time.

    :meth:`hold` stops the clock: whoever waits then stays asleep until the test moves the
    clock on (:meth:`advance`) or lets it run again (:meth:`release`).

    Args:
        start: the clock's first reading (monotonic seconds).
        parties: how many tasks must all be asleep before the clock moves.
        epoch: the wall time (:meth:`utcnow`) at ``start``; default: when the timer is made,
            so rows written by code on the real clock stay in order with the fake ones.
    """

    def __init__(
        self, start: float = 1000.0, *, parties: int = 1, epoch: datetime | None = None
    ) -> None:
        self._start = start
        self._now = start
        self._epoch = epoch if epoch is not None else datetime.now(UTC)
        self._parties = parties
        self._held = False
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        self.slept: list[float] = []
        """Every wait asked for, in seconds, in order."""

    def now(self) -> float:
        """The virtual monotonic clock, in seconds."""
        return self._now

    def utcnow(self) -> datetime:
        """The same clock as timezone-aware UTC: for code that takes ``now=``."""
        return self._epoch + timedelta(seconds=self._now - self._start)

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of virtual time (see the class docstring for when it passes)."""
        self.slept.append(seconds)
        target = self._now + max(0.0, seconds)
        if self._parties <= 1 and (not self._held or target <= self._now):
            self._now = max(self._now, target)
            await asyncio.sleep(0)
            return
        wake: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (target, next(self._order), wake)
        heapq.heappush(self._sleepers, entry)
        self._advance()
        try:
            await wake
        except asyncio.CancelledError:
            if entry in self._sleepers:  # woken by cancelling: no longer asleep
                self._sleepers.remove(entry)
                heapq.heapify(self._sleepers)
            raise

    def leave(self) -> None:
        """One party is done: the clock no longer waits for it."""
        self._parties -= 1
        self._advance()

    def hold(self) -> None:
        """Stop the clock: every wait not already due stays asleep until it is moved on."""
        self._held = True

    def advance(self, seconds: float) -> None:
        """Move a held clock on by ``seconds``, waking every wait due by then, in order."""
        self._now += seconds
        while self._sleepers and self._sleepers[0][0] <= self._now:
            self._wake_first()

    def release(self) -> None:
        """Let a held clock run again: waits in progress end, in order, with no real waiting."""
        self._held = False
        if self._parties > 1:
            self._advance()
            return
        while self._sleepers:
            self._wake_first()

    def _advance(self) -> None:
        if self._held:
            return
        if self._sleepers and len(self._sleepers) >= self._parties:
            self._wake_first()

    def _wake_first(self) -> None:
        target, _, wake = heapq.heappop(self._sleepers)
        self._now = max(self._now, target)
        if not wake.done():  # a cancelled wait takes itself out when its task resumes
            wake.set_result(None)
