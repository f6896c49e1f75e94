"""Driving a webhook bot and its peer alike: closed and open loops, CPU, reply latency."""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import aiohttp


@dataclass(frozen=True)
class ClosedLoop:
    """One closed-loop phase: ``count`` requests, answered (and replied to) in ``seconds``."""

    count: int
    seconds: float
    cpu_seconds: float
    """This process's CPU time (user + system) over the phase."""
    accepted_seconds: float = 0.0
    """Until the last request was answered (before the replies were all sent)."""
    replies: int = 0

    @property
    def per_second(self) -> float:
        return self.count / self.seconds

    @property
    def cpu_ms(self) -> float:
        """CPU milliseconds per request."""
        return self.cpu_seconds * 1000 / self.count


@dataclass(frozen=True)
class OpenLoop:
    """One open-loop phase: requests sent at fixed times, replies timed from those times."""

    count: int
    rate: float
    sent_per_second: float
    """Requests sent per second, from the first scheduled time to the last actual send."""
    answered_per_second: float
    """Replies per second, from the first scheduled time to the last reply."""
    latencies_ms: Sequence[float]
    """Scheduled send to reply, per request that got one."""
    missing: int
    """Requests whose reply never arrived."""
    cpu_seconds: float

    @property
    def cpu_ms(self) -> float:
        return self.cpu_seconds * 1000 / self.count

    def quantile(self, q: int) -> float:
        """The ``q``-th percentile of the latencies, in ms (inclusive method)."""
        if len(self.latencies_ms) < 2:
            return self.latencies_ms[0] if self.latencies_ms else float("nan")
        return statistics.quantiles(self.latencies_ms, n=100, method="inclusive")[q - 1]

    def summary(self) -> str:
        """Achieved rates, p50/p95/p99/max and CPU per request on one line."""
        worst = max(self.latencies_ms, default=float("nan"))
        return (
            f"sent {self.sent_per_second:6.0f}/s, answered {self.answered_per_second:6.0f}/s; "
            f"reply p50 {self.quantile(50):7.1f} ms, p95 {self.quantile(95):7.1f} ms, "
            f"p99 {self.quantile(99):7.1f} ms, max {worst:7.1f} ms; "
            f"{self.cpu_ms:.2f} CPU ms/update; {self.missing} missing"
        )


async def send_on_schedule(
    count: int,
    rate: float,
    send: Callable[[int], Coroutine[Any, Any, object]],
    *,
    lead: float = 0.05,
) -> tuple[float, float]:
    """Start ``send(i)`` at ``start + i / rate`` whatever came back; await them all.

    Returns ``(start, last_send)`` in :func:`time.monotonic` time: a late send shows as a
    lower achieved rate and, measured from its scheduled time, as latency.
    """
    start = time.monotonic() + lead
    tasks: list[asyncio.Task[object]] = []
    for i in range(count):
        delay = start + i / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(send(i)))
    last_send = time.monotonic()
    await asyncio.gather(*tasks)
    return start, last_send


def match_replies(
    chats: Sequence[int], start: float, rate: float, replies: Sequence[tuple[int, float]]
) -> tuple[list[float], int]:
    """Latency (ms) of each request's reply, matching the ``k``-th reply to a chat to the
    ``k``-th request from it; and how many requests got none.

    Request ``i`` came from ``chats[i]`` at ``start + i / rate``. Both bots answer one
    message with one message and keep a chat's replies in order, so the ``k``-th is the answer
    to the ``k``-th (a chat sends again only long after its previous request).
    """
    arrivals: dict[int, list[float]] = defaultdict(list)
    for chat, at in replies:
        arrivals[chat].append(at)
    taken: dict[int, int] = defaultdict(int)
    latencies = []
    missing = 0
    for i, chat in enumerate(chats):
        k = taken[chat]
        taken[chat] += 1
        if k < len(arrivals[chat]):
            latencies.append((arrivals[chat][k] - (start + i / rate)) * 1000)
        else:
            missing += 1
    return latencies, missing


class ReplyLog(Protocol):
    """Where the bots' replies arrive (the fake Bot API), and when each did."""

    async def sent(self) -> int:
        """Messages received so far."""
        ...

    async def arrivals(self, start: int) -> list[tuple[int, float]]:
        """``(chat_id, monotonic time)`` of each message received after the first ``start``."""
        ...


async def fire(
    session: aiohttp.ClientSession,
    url: str,
    bodies: Sequence[bytes],
    *,
    concurrency: int,
    headers: dict[str, str],
) -> float:
    """POST every body with ``concurrency`` in flight; return the seconds it took.

    A 429 is sent again after its ``Retry-After``, as Telegram does with a webhook update the
    bot refused because its backlog was full; how many were is printed, since the wait is
    part of the time.
    """
    queue = iter(bodies)
    failures: list[int] = []
    refused = 0

    async def worker() -> None:
        nonlocal refused
        for body in queue:
            while True:
                async with session.post(url, data=body, headers=headers) as response:
                    await response.read()
                    if response.status != 429:
                        if response.status != 200:
                            failures.append(response.status)
                        break
                    refused += 1
                    wait = float(response.headers.get("Retry-After", "1"))
                await asyncio.sleep(wait)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    if failures:
        raise RuntimeError(f"{len(failures)} requests failed, e.g. HTTP {failures[0]}")
    if refused:
        print(f"  ({refused} updates were refused with 429 and sent again after Retry-After)")
    return elapsed


@dataclass
class Target:
    """A webhook under test: where to post, and how to wait until every reply is sent."""

    label: str
    url: str
    drain: Callable[[], Awaitable[None]]
    closed: list[ClosedLoop] = field(default_factory=list)
    opened: list[OpenLoop] = field(default_factory=list)


async def closed_loop(
    session: aiohttp.ClientSession,
    target: Target,
    bodies: Sequence[bytes],
    fake: ReplyLog,
    *,
    concurrency: int,
    headers: dict[str, str],
) -> ClosedLoop:
    """Post ``bodies`` with ``concurrency`` in flight; done when every reply has been sent."""
    sent_before = await fake.sent()
    cpu, started = time.process_time(), time.perf_counter()
    accepted = await fire(session, target.url, bodies, concurrency=concurrency, headers=headers)
    await target.drain()
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu
    replies = await fake.sent() - sent_before
    return ClosedLoop(len(bodies), seconds, cpu, accepted_seconds=accepted, replies=replies)


async def open_loop(
    session: aiohttp.ClientSession,
    target: Target,
    bodies: Sequence[bytes],
    chats: Sequence[int],
    fake: ReplyLog,
    *,
    rate: float,
    headers: dict[str, str],
) -> OpenLoop:
    """Post ``bodies`` at ``rate`` per second whatever the answers; time every reply."""
    sent_before = await fake.sent()
    failures: list[int] = []

    async def send(i: int) -> None:
        async with session.post(target.url, data=bodies[i], headers=headers) as response:
            await response.read()
            if response.status != 200:
                failures.append(response.status)

    cpu = time.process_time()
    start, last_send = await send_on_schedule(len(bodies), rate, send)
    with contextlib.suppress(TimeoutError):  # what is still missing then is reported so
        await asyncio.wait_for(target.drain(), timeout=30 + len(bodies) / rate * 4)
    cpu = time.process_time() - cpu
    if failures:
        raise RuntimeError(f"{len(failures)} requests failed, e.g. HTTP {failures[0]}")
    arrivals = await fake.arrivals(sent_before)
    latencies, missing = match_replies(chats, start, rate, arrivals)
    last_reply = max((at for _, at in arrivals), default=start)
    return OpenLoop(
        count=len(bodies),
        rate=rate,
        sent_per_second=len(bodies) / max(last_send - start, 1e-9),
        answered_per_second=len(latencies) / max(last_reply - start, 1e-9),
        latencies_ms=latencies,
        missing=missing,
        cpu_seconds=cpu,
    )
