"""How the runner paces and retries: its tunables, and the pacer it hands each channel's send."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.channels.pacing import (
    RateLimiter,
    RetryPolicy,
)
from bot.errors import (
    SendWithdrawn,
)


@dataclass(frozen=True, slots=True)
class RunnerSettings:
    """How a :class:`BroadcastRunner` paces and retries. The defaults suit production."""

    in_flight: int = 4
    """Sends in progress at once per channel: small, so replies to people are never starved."""
    max_batch: int = 100
    """Most deliveries claimed at once per channel."""
    claim_seconds: float = 0.2
    """Claim about this much sending time at once (at 1 SMS segment/s: one message). Small,
    because claimed deliveries that a crash cuts off count as unknown."""
    max_attempts: int | None = None
    """Tries per delivery for retryable errors at most; None: as many as ``retry_for`` allows."""
    retry_for: float = 12 * 3600.0
    """Seconds after a delivery's first attempt during which retryable errors (rate limited,
    provider unavailable) are retried (``outbox.broadcast_retry_hours``); then it failed."""
    backoff: float = 2.0
    """Seconds before the first retry; doubled for each further attempt (with jitter)."""
    max_backoff: float = 300.0
    heartbeat: float = 1.0
    """Seconds between this instance's heartbeats."""
    worker_timeout: float = 15.0
    """An instance silent this long is dead: its in-flight deliveries become unknown."""
    poll: float = 1.0
    """Seconds between looks for broadcasts to send (and retries falling due)."""
    materialize_batch: int = 1000
    """Delivery rows written per transaction."""
    rate_window: float = 0.25
    """Sending time reserved from the shared clock at once."""

    @property
    def retry(self) -> RetryPolicy:
        """The retry policy these settings give (:class:`~bot.channels.pacing.RetryPolicy`)."""
        return RetryPolicy(
            max_attempts=self.max_attempts or 1_000_000,
            backoff=self.backoff,
            max_backoff=self.max_backoff,
        )


class RunnerPacer:
    """The runner's :class:`~bot.channels.pacing.Pacer`: the shared limiter, then a last look.

    After each wait for sending time it checks whether the message may still go, and raises
    :class:`~bot.errors.SendWithdrawn` from :meth:`acquire` when the broadcast was cancelled
    or the runner is stopping meanwhile: the claim is then given back or cancelled, and
    nothing is sent.
    """

    def __init__(self, limiter: RateLimiter, go: Callable[[], Awaitable[bool]]) -> None:
        self._limiter = limiter
        self._go = go

    async def acquire(self, cost: float = 1.0) -> None:
        """Wait for sending time, then check the message is still wanted."""
        await self._limiter.acquire(cost)
        if not await self._go():
            raise SendWithdrawn("the broadcast was cancelled or its sender is stopping")

    async def pause(self, seconds: float) -> None:
        """Hold the channel's broadcast sends (shared) for ``seconds``."""
        await self._limiter.pause(seconds)
