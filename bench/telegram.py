"""Benchmark: Telegram webhook updates per second through the whole stack, beside bare aiohttp.

One process, one event loop, one aiohttp server with two routes:

* ``POST /bench/bare``: answers 200 and does nothing else (the ceiling: HTTP alone);
* ``POST /telegram/webhook``: the real :class:`~bot.channels.telegram.adapter.TelegramChannel` in
  webhook mode: secret check, JSON parsing, python-telegram-bot's ``Application``, the sink
  (by default the project's conversation service on a fresh SQLite file), and every reply
  sent to a fake Bot API server on 127.0.0.1 over HTTP, through the outbox (stored, sent,
  erased) as ``kyrbot serve`` sends them (``--no-outbox``: directly, as before).

The same client (aiohttp, ``--concurrency`` requests in flight) sends ``--updates`` requests to
each. The bare figure is requests answered per second; the full figure counts an update only
when its replies have reached the fake server (``update_queue.join()``). The fake Bot API runs
in a child process by default, as Telegram is elsewhere in production (``--fake loop`` runs it
in the bot's own loop). The load generator shares the loop with the server in both runs, so
absolute numbers are pessimistic; the ratio is the figure to watch.

Usage::

    .venv/bin/python bench/telegram.py [--updates 2000] [--concurrency 32] [--chats 100]
                                       [--sink conversation|sqlite-echo|null|MODULE:CALLABLE]
                                       [--fake process|loop] [--verbose] [--no-outbox]

A custom sink is ``MODULE:CALLABLE`` where ``CALLABLE(config, workdir)`` returns an async context
manager yielding a sink: anything with the conversation service's ``handle`` and
``contact_unreachable``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import itertools
import json
import logging
import multiprocessing
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# Run as a script, Python puts bench/ first on the path, where this very file would shadow
# the `telegram` package; put the project root there instead (for `bot` and `tests.fakes`).
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
from aiohttp import web  # noqa: E402

from bot.app import channel_callbacks  # noqa: E402
from bot.channels.outbox import OutboxSender  # noqa: E402
from bot.channels.telegram.adapter import TelegramChannel  # noqa: E402
from bot.channels.telegram.webhook import SECRET_HEADER, WEBHOOK_PATH  # noqa: E402
from bot.config import Config, parse_config  # noqa: E402
from bot.messages import Address, Choice, Inbound, Reply  # noqa: E402
from bot.routes import Route  # noqa: E402
from bot.web import WebServer, build_web_app  # noqa: E402
from tests.fakes.telegram_server import FAKE_TOKEN, FakeBotApi  # noqa: E402

SinkFactory = Callable[[Config, Path], AbstractAsyncContextManager[Any]]

SECRET = "bench_secret-0123456789"
INPUTS = ("/start", "hola", "¿qué es una orden judicial?", "1", "menú", "sop 130", "ayuda")
"""What the simulated people type, in turn (Spanish, as most users write)."""


# -- sinks ----------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def conversation_sink(config: Config, workdir: Path) -> AsyncIterator[Any]:
    """The project's conversation service with its real content, on a fresh SQLite file."""
    # Imported here so the other sinks still run when the service is broken mid-change.
    from bot.conversation.service import ConversationService
    from bot.conversation.version import load_content
    from bot.privacy import AddressVault
    from bot.storage import open_storage

    storage = open_storage(
        f"sqlite+aiosqlite:///{workdir / 'bench.sqlite3'}", vault=AddressVault.throwaway()
    )
    await storage.open()
    try:
        yield ConversationService(
            content=load_content(config),
            storage=storage,
            organization=config.organization,
            last_reviewed=config.content.last_reviewed,
        )
    finally:
        await storage.close()


class SqliteEchoSink:
    """A stand-in with the conversation service's I/O shape: dedup row, session read/write.

    Useful when the real service is broken or to see the adapter's own cost.
    """

    def __init__(self, db: Any) -> None:
        self._db = db
        self._lock = asyncio.Lock()

    async def handle(self, inbound: Inbound) -> Sequence[Reply]:
        async with self._lock:  # one aiosqlite connection: keep statements in order
            cursor = await self._db.execute(
                "INSERT OR IGNORE INTO seen(channel, id) VALUES (?, ?)",
                (inbound.address.channel, inbound.message_id),
            )
            if cursor.rowcount == 0:
                return ()
            await self._db.execute(
                "INSERT INTO session(address, node) VALUES (?, 'menu') "
                "ON CONFLICT(address) DO UPDATE SET node = 'menu'",
                (f"{inbound.address.channel}:{inbound.address.id}",),
            )
            await self._db.commit()
        return (
            Reply(
                text="SOP 130 es una regla de la policía de Milwaukee. ¿Qué quieres saber?",
                choices=(Choice("what", "Qué dice SOP 130"), Choice("warrants", "Órdenes")),
                nav=(Choice("menu", "Menú"), Choice("lang", "English")),
                locale="es",
            ),
        )

    async def contact_unreachable(self, address: Address, *, opted_out: bool) -> None:
        """Nothing to record in a benchmark."""

    async def delivery_status(
        self, channel: str, provider_id: str, status: str, error_code: str | None
    ) -> None:
        """Telegram sends no delivery reports."""


@contextlib.asynccontextmanager
async def sqlite_echo_sink(_config: Config, workdir: Path) -> AsyncIterator[Any]:
    """:class:`SqliteEchoSink` on a fresh SQLite file."""
    import aiosqlite  # only this sink needs it

    async with aiosqlite.connect(workdir / "echo.sqlite3") as db:
        await db.execute("PRAGMA journal_mode=WAL")
        await db.execute("PRAGMA synchronous=NORMAL")  # WAL-safe; no fsync per commit
        await db.execute("CREATE TABLE seen(channel TEXT, id TEXT, PRIMARY KEY(channel, id))")
        await db.execute("CREATE TABLE session(address TEXT PRIMARY KEY, node TEXT)")
        yield SqliteEchoSink(db)


class NullSink:
    """Answers every event with one menu and touches nothing: the adapter's own cost."""

    async def handle(self, inbound: Inbound) -> Sequence[Reply]:
        return (Reply(text="SOP 130: ¿qué quieres saber?", choices=(Choice("what", "Qué"),)),)

    async def contact_unreachable(self, address: Address, *, opted_out: bool) -> None:
        """Nothing to record in a benchmark."""

    async def delivery_status(
        self, channel: str, provider_id: str, status: str, error_code: str | None
    ) -> None:
        """Telegram sends no delivery reports."""


@contextlib.asynccontextmanager
async def null_sink(_config: Config, _workdir: Path) -> AsyncIterator[Any]:
    """:class:`NullSink`."""
    yield NullSink()


SINKS: dict[str, SinkFactory] = {
    "null": null_sink,
    "conversation": conversation_sink,
    "sqlite-echo": sqlite_echo_sink,
}


def resolve_sink(name: str) -> SinkFactory:
    """A named sink, or ``MODULE:CALLABLE``."""
    if name in SINKS:
        return SINKS[name]
    module, _, attribute = name.partition(":")
    if not attribute:
        raise SystemExit(f"--sink: {name!r} is neither {sorted(SINKS)} nor MODULE:CALLABLE")
    factory: SinkFactory = getattr(importlib.import_module(module), attribute)
    return factory


# -- the fake Bot API, in this loop or in a child process -----------------------------------


class FakeHandle:
    """Where the fake Bot API listens, and how many messages it has received."""

    def __init__(self, port: int) -> None:
        self.base_url = f"http://127.0.0.1:{port}/bot"

    async def sent(self) -> int:
        """Messages received so far."""
        raise NotImplementedError

    async def close(self) -> None:
        """Stop the fake."""


class LoopFake(FakeHandle):
    """The fake in the benchmark's own event loop."""

    def __init__(self, fake: FakeBotApi) -> None:
        assert fake.port is not None
        super().__init__(fake.port)
        self._fake = fake

    async def sent(self) -> int:
        return len(self._fake.sent)

    async def close(self) -> None:
        await self._fake.stop()


def _serve_fake(conn: Connection) -> None:
    """Child process: run a fake, answer "count" and "stop" over ``conn``."""

    async def serve() -> None:
        async with FakeBotApi() as fake:
            conn.send(fake.port)
            loop = asyncio.get_running_loop()
            while True:
                command = await loop.run_in_executor(None, conn.recv)
                conn.send(len(fake.sent))
                if command == "stop":
                    return

    asyncio.run(serve())


class ProcessFake(FakeHandle):
    """The fake in a child process, off the bot's event loop and CPU."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_serve_fake, args=(child,), daemon=True)
        self._process.start()
        super().__init__(self._conn.recv())

    async def _ask(self, command: str) -> int:
        self._conn.send(command)
        answer: int = await asyncio.get_running_loop().run_in_executor(None, self._conn.recv)
        return answer

    async def sent(self) -> int:
        return await self._ask("count")

    async def close(self) -> None:
        await self._ask("stop")
        self._process.join(timeout=5)


async def start_fake(where: str) -> FakeHandle:
    """A running fake Bot API, ``where`` being "process" or "loop"."""
    if where == "process":
        return ProcessFake()
    fake = FakeBotApi()
    await fake.start()
    return LoopFake(fake)


# -- load -----------------------------------------------------------------------------------


async def fire(
    session: aiohttp.ClientSession,
    url: str,
    bodies: Sequence[bytes],
    *,
    concurrency: int,
    headers: dict[str, str],
) -> float:
    """POST every body with ``concurrency`` in flight; return the seconds it took."""
    queue = iter(bodies)
    failures: list[int] = []

    async def worker() -> None:
        for body in queue:
            async with session.post(url, data=body, headers=headers) as response:
                await response.read()
                if response.status != 200:
                    failures.append(response.status)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    if failures:
        raise RuntimeError(f"{len(failures)} requests failed, e.g. HTTP {failures[0]}")
    return elapsed


def make_updates(builder: FakeBotApi, count: int, chats: int, first_chat: int) -> list[bytes]:
    """``count`` text updates spread over ``chats`` people, each walking through INPUTS."""
    bodies = []
    for n, text in zip(range(count), itertools.cycle(INPUTS), strict=False):
        chat = first_chat + n % chats
        update = builder.text_update(chat, text, language_code="es-419")
        bodies.append(json.dumps(update).encode())
    return bodies


async def run(args: argparse.Namespace) -> dict[str, float]:
    """Run both measurements and return the figures."""
    factory = resolve_sink(args.sink)
    builder = FakeBotApi()  # builds update JSON; its server is not started
    fake = await start_fake(args.fake)
    config = parse_config(
        {
            "locales": ["en", "es"],
            "default_locale": "es",
            "server": {"public_url": "https://bench.invalid"},
            "content": {
                "dialogs_dir": str(ROOT / "dialogs"),
                "locales_dir": str(ROOT / "locales"),
            },
            "telegram": {"token": FAKE_TOKEN, "base_url": fake.base_url, "webhook_secret": SECRET},
        }
    )
    channel = TelegramChannel(config)

    async def bare(_request: web.Request) -> web.Response:
        return web.Response(status=200, text="ok")

    routes = [*channel.routes(), Route("POST", "/bench/bare", bare)]
    server = WebServer(
        build_web_app(routes, max_body_bytes=config.server.max_body_bytes),
        host="127.0.0.1",
        port=0,
    )
    await server.start()
    base = f"http://127.0.0.1:{server.port}"
    headers = {SECRET_HEADER: SECRET, "Content-Type": "application/json"}
    try:
        with tempfile.TemporaryDirectory(prefix="kyrbot-bench-") as tmp:
            async with (
                factory(config, Path(tmp)) as sink,
                aiohttp.ClientSession(
                    connector=aiohttp.TCPConnector(limit=args.concurrency)
                ) as session,
            ):
                outbox = None
                storage = getattr(sink, "storage", None)
                if storage is not None and not args.no_outbox:  # replies as serve sends them
                    outbox = OutboxSender(storage.outbox, {"telegram": channel})
                await channel.start(channel_callbacks(sink, outbox=outbox))

                # Warm up connection pools, SQLite and the content caches.
                warmup = make_updates(builder, 50, 10, first_chat=10_000_000)
                await fire(session, base + WEBHOOK_PATH, warmup, concurrency=4, headers=headers)
                await channel.drain()
                await fire(session, base + "/bench/bare", warmup, concurrency=4, headers={})

                bodies = make_updates(builder, args.updates, args.chats, first_chat=20_000_000)
                bare_s = await fire(
                    session, base + "/bench/bare", bodies, concurrency=args.concurrency, headers={}
                )
                sent_before = await fake.sent()
                started = time.perf_counter()
                accepted_s = await fire(
                    session,
                    base + WEBHOOK_PATH,
                    bodies,
                    concurrency=args.concurrency,
                    headers=headers,
                )
                await channel.drain()  # every update handled and its replies sent
                full_s = time.perf_counter() - started
                replies = await fake.sent() - sent_before
                await channel.stop()  # while the sink is still open
    finally:
        await channel.stop()
        await server.stop()
        await fake.close()
    return {
        "bare_per_s": args.updates / bare_s,
        "accepted_per_s": args.updates / accepted_s,
        "full_per_s": args.updates / full_s,
        "replies": replies,
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments, run, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--updates", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--chats", type=int, default=100, help="distinct people sending")
    parser.add_argument(
        "--sink",
        default="conversation",
        help="conversation, sqlite-echo, null, or MODULE:CALLABLE",
    )
    parser.add_argument("--fake", choices=["process", "loop"], default="process")
    parser.add_argument("--verbose", action="store_true", help="show warnings from the bot")
    parser.add_argument(
        "--no-outbox", action="store_true", help="send replies directly, as before the outbox"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING if args.verbose else logging.ERROR)

    figures = asyncio.run(run(args))
    bare, full = figures["bare_per_s"], figures["full_per_s"]
    print(
        f"Telegram webhook benchmark: {args.updates} updates, {args.chats} chats, "
        f"{args.concurrency} in flight, sink={args.sink}, fake Bot API in {args.fake}"
    )
    print(f"  bare aiohttp handler (200 only)        {bare:9.0f} requests/s")
    print(f"  webhook accepted (secret, parse, queue) {figures['accepted_per_s']:8.0f} updates/s")
    print(
        f"  webhook through the whole stack        {full:9.0f} updates/s "
        f"({figures['replies']:.0f} replies sent to the fake Bot API)"
    )
    print(f"  ratio whole stack / bare               {full / bare:9.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
