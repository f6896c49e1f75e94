"""Benchmark: relay latency person -> volunteers' group -> person, through the whole stack.

One process, one event loop. A Spanish SMS person opens a ticket, then, for each round,
sends an SMS (a signed Twilio webhook to the real web server); the bot relays it to the
volunteers' group on the fake Bot API; a volunteer replies to it there (an update the real
python-telegram-bot client fetches by long polling); the bot sends the answer to the person
by Twilio's REST API (the fake Twilio server). A round's latency runs from the webhook request
leaving the "phone" to the answer's REST request reaching the fake Twilio server.

The group's 20-messages-a-minute pacing runs on a virtual timer here: it would otherwise be
the only thing measured (one message every three seconds); under a flood it adds queueing,
not work. Everything else is real: SQLite file, catalogs, the engine, both adapters.

Usage::

    .venv/bin/python bench/handoff.py [--rounds 200] [--tickets 4]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# Run as a script, Python puts bench/ first on the path; put the project root there instead.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bot.config import parse_config  # noqa: E402
from bot.conversation.version import load_content  # noqa: E402
from tests.handoff.world import ANA, GROUP, HandoffWorld, ticket_of  # noqa: E402


async def until(predicate: Callable[[], bool], within: float = 10.0) -> None:
    """Wait for ``predicate`` in 0.5 ms steps (the measurement's resolution)."""
    deadline = time.perf_counter() + within
    while not predicate():
        if time.perf_counter() > deadline:
            raise TimeoutError("the relay did not complete")
        await asyncio.sleep(0.0005)


legs_in: list[float] = []
"""Person -> group: the webhook until the relayed message reached the fake Bot API."""
legs_out: list[float] = []
"""Group -> person: the volunteer's reply pushed until the answer reached the fake Twilio."""


async def run(rounds: int, tickets: int) -> list[float]:
    """Round-trip latencies in seconds, one per round."""
    config = parse_config(
        {"content": {"dialogs_dir": str(ROOT / "dialogs"), "locales_dir": str(ROOT / "locales")}}
    )
    content = load_content(config)
    numbers = [f"+1414555{100 + n:04d}" for n in range(tickets)]
    latencies: list[float] = []
    legs_in.clear()
    legs_out.clear()
    with tempfile.TemporaryDirectory() as workdir:
        async with HandoffWorld(Path(workdir), content) as world:
            for number in numbers:
                await world.text("hola", sender=number)
                await world.text("voluntario", sender=number)
            await world.wait_for_group(tickets)
            for n in range(rounds):
                number = numbers[n % tickets]
                group_before = len(world.telegram.sent_to(GROUP))
                sms_before = len(world.sms_to(number))
                start = time.perf_counter()
                answer = await world.text(f"Pregunta número {n}", sender=number)
                assert answer == []
                await until(lambda: len(world.telegram.sent_to(GROUP)) > group_before)  # noqa: B023 - awaited at once
                legs_in.append(time.perf_counter() - start)
                relayed = world.telegram.sent_to(GROUP)[-1]
                assert ticket_of(relayed)
                world.telegram.push_update(
                    world.telegram.text_update(
                        GROUP,
                        f"Respuesta {n}",
                        chat_type="supergroup",
                        user_id=ANA,
                        reply_to=relayed,
                    )
                )
                pushed = time.perf_counter()
                await until(lambda: len(world.sms_to(number)) > sms_before)  # noqa: B023 - awaited at once
                legs_out.append(time.perf_counter() - pushed)
                latencies.append(time.perf_counter() - start)
    return latencies


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments, run, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--tickets", type=int, default=4, help="people with open tickets")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    latencies = asyncio.run(run(args.rounds, args.tickets))
    ms = [1000 * s for s in latencies]
    print(f"relay round trip person -> group -> person, {len(ms)} rounds, {args.tickets} tickets")
    print(f"  p50  {percentile(ms, 0.50):7.1f} ms")
    print(f"  p90  {percentile(ms, 0.90):7.1f} ms")
    print(f"  p99  {percentile(ms, 0.99):7.1f} ms   (target < 200 ms)")
    print(f"  max  {max(ms):7.1f} ms   mean {statistics.fmean(ms):.1f} ms")
    print(
        f"  legs (p50): person -> group {1000 * statistics.median(legs_in):.1f} ms, "
        f"group -> person {1000 * statistics.median(legs_out):.1f} ms"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
