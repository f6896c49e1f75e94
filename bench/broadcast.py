"""Benchmark: broadcast fan-out speed, peak memory, and rate-limit accuracy (SQLite by default).

Three figures, each measured in a fresh child process (so peak memory is that run's alone):

* **throughput**: deliveries per second with no rate limit for ``--subscribers`` (10,000)
  subscribers: writing delivery rows, claiming, sending, recording, start to finish;
* **memory**: peak resident memory (``ru_maxrss``) sending to ``--memory-subscribers``
  (100,000), beside the process's size just before sending started;
* **rate**: with a limit of ``--limit`` messages/s, the achieved rate over the limit for
  ``--limit-subscribers`` (1,000) subscribers.

By default messages go through the real :class:`~bot.channels.telegram.adapter.TelegramChannel`
(python-telegram-bot over HTTP) to the fake Bot API running in another process, as Telegram
is elsewhere in production; ``--channel null`` measures the pipeline alone. The memory run
sends 100,000 real HTTP requests too (about two minutes); ``--memory-channel null`` makes it
quick.

Usage::

    .venv/bin/python -m bench.broadcast [--subscribers 10000] [--memory-subscribers 100000]
        [--limit 100] [--limit-subscribers 1000] [--channel telegram|null]
        [--memory-channel telegram|null] [--url DATABASE_URL]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, ClassVar

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# Run as a script, Python puts bench/ first on the path, where bench/telegram.py would shadow
# the `telegram` package; put the project root there instead.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from bot.broadcast.runner import BroadcastRunner  # noqa: E402
from bot.broadcast.service import BroadcastService  # noqa: E402
from bot.channels.base import Channel, ChannelCallbacks, DeliveryAttempt  # noqa: E402
from bot.channels.capabilities import Capabilities  # noqa: E402
from bot.config import parse_config  # noqa: E402
from bot.messages import Address, Reply  # noqa: E402
from bot.privacy import AddressVault  # noqa: E402
from bot.storage import SqlStorage  # noqa: E402
from bot.storage.sql.tables import contacts  # noqa: E402

TEXTS = {
    "en": "SOP 130 update: the Fire and Police Commission votes on Thursday. Reply MENU.",
    "es": "Novedad de la SOP 130: la Comisión de Bomberos y Policía vota el jueves. Envíe MENÚ.",
}


class NullChannel(Channel):
    """Accepts every message at once: the fan-out pipeline with no provider cost."""

    name: ClassVar[str] = "telegram"
    capabilities = Capabilities(buttons=False, max_text_length=4096)

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    async def start(self, callbacks: ChannelCallbacks) -> None:
        return None

    async def stop(self) -> None:
        return None

    def _render(self, reply: Reply) -> tuple[Reply, ...]:
        return (reply,)

    async def _deliver(self, address: Address, part: Reply, attempt: DeliveryAttempt) -> str:
        await asyncio.sleep(0)
        self.count += 1
        return str(self.count)

    def _map_error(self, error: Exception, attempt: DeliveryAttempt) -> None:
        return None


def _serve_fake(conn: Connection) -> None:
    """Child process: a fake Bot API; sends its port, then waits for "stop"."""
    from tests.fakes.telegram_server import FakeBotApi

    async def serve() -> None:
        async with FakeBotApi() as fake:
            conn.send(fake.port)
            await asyncio.get_running_loop().run_in_executor(None, conn.recv)
            conn.send(len(fake.sent))

    asyncio.run(serve())


def _rss_mb() -> float:
    with open("/proc/self/statm", encoding="ascii") as statm:
        pages = int(statm.read().split()[1])
    return pages * resource.getpagesize() / 2**20


async def _add_subscribers(storage: SqlStorage, count: int) -> None:
    """``count`` subscribed Telegram contacts, half Spanish, written in bulk."""
    today = datetime.now(UTC).date()
    now = datetime.now(UTC)
    vault = storage.database.vault
    async with storage.engine.begin() as conn:
        for start in range(0, count, 5000):
            addresses = [
                Address("telegram", str(10_000_000 + n))
                for n in range(start, min(count, start + 5000))
            ]
            rows = [
                {
                    "channel": "telegram",
                    "address_hash": vault.lookup(address),
                    "address_cipher": vault.seal(address),
                    "locale": "es" if n % 2 else "en",
                    "subscribed": True,
                    "consent_at": now,
                    "last_seen_day": today,
                }
                for n, address in enumerate(addresses, start=start)
            ]
            await conn.execute(sa.insert(contacts), rows)


async def scenario(
    *, subscribers: int, limit: float | None, channel_kind: str, url: str | None
) -> dict[str, Any]:
    """One measured fan-out; returns its figures."""
    with tempfile.TemporaryDirectory(prefix="kyrbot-bench-") as tmp:
        db = url or f"sqlite+aiosqlite:///{Path(tmp) / 'bench.sqlite3'}"
        fake_conn = process = None
        telegram: dict[str, Any] = {"messages_per_second": limit or 1_000_000}
        if channel_kind == "telegram":
            from tests.fakes.telegram_server import FAKE_TOKEN

            context = multiprocessing.get_context("spawn")
            fake_conn, child = context.Pipe()
            process = context.Process(target=_serve_fake, args=(child,), daemon=True)
            process.start()
            port = fake_conn.recv()
            telegram.update(token=FAKE_TOKEN, base_url=f"http://127.0.0.1:{port}/bot")
        config = parse_config({"locales": ["en", "es"], "telegram": telegram})
        storage = SqlStorage(db, vault=AddressVault.throwaway())
        await storage.open()
        channel: Channel
        if channel_kind == "telegram":
            from bot.channels.telegram.adapter import TelegramChannel

            channel = TelegramChannel(config)
        else:
            channel = NullChannel()
        try:
            await _add_subscribers(storage, subscribers)
            service = BroadcastService(storage, config)
            broadcast = await service.create("cli:bench", TEXTS)
            await service.start("cli:bench", broadcast.id)
            runner = BroadcastRunner(
                storage, {"telegram": channel}, config, rates={"telegram": limit}
            )
            done_at: list[float] = []
            send = channel.send

            async def timed_send(address: Address, reply: Reply, **options: Any) -> str:
                result = await send(address, reply, **options)
                done_at.append(time.perf_counter())
                return result

            channel.send = timed_send  # type: ignore[method-assign]
            before = _rss_mb()
            started = time.perf_counter()
            await runner.send_to_end(broadcast.id)
            elapsed = time.perf_counter() - started
            report = await service.report(broadcast.id)
        finally:
            await channel.stop()
            await storage.close()
            if fake_conn is not None and process is not None:
                fake_conn.send("stop")
                fake_conn.recv()
                process.join(timeout=5)
    sent = report.summary()["sent"]
    achieved = (len(done_at) - 1) / (done_at[-1] - done_at[0]) if len(done_at) > 1 else 0.0
    return {
        "subscribers": subscribers,
        "sent": sent,
        "seconds": elapsed,
        "per_second": sent / elapsed,
        "achieved_per_second": achieved,
        "limit": limit,
        "rss_before_mb": before,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "channel": channel_kind,
        "database": SqlStorage(db, vault=AddressVault.throwaway()).dialect_name,
    }


def _child(args: Sequence[str]) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, "-m", "bench.broadcast", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise SystemExit(f"benchmark child failed:\n{result.stderr}")
    data: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--memory-subscribers", type=int, default=100_000)
    parser.add_argument("--limit", type=float, default=100.0)
    parser.add_argument("--limit-subscribers", type=int, default=1_000)
    parser.add_argument("--channel", choices=["telegram", "null"], default="telegram")
    parser.add_argument("--memory-channel", choices=["telegram", "null"], default="telegram")
    parser.add_argument("--url", help="database URL (default: a fresh SQLite file)")
    parser.add_argument("--scenario", help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--rate", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.scenario:  # in a child process: one measurement, printed as JSON
        figures = asyncio.run(
            scenario(subscribers=args.n, limit=args.rate, channel_kind=args.scenario, url=args.url)
        )
        print(json.dumps(figures))
        return

    url = ["--url", args.url] if args.url else []
    fast = _child(["--scenario", args.channel, "--n", str(args.subscribers), *url])
    print(
        f"throughput: {fast['per_second']:,.0f} deliveries/s with no rate limit "
        f"({fast['sent']:,} subscribers in {fast['seconds']:.1f} s; channel {fast['channel']}, "
        f"{fast['database']}; target >= 300/s)"
    )
    big = _child(["--scenario", args.memory_channel, "--n", str(args.memory_subscribers), *url])
    print(
        f"memory: peak RSS {big['peak_rss_mb']:.0f} MB sending to {big['sent']:,} subscribers "
        f"(process before sending: {big['rss_before_mb']:.0f} MB; {big['per_second']:,.0f} "
        f"deliveries/s; channel {big['channel']}; target < 200 MB)"
    )
    paced = _child(
        [
            "--scenario", args.channel, "--n", str(args.limit_subscribers),
            "--rate", str(args.limit), *url,
        ]
    )  # fmt: skip
    ratio = paced["achieved_per_second"] / args.limit
    print(
        f"rate: limit {args.limit:g}/s, achieved {paced['achieved_per_second']:.1f}/s = "
        f"{ratio:.3f} of the limit ({paced['sent']:,} subscribers; target >= 0.95)"
    )


if __name__ == "__main__":
    main()
