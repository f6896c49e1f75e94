"""Benchmark: Telegram webhook updates per second through the whole stack, beside bare aiohttp.

One process, one event loop, one aiohttp server with two routes:

* ``POST /bench/bare``: answers 200 and does nothing else (the ceiling: HTTP alone);
* ``POST /telegram/webhook``: the real :class:`~bot.channels.telegram.adapter.TelegramChannel` in
  webhook mode: secret check, JSON parsing, python-telegram-bot's ``Application``, the sink
  (by default the project's conversation service on a fresh SQLite file), and every reply
  sent to a fake Bot API server on 127.0.0.1 over HTTP, through the outbox (stored, sent,
  erased) as ``kyrbot serve`` sends them (``--no-outbox``: directly, as before).

With ``--peer``, the same server also runs what a Python developer would write instead
(:mod:`bench.peers.telegram_peer`: python-telegram-bot 22 in webhook mode behind an aiohttp
route, one handler, a per-chat SQLite write, a three-button keyboard), once with PTB's
one-update-at-a-time default and once with ``concurrent_updates(True)`` (``--peer-mode``),
against the same fake Bot API and fed the very same updates.

The same client (aiohttp, ``--concurrency`` requests in flight) sends ``--updates`` requests to
each. The bare figure is requests answered per second; the full figure counts an update only
when its replies have reached the fake server (``update_queue.join()``). CPU ms per update is
this process's CPU time over the phase divided by the updates: server, bot and load generator
together (the bare line shows what the client and HTTP alone cost). The fake Bot API runs in a
child process by default, as Telegram is elsewhere in production (``--fake loop`` runs it in
the bot's own loop). The load generator shares the loop with the server in every run, so
absolute numbers are pessimistic; the ratios are the figures to watch. ``--rounds`` repeats
the whole measurement, rotating which bot goes first.

``--rate R --seconds S`` measures an open loop instead: ``R * S`` updates sent at fixed times
whatever the answers, each reply timed from its update's scheduled send to its arrival at the
fake Bot API; printed are the achieved rates and the reply p50/p95/p99 (target for kyrbot:
250 updates/s with p99 under 100 ms).

Usage::

    .venv/bin/python bench/telegram.py [--updates 2000] [--concurrency 32] [--chats 100]
                                       [--sink conversation|sqlite-echo|null|MODULE:CALLABLE]
                                       [--fake process|loop] [--verbose] [--no-outbox]
                                       [--peer] [--peer-mode sequential|concurrent|both]
                                       [--rounds 1] [--rate R --seconds S]

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
import statistics
import sys
import tempfile
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager
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

from bench.peers.botapi import FakeHandle, start_fake  # noqa: E402
from bench.peers.measure import Target, closed_loop, fire, open_loop  # noqa: E402
from bench.peers.telegram_peer import WEBHOOK_PATH as PEER_PATH  # noqa: E402
from bench.peers.telegram_peer import PeerBot  # noqa: E402
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


# -- load -----------------------------------------------------------------------------------


def make_updates(builder: FakeBotApi, count: int, chats: int, first_chat: int) -> list[bytes]:
    """``count`` text updates spread over ``chats`` people, each walking through INPUTS."""
    bodies = []
    for n, text in zip(range(count), itertools.cycle(INPUTS), strict=False):
        update = builder.text_update(chat_of(n, chats, first_chat), text, language_code="es-419")
        bodies.append(json.dumps(update).encode())
    return bodies


def chat_of(n: int, chats: int, first_chat: int) -> int:
    """The chat update ``n`` of :func:`make_updates` comes from."""
    return first_chat + n % chats


PEER_MODES = {"sequential": False, "concurrent": True}
PEER_LABELS = {
    "sequential": "peer: PTB 22, one update at a time",
    "concurrent": "peer: PTB 22, concurrent_updates",
}


async def _nothing() -> None:
    """Nothing to wait for: the bare handler sends no reply."""


async def run(args: argparse.Namespace) -> tuple[Target, list[Target]]:
    """Measure the bare handler, kyrbot and the peers; return them with their figures."""
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

    async def bare_handler(_request: web.Request) -> web.Response:
        return web.Response(status=200, text="ok")

    routes = [*channel.routes(), Route("POST", "/bench/bare", bare_handler)]
    server = WebServer(
        build_web_app(routes, max_body_bytes=config.server.max_body_bytes),
        host="127.0.0.1",
        port=0,
    )
    await server.start()
    base = f"http://127.0.0.1:{server.port}"
    headers = {SECRET_HEADER: SECRET, "Content-Type": "application/json"}
    bare = Target("bare aiohttp handler (200 only)", base + "/bench/bare", _nothing)
    outbox_note = "" if args.no_outbox else ", outbox"
    kyrbot = Target(f"kyrbot (sink={args.sink}{outbox_note})", base + WEBHOOK_PATH, channel.drain)
    targets = [kyrbot]
    try:
        with tempfile.TemporaryDirectory(prefix="kyrbot-bench-") as tmp:
            async with contextlib.AsyncExitStack() as stack:
                sink = await stack.enter_async_context(factory(config, Path(tmp)))
                session = await stack.enter_async_context(
                    aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=args.concurrency))
                )
                unlimited = await stack.enter_async_context(
                    aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
                )
                outbox = None
                storage = getattr(sink, "storage", None)
                if storage is not None and not args.no_outbox:  # replies as serve sends them
                    outbox = OutboxSender(storage.outbox, {"telegram": channel})
                await channel.start(channel_callbacks(sink, outbox=outbox))
                stack.push_async_callback(channel.stop)  # while the sink is still open
                for mode in _peer_modes(args):
                    targets.append(await _start_peer(stack, mode, fake.base_url, Path(tmp)))

                # Warm up connection pools, SQLite and the content caches.
                warmup = make_updates(builder, 50, 10, first_chat=10_000_000)
                for target in [bare, *targets]:
                    for client in (session, unlimited):
                        await fire(client, target.url, warmup, concurrency=4, headers=headers)
                        await target.drain()
                for round_ in range(args.rounds):
                    await _round(args, round_, builder, fake, bare, targets, session, unlimited)
    finally:
        await channel.stop()
        await server.stop()
        await fake.close()
    return bare, targets


def _peer_modes(args: argparse.Namespace) -> list[str]:
    if not args.peer:
        return []
    return list(PEER_MODES) if args.peer_mode == "both" else [args.peer_mode]


async def _start_peer(
    stack: contextlib.AsyncExitStack, mode: str, base_url: str, workdir: Path
) -> Target:
    """Start a peer in ``mode`` on its own aiohttp server in this loop, stopped by ``stack``."""
    peer = PeerBot(
        token=FAKE_TOKEN,
        base_url=base_url,
        secret=SECRET,
        database=workdir / f"peer-{mode}.sqlite3",
        concurrent=PEER_MODES[mode],
    )
    await peer.start()
    stack.push_async_callback(peer.stop)
    runner = web.AppRunner(peer.web_app(), access_log=None)
    await runner.setup()
    stack.push_async_callback(runner.cleanup)
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return Target(PEER_LABELS[mode], f"http://127.0.0.1:{port}{PEER_PATH}", peer.drain)


async def _round(
    args: argparse.Namespace,
    round_: int,
    builder: FakeBotApi,
    fake: FakeHandle,
    bare: Target,
    targets: list[Target],
    session: aiohttp.ClientSession,
    unlimited: aiohttp.ClientSession,
) -> None:
    """One round: every target fed the same fresh updates, the first one rotating."""
    headers = {SECRET_HEADER: SECRET, "Content-Type": "application/json"}
    turn = round_ % len(targets)
    order = targets[turn:] + targets[:turn]
    first_chat = (30_000_000 if args.rate else 20_000_000) + round_ * 1_000_000
    if args.rate:
        count = round(args.rate * args.seconds)
        bodies = make_updates(builder, count, args.chats, first_chat)
        chats = [chat_of(n, args.chats, first_chat) for n in range(count)]
        for target in order:
            result = await open_loop(
                unlimited, target, bodies, chats, fake, rate=args.rate, headers=headers
            )
            target.opened.append(result)
        return
    bodies = make_updates(builder, args.updates, args.chats, first_chat)
    kwargs: dict[str, Any] = {"concurrency": args.concurrency}
    bare.closed.append(await closed_loop(session, bare, bodies, fake, headers={}, **kwargs))
    for target in order:
        target.closed.append(
            await closed_loop(session, target, bodies, fake, headers=headers, **kwargs)
        )


def report(args: argparse.Namespace, bare: Target, targets: list[Target]) -> None:
    """Print every round's figures, then the medians and the ratios to the peers."""
    kyrbot, peers = targets[0], targets[1:]
    width = max(len(target.label) for target in [bare, *targets]) + 2
    for round_ in range(args.rounds):
        if args.rate:
            print(
                f"Round {round_ + 1} of {args.rounds}, open loop: {args.rate:g} updates/s for "
                f"{args.seconds:g} s, {args.chats} chats, fake Bot API in {args.fake}"
            )
            for target in targets:
                print(f"  {target.label:<{width}} {target.opened[round_].summary()}")
            continue
        print(
            f"Round {round_ + 1} of {args.rounds}, closed loop: {args.updates} updates, "
            f"{args.chats} chats, {args.concurrency} in flight, fake Bot API in {args.fake}"
        )
        print(f"  {'':<{width}} updates/s  CPU ms/update  ratio to bare  replies")
        base = bare.closed[round_]
        for target in [bare, *targets]:
            phase = target.closed[round_]
            replies = f"{phase.replies:8d}" if target is not bare else ""
            print(
                f"  {target.label:<{width}} {phase.per_second:9.0f}  {phase.cpu_ms:13.2f}"
                f"  {phase.per_second / base.per_second:13.3f}  {replies}"
            )
            if target is kyrbot:
                accepted = phase.count / phase.accepted_seconds
                print(f"  {'  accepted (secret, parse, queue)':<{width}} {accepted:9.0f}")
        for peer in peers:
            ratio = kyrbot.closed[round_].per_second / peer.closed[round_].per_second
            print(f"  kyrbot / {peer.label}: {ratio:.2f}")
    if args.rounds > 1:
        print(f"Medians of {args.rounds} rounds:")
        for target in ([] if args.rate else [bare]) + targets:
            print(f"  {target.label:<{width}} {_medians(args, target)}")


def _medians(args: argparse.Namespace, target: Target) -> str:
    if args.rate:
        p99 = statistics.median(phase.quantile(99) for phase in target.opened)
        answered = statistics.median(phase.answered_per_second for phase in target.opened)
        return f"answered {answered:.0f}/s, reply p99 {p99:.1f} ms"
    rate = statistics.median(phase.per_second for phase in target.closed)
    cpu = statistics.median(phase.cpu_ms for phase in target.closed)
    return f"{rate:.0f} updates/s, {cpu:.2f} CPU ms/update"


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
    parser.add_argument("--peer", action="store_true", help="measure the PTB peer too")
    parser.add_argument(
        "--peer-mode", choices=[*PEER_MODES, "both"], default="both", help="with --peer"
    )
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--rate", type=float, default=0.0, help="open loop: updates/s")
    parser.add_argument("--seconds", type=float, default=10.0, help="open loop: how long")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING if args.verbose else logging.ERROR)
    report(args, *asyncio.run(run(args)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
