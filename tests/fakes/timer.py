"""A pacing timer for tests: waiting takes no real time, and every wait is recorded."""

from __future__ import annotations

import asyncio
import heapq
import itertools


class FakeTimer:
    """Implements :class:`bot.channels.pacing.Timer` on a virtual clock.

    With one party (the default) ``sleep`` moves the clock at once. With ``parties=n`` the
    clock moves only when all ``n`` tasks using it are asleep (or have called
    :meth:`leave`), and then to the earliest wake-up: concurrent waits overlap as they would
    in real time, with none of the real waiting.
    """

    def __init__(self, start: float = 1000.0, *, parties: int = 1) -> None:
        self._now = start
        self._parties = parties
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        self.slept: list[float] = []
        """Every wait asked for, in seconds, in order."""

    def now(self) -> float:
        return self._now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        target = self._now + max(0.0, seconds)
        if self._parties <= 1:
            self._now = max(self._now, target)
            await asyncio.sleep(0)
            return
        wake: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (target, next(self._order), wake))
        self._advance()
        await wake

    def leave(self) -> None:
        """One party is done: the clock no longer waits for it."""
        self._parties -= 1
        self._advance()

    def _advance(self) -> None:
        if self._sleepers and len(self._sleepers) >= self._parties:
            target, _, wake = heapq.heappop(self._sleepers)
            self._now = max(self._now, target)
            wake.set_result(None)
