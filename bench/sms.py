"""Inbound SMS webhooks/s through the whole stack, beside a bare aiohttp handler, plus latency.

Run: ``.venv/bin/python bench/sms.py [--sink service|trivial] [--seconds 5] [--concurrency 32]
[--peer]``.

Two servers run in their own processes, so the load generator (this process) does not share
their event loop:

* **full stack**: the bot's web server with the SMS routes. Every request carries a valid
  ``X-Twilio-Signature``; the adapter checks it, parses the form, matches keywords, passes
  the event to the sink, renders the replies and answers TwiML.
* **bare**: a plain aiohttp handler that answers a fixed TwiML document;
* **peer** (with ``--peer``): what a Python developer would write instead,
  :mod:`bench.peers.sms_peer` (aiohttp, twilio's ``RequestValidator`` on every request, a
  per-sender SQLite write, a ``MessagingResponse``), fed the very same signed requests as the
  full stack. Target (issue: reliability): full stack >= 0.8 of the peer.

The sink is pluggable: a *sink factory* is any callable ``(Config) -> async context manager
yielding a sink``: anything with the conversation service's ``handle`` and
``contact_unreachable``. ``service`` (the default) is the real conversation service on a
fresh SQLite file; ``trivial`` answers a fixed menu and measures the adapter alone.

During the full-load phases the load generator's event loop polls instead of sleeping. Real
webhooks arrive from the network; a client on this machine that sleeps between answers must
be woken by every response the server sends, and that wake-up (a cross-CPU interrupt, dear on
a virtual machine) is charged to the server's send(): measured with cProfile, send() took
about 8 us per response for the bare server (whose client never idles) against 43 us for
the full stack. The polling needs a CPU of its own, so it is on only with two or more;
``--sleeping-client`` turns it off anyway, to see the effect.

Printed: requests/s of each server at full load (``--concurrency`` clients; ``--rounds``
phases of ``--seconds`` per server, alternating, median taken), the ratio full/bare, and
p50/p99 latency at a steady ``--rate`` requests/s (timed from each request's scheduled
start, so a stall is not hidden), and each server's CPU ms per request at full load (its
process's user + system time over the phase). Targets (issue: SMS adapter): ratio >= 0.3,
p99 < 50 ms at 100 requests/s. The reply budget is raised for the run so every request takes
the normal answering path; ``--contacts`` senders (default 500) share the load, so most
messages come from someone already in a conversation.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
from aiohttp import web  # noqa: E402
from twilio.request_validator import RequestValidator  # noqa: E402

from bench.peers.sms_peer import SmsPeer  # noqa: E402
from bot.app import channel_callbacks  # noqa: E402
from bot.channels.sms.adapter import SmsChannel  # noqa: E402
from bot.config import Config, parse_config  # noqa: E402
from bot.messages import Address, Choice, Inbound, Reply  # noqa: E402
from bot.web import WebServer, build_web_app  # noqa: E402

ACCOUNT_SID = "ACbench-account"
AUTH_TOKEN = "bench-auth-token-not-secret"
PUBLIC_URL = "https://kyrbot.example.org"
FIXED_TWIML = (
    '<?xml version="1.0" encoding="UTF-8"?><Response><Message>Hola. ¿Qué quieres saber?\n\n'
    "1 Qué dice SOP 130\n2 Órdenes judiciales\n0 Menú / English</Message></Response>"
)
TEXTS = [
    "hola",
    "1",
    "2",
    "0",
    "menu",
    "ayuda",
    "english",
    "español",
    "what if police stop me in my car",
    "qué hago si tocan la puerta los de inmigración",
    "la policia puede preguntar mis papeles",
    "orden judicial",
    "warrant",
    "do you sell bus tickets",
]

SinkFactory = Callable[[Config], AbstractAsyncContextManager[Any]]


# -- sinks -----------------------------------------------------------------------------------


class _MenuSink:
    """Answers every message with the same short Spanish menu; dedups by message id."""

    REPLY = Reply(
        text="Hola. ¿Qué quieres saber?",
        choices=(Choice("what", "Qué dice SOP 130"), Choice("warrants", "Órdenes judiciales")),
        nav=(Choice("c:menu", "Menú"), Choice("c:lang", "English")),
        locale="es",
    )

    def __init__(self) -> None:
        self._seen: set[str] = set()

    async def handle(self, inbound: Inbound) -> Sequence[Reply]:
        if inbound.message_id in self._seen:
            return ()
        if inbound.message_id is not None:
            self._seen.add(inbound.message_id)
        return (self.REPLY,)

    async def contact_unreachable(self, address: Address, *, opted_out: bool) -> None:
        return None

    async def delivery_status(
        self, channel: str, provider_id: str, status: str, error_code: str | None
    ) -> None:
        return None


@contextlib.asynccontextmanager
async def trivial_sink(_config: Config) -> AsyncIterator[Any]:
    """The adapter alone: a sink that answers a fixed menu."""
    yield _MenuSink()


@contextlib.asynccontextmanager
async def service_sink(config: Config) -> AsyncIterator[Any]:
    """The real conversation service with the real content, on a fresh SQLite file."""
    from bot.conversation.service import ConversationService
    from bot.conversation.version import load_content
    from bot.privacy import AddressVault
    from bot.storage import open_storage

    content = load_content(config)
    with tempfile.TemporaryDirectory() as scratch:
        storage = open_storage(
            f"sqlite+aiosqlite:///{Path(scratch) / 'bench.sqlite3'}",
            vault=AddressVault.throwaway(),
        )
        await storage.open()
        service = ConversationService(
            content=content, storage=storage, organization=config.organization
        )
        try:
            yield service
        finally:
            await service.flush_counters()
            await storage.close()


SINKS: dict[str, SinkFactory] = {"service": service_sink, "trivial": trivial_sink}


# -- servers (child processes) ---------------------------------------------------------------


def bench_config() -> Config:
    return parse_config(
        {
            "content": {
                "dialogs_dir": str(ROOT / "dialogs"),
                "locales_dir": str(ROOT / "locales"),
            },
            "server": {"public_url": PUBLIC_URL},
            "twilio": {
                "account_sid": ACCOUNT_SID,
                "auth_token": AUTH_TOKEN,
                "from_number": "+15550000000",
                "api_base_url": "http://127.0.0.1:9",  # never called: replies go as TwiML
            },
            "sms": {"reply_budget": {"replies": 1_000_000, "window_minutes": 1}},
        }
    )


async def _serve_full_stack(make_sink: SinkFactory, conn: Connection) -> None:
    config = bench_config()
    channel = SmsChannel(config)
    app = build_web_app(channel.routes(), max_body_bytes=config.server.max_body_bytes)
    server = WebServer(app, host="127.0.0.1", port=0)
    async with make_sink(config) as sink:
        await server.start()
        await channel.start(channel_callbacks(sink))
        try:
            conn.send(server.port)
            await asyncio.get_running_loop().run_in_executor(None, conn.recv)
        finally:
            await channel.stop()
            await server.stop()


async def _serve_bare(conn: Connection) -> None:
    async def fixed(request: web.Request) -> web.Response:
        await request.read()  # consume the body, nothing more: the fastest possible answer
        return web.Response(text=FIXED_TWIML, content_type="text/xml")

    app = web.Application(client_max_size=65536)
    app.router.add_post("/twilio/sms", fixed)
    await _serve_until_told(WebServer(app, host="127.0.0.1", port=0), conn)


async def _serve_peer(conn: Connection) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        peer = SmsPeer(
            auth_token=AUTH_TOKEN,
            public_url=PUBLIC_URL,
            database=Path(scratch) / "peer.sqlite3",
        )
        try:
            await _serve_until_told(WebServer(peer.web_app(), host="127.0.0.1", port=0), conn)
        finally:
            peer.close()


async def _serve_until_told(server: WebServer, conn: Connection) -> None:
    """Serve, tell the parent the port, and stop when it says so."""
    await server.start()
    try:
        conn.send(server.port)
        await asyncio.get_running_loop().run_in_executor(None, conn.recv)
    finally:
        await server.stop()


def _server_main(kind: str, sink_name: str, conn: Connection) -> None:
    logging.disable(logging.CRITICAL)
    if kind == "bare":
        asyncio.run(_serve_bare(conn))
    elif kind == "peer":
        asyncio.run(_serve_peer(conn))
    else:
        asyncio.run(_serve_full_stack(SINKS[sink_name], conn))


@dataclass
class _Server:
    process: multiprocessing.process.BaseProcess
    conn: Connection
    port: int

    def stop(self) -> None:
        self.conn.send("stop")
        self.process.join(timeout=30)
        if self.process.is_alive():
            self.process.terminate()


def start_server(kind: str, sink_name: str) -> _Server:
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    process = context.Process(target=_server_main, args=(kind, sink_name, child), daemon=True)
    process.start()
    if not parent.poll(60):
        process.terminate()
        raise RuntimeError(f"the {kind} server did not start")
    return _Server(process=process, conn=parent, port=parent.recv())


# -- load generation -------------------------------------------------------------------------


@dataclass(frozen=True)
class SignedRequest:
    body: bytes
    signature: str


def signed_requests(n: int, *, contacts: int, prefix: str) -> list[SignedRequest]:
    """``n`` incoming-SMS webhooks from ``contacts`` numbers, each with a fresh MessageSid."""
    validator = RequestValidator(AUTH_TOKEN)
    url = PUBLIC_URL + "/twilio/sms"
    requests = []
    for i in range(n):
        form = {
            "MessageSid": f"SMbench{prefix}{i:08d}",
            "AccountSid": ACCOUNT_SID,
            "From": f"+1555{i % contacts:07d}",
            "To": "+15550000000",
            "Body": TEXTS[i % len(TEXTS)],
            "NumMedia": "0",
            "NumSegments": "1",
        }
        requests.append(
            SignedRequest(urlencode(form).encode(), validator.compute_signature(url, form))
        )
    return requests


async def _post(http: aiohttp.ClientSession, url: str, request: SignedRequest) -> bool:
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Twilio-Signature": request.signature,
    }
    async with http.post(url, data=request.body, headers=headers) as response:
        text = await response.text()
        return response.status == 200 and "<Message>" in text


@dataclass
class Throughput:
    requests: int
    errors: int
    seconds: float
    cpu_seconds: float = 0.0
    """The server process's CPU time (user + system) over the phase."""

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds

    @property
    def cpu_ms(self) -> float:
        return self.cpu_seconds * 1000 / max(self.requests, 1)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _poll_until(done: asyncio.Event) -> None:
    """Keep the event loop polling (never blocking in the selector) until ``done`` is set."""
    # Busy on purpose: awaiting the event would let the loop block in the selector.
    while not done.is_set():  # noqa: ASYNC110
        await asyncio.sleep(0)


async def throughput(
    server: _Server,
    requests: list[SignedRequest],
    *,
    seconds: float,
    concurrency: int,
    polling: bool = True,
) -> Throughput:
    finished = asyncio.Event()
    poller = asyncio.create_task(_poll_until(finished)) if polling else None
    try:
        return await _throughput(server, requests, seconds=seconds, concurrency=concurrency)
    finally:
        finished.set()
        if poller is not None:
            await poller


async def _throughput(
    server: _Server, requests: list[SignedRequest], *, seconds: float, concurrency: int
) -> Throughput:
    url = f"http://127.0.0.1:{server.port}/twilio/sms"
    connector = aiohttp.TCPConnector(limit=concurrency)
    done = errors = 0
    next_index = 0
    async with aiohttp.ClientSession(connector=connector) as http:
        for request in requests[:concurrency]:  # warm up connections (not counted)
            await _post(http, url, request)
        next_index = concurrency
        deadline = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal done, errors, next_index
            while time.perf_counter() < deadline and next_index < len(requests):
                request = requests[next_index]
                next_index += 1
                if await _post(http, url, request):
                    done += 1
                else:
                    errors += 1

        started, cpu = time.perf_counter(), cpu_seconds(server.process.pid or 0)
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
        cpu = cpu_seconds(server.process.pid or 0) - cpu
    return Throughput(requests=done, errors=errors, seconds=elapsed, cpu_seconds=cpu)


@dataclass
class Latency:
    p50_ms: float
    p99_ms: float
    max_ms: float
    errors: int
    achieved_rate: float


async def steady_latency(
    port: int, requests: list[SignedRequest], *, rate: float, seconds: float
) -> Latency:
    url = f"http://127.0.0.1:{port}/twilio/sms"
    total = int(rate * seconds)
    latencies: list[float] = []
    errors = 0
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        await _post(http, url, requests[-1])  # one warm-up connection

        async def one(request: SignedRequest, scheduled: float) -> None:
            nonlocal errors
            ok = await _post(http, url, request)
            latencies.append(time.perf_counter() - scheduled)
            if not ok:
                errors += 1

        tasks = []
        start = time.perf_counter() + 0.05
        for i in range(total):
            scheduled = start + i / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(requests[i], scheduled)))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - start
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    return Latency(
        p50_ms=cuts[49] * 1000,
        p99_ms=cuts[98] * 1000,
        max_ms=max(latencies) * 1000,
        errors=errors,
        achieved_rate=total / elapsed,
    )


async def run(args: argparse.Namespace) -> None:
    pool = int(args.seconds * 12_000) + args.concurrency  # more than either server answers
    bare_load = signed_requests(pool, contacts=args.contacts, prefix="b")  # no dedup: reused
    full_loads = [
        signed_requests(pool, contacts=args.contacts, prefix=f"f{round_}")
        for round_ in range(args.rounds)
    ]
    steady_n = int(args.rate * args.latency_seconds) + 1
    steady = {
        "bare": signed_requests(steady_n, contacts=args.contacts, prefix="bl"),
        "full": signed_requests(steady_n, contacts=args.contacts, prefix="fl"),
    }
    steady["peer"] = steady["full"]  # the very same requests; the peer keeps no message ids
    polling = not args.sleeping_client and (os.cpu_count() or 1) >= 2
    kinds = ["bare", "full", *(["peer"] if args.peer else [])]
    servers = {kind: start_server(kind, args.sink) for kind in kinds}
    rounds: list[dict[str, Throughput]] = []
    try:
        # Alternate the servers so a noisy neighbour on the machine hits them alike.
        for full_load in full_loads:
            loads = {"bare": bare_load, "full": full_load, "peer": full_load}
            rounds.append(
                {
                    kind: await throughput(
                        servers[kind],
                        loads[kind],
                        seconds=args.seconds,
                        concurrency=args.concurrency,
                        polling=polling,
                    )
                    for kind in kinds
                }
            )
        latency = {
            kind: await steady_latency(
                servers[kind].port, steady[kind], rate=args.rate, seconds=args.latency_seconds
            )
            for kind in kinds
        }
    finally:
        for server in servers.values():
            server.stop()

    def median(kind: str) -> float:
        return statistics.median(phase[kind].per_second for phase in rounds)

    full_desc = f"signature + {args.sink} sink" + (
        ", conversation service on SQLite" if args.sink == "service" else ""
    )
    labels = {
        "bare": "bare aiohttp, fixed TwiML",
        "full": f"full stack ({full_desc})",
        "peer": "peer (aiohttp + RequestValidator + SQLite + MessagingResponse)",
    }
    client = "polling" if polling else "sleeping"
    print(
        f"SMS webhook bench, {os.cpu_count()} CPU(s): {args.concurrency} concurrent clients "
        f"({client} load generator), {args.rounds} rounds of {args.seconds:g} s per server, "
        f"{args.contacts} senders"
    )
    for kind in kinds:
        per_round = ", ".join(
            f"{phase[kind].per_second:,.0f}/s at {phase[kind].cpu_ms:.2f} CPU ms"
            for phase in rounds
        )
        errors = sum(phase[kind].errors for phase in rounds)
        print(f"  {labels[kind]}: {median(kind):8,.0f} webhooks/s (median), {errors} errors")
        print(f"      per round: {per_round}")
    per_round = ", ".join(
        f"{phase['full'].per_second / phase['bare'].per_second:.2f}" for phase in rounds
    )
    print(
        f"  ratio full/bare: {median('full') / median('bare'):.2f}  "
        f"(per round: {per_round}; target >= 0.3)"
    )
    if args.peer:
        per_round = ", ".join(
            f"{phase['full'].per_second / phase['peer'].per_second:.2f}" for phase in rounds
        )
        print(
            f"  ratio full/peer: {median('full') / median('peer'):.2f}  "
            f"(per round: {per_round}; target >= 0.8); "
            f"peer/bare: {median('peer') / median('bare'):.2f}"
        )
    for kind in ("full", "peer", "bare"):
        if kind not in latency:
            continue
        lat = latency[kind]
        print(
            f"  {labels[kind].split(' (')[0]} at a steady {args.rate:g}/s for "
            f"{args.latency_seconds:g} s (achieved {lat.achieved_rate:.0f}/s): "
            f"p50 {lat.p50_ms:.1f} ms, p99 {lat.p99_ms:.1f} ms, max {lat.max_ms:.1f} ms, "
            f"{lat.errors} errors" + ("  (target p99 < 50 ms)" if kind == "full" else "")
        )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sink", choices=sorted(SINKS), default="service")
    parser.add_argument("--seconds", type=float, default=5.0, help="one full-load phase")
    parser.add_argument("--rounds", type=int, default=3, help="full-load phases per server")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--contacts", type=int, default=500, help="distinct sender numbers")
    parser.add_argument("--rate", type=float, default=100.0, help="steady requests/s")
    parser.add_argument("--latency-seconds", type=float, default=5.0)
    parser.add_argument("--peer", action="store_true", help="measure the SMS peer too")
    parser.add_argument(
        "--sleeping-client",
        action="store_true",
        help="let the load generator sleep between answers (see the module docstring)",
    )
    asyncio.run(run(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
