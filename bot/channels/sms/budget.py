"""The per-sender reply budget: how many SMS replies one number may get in a window."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import ClassVar


class ReplyBudget:
    """A sliding-window count of replies per sender key, kept in memory.

    Keys are keyed hashes (:func:`bot.privacy.address_hash`), never numbers. Idle keys are
    pruned as the table grows, and at most :attr:`MAX_SENDERS` are kept (the least recently
    answered go first), so a flood from ever new numbers cannot grow memory without end. A
    loop with another bot is one number, answered often: it stays among the most recent.
    """

    _PRUNE_EVERY: ClassVar[int] = 1024
    MAX_SENDERS: ClassVar[int] = 10_000

    def __init__(
        self, *, replies: int, window_seconds: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        """Allow ``replies`` replies per key in any ``window_seconds``, timed by ``clock``."""
        self._limit = replies
        self._window = window_seconds
        self._clock = clock
        self._sent: dict[str, deque[float]] = {}
        self._warned: dict[str, float] = {}
        self._spends = 0

    def exhausted(self, key: str) -> bool:
        """Whether ``key`` has used its whole budget in the current window."""
        times = self._sent.get(key)
        if times is None:
            return False
        self._expire(times, self._clock())
        return len(times) >= self._limit

    def spend(self, key: str) -> None:
        """Record one reply to ``key``."""
        now = self._clock()
        times = self._sent.pop(key, None)  # back in at the end: the least recent go first
        if times is None:
            times = deque()
            if len(self._sent) >= self.MAX_SENDERS:
                self._make_room()
        self._sent[key] = times
        self._expire(times, now)
        times.append(now)
        self._spends += 1
        if self._spends % self._PRUNE_EVERY == 0:
            self._prune(now)

    def first_refusal(self, key: str) -> bool:
        """True once per window for an exhausted ``key``: the moment worth a log line."""
        now = self._clock()
        last = self._warned.get(key)
        if last is not None and now - last < self._window:
            return False
        self._warned.pop(key, None)
        if len(self._warned) >= self.MAX_SENDERS:
            self._make_room()
        self._warned[key] = now
        return True

    def _expire(self, times: deque[float], now: float) -> None:
        horizon = now - self._window
        while times and times[0] <= horizon:
            times.popleft()

    def __len__(self) -> int:
        """How many entries the budget holds (senders answered, and refusals noted)."""
        return len(self._sent) + len(self._warned)

    def _make_room(self) -> None:
        # The least recent entries go; expired ones are swept every _PRUNE_EVERY spends.
        while len(self._sent) >= self.MAX_SENDERS:
            del self._sent[next(iter(self._sent))]
        while len(self._warned) >= self.MAX_SENDERS:
            del self._warned[next(iter(self._warned))]

    def _prune(self, now: float) -> None:
        horizon = now - self._window
        self._sent = {k: v for k, v in self._sent.items() if v and v[-1] > horizon}
        self._warned = {k: t for k, t in self._warned.items() if t > horizon}
