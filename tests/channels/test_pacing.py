"""Pacing and retrying sends: the rate limiter (on an injected clock) and the retry policy."""

from __future__ import annotations

import asyncio

import pytest

from bot.channels.pacing import (
    REPLY_RETRY,
    LocalSendClock,
    RateLimiter,
    RetryPolicy,
    SharedSendClock,
)
from bot.errors import (
    ChannelUnavailable,
    OutcomeUnknown,
    PermanentSendError,
    RateLimited,
    RecipientUnreachable,
)
from bot.storage import Storage
from tests.fakes.timer import FakeTimer

# -- the rate limiter ----------------------------------------------------------------------------


async def test_the_limiter_spaces_sends_at_the_rate():
    timer = FakeTimer()
    limiter = RateLimiter("telegram", 100, LocalSendClock(timer.now), timer=timer)
    started = timer.now()
    for _ in range(31):
        await limiter.acquire()
    assert 0.28 <= timer.now() - started < 0.6


async def test_the_sms_limiter_counts_segments():
    timer = FakeTimer()
    limiter = RateLimiter("sms", 60, LocalSendClock(timer.now), timer=timer)
    started = timer.now()
    for _ in range(7):
        await limiter.acquire(3)  # a three-segment message
    assert 0.28 <= timer.now() - started < 0.6  # 18 segments after the first, at 60/s


async def test_limiters_sharing_the_database_clock_keep_the_rate_together(storage: Storage):
    timer = FakeTimer(parties=3)
    limiters = [
        RateLimiter("sms", 100, SharedSendClock(storage, timer.now), window=0.05, timer=timer)
        for _ in range(3)
    ]
    times: list[float] = []

    async def send(limiter: RateLimiter, n: int) -> None:
        try:
            for _ in range(n):
                await limiter.acquire()
                times.append(timer.now())
        finally:
            timer.leave()

    started = timer.now()
    await asyncio.gather(*(send(limiter, 15) for limiter in limiters))

    assert timer.now() - started >= 0.4  # 45 sends at 100/s together, not 300/s
    times.sort()
    in_any_tenth = max(sum(1 for t in times if s <= t < s + 0.1) for s in times)
    assert in_any_tenth <= 10 + 5  # 10 per 0.1 s, plus at most one window of burst


async def test_a_pause_holds_replies_too_but_they_use_no_sending_time():
    timer = FakeTimer()
    limiter = RateLimiter("telegram", 1, LocalSendClock(timer.now), timer=timer)
    await limiter.acquire()  # the whole first second is taken
    started = timer.now()

    await limiter.resumed()  # a reply: no pause, so at once, though the rate is used up
    assert timer.now() == started
    await limiter.pause(2.5)
    await limiter.resumed()  # now it waits out the provider's pause
    assert timer.now() - started == pytest.approx(2.5)


async def test_no_rate_means_no_waiting_but_pauses_still_hold():
    timer = FakeTimer()
    limiter = RateLimiter("sms", None, LocalSendClock(timer.now), timer=timer)
    for _ in range(1000):
        await limiter.acquire(5)
    assert timer.slept == []
    await limiter.pause(1.0)
    await limiter.acquire()
    assert timer.slept == [pytest.approx(1.0)]


# -- the retry policy ----------------------------------------------------------------------------

BROADCAST = RetryPolicy(max_attempts=5, backoff=2.0, max_backoff=300.0)
NO_JITTER = {"uniform": lambda low, high: 1.0}


def test_only_retryable_errors_are_retried_with_doubling_backoff():
    unavailable = ChannelUnavailable("502")
    delays = [BROADCAST.delay(n, unavailable, **NO_JITTER) for n in range(1, 6)]

    assert delays == [2.0, 4.0, 8.0, 16.0, None]  # five attempts in all
    assert BROADCAST.delay(1, PermanentSendError("400")) is None
    assert BROADCAST.delay(1, RecipientUnreachable("403", blocked=True)) is None
    assert BROADCAST.delay(1, OutcomeUnknown("timeout")) is None  # never a second copy


def test_backoff_is_jittered_and_capped():
    policy = RetryPolicy(max_attempts=20, backoff=2.0, max_backoff=60.0)
    assert policy.delay(10, ChannelUnavailable(), **NO_JITTER) == 60.0
    low = policy.delay(1, ChannelUnavailable(), uniform=lambda low, high: low)
    high = policy.delay(1, ChannelUnavailable(), uniform=lambda low, high: high)
    assert (low, high) == (pytest.approx(1.6), pytest.approx(2.4))


def test_retry_after_is_honoured_as_the_shortest_wait():
    assert BROADCAST.delay(1, RateLimited("429", retry_after=30.0), **NO_JITTER) == 30.0
    assert BROADCAST.delay(3, RateLimited("429", retry_after=1.0), **NO_JITTER) == 8.0
    assert BROADCAST.delay(1, RateLimited("429"), **NO_JITTER) == 2.0


def test_a_reply_retries_quickly_also_when_the_outcome_is_unknown_and_drops_long_waits():
    assert REPLY_RETRY.delay(1, OutcomeUnknown("timeout"), **NO_JITTER) == 0.5
    assert REPLY_RETRY.delay(3, ChannelUnavailable(), **NO_JITTER) == 2.0
    assert REPLY_RETRY.delay(4, ChannelUnavailable(), **NO_JITTER) is None
    assert REPLY_RETRY.delay(1, RateLimited("429", retry_after=61.0)) is None
    assert REPLY_RETRY.delay(1, RateLimited("429", retry_after=1.0), **NO_JITTER) == 1.0
