"""Hostile webhooks against a real ``kyrbot serve``: memory, 5xx answers and ERROR log lines.

Run: ``.venv/bin/python bench/fuzz.py [--requests 50000] [--first 5000] [--concurrency 16]
[--rate R] [--quiesce] [--tracemalloc FRAMES] [--settle SECONDS]``.

Starts the fake Telegram Bot API in this process and ``kyrbot serve`` as a subprocess (webhook
mode for Telegram, SMS with Twilio credentials, a fresh SQLite file), then sends
``--requests`` fuzzed requests: Telegram updates carrying the right secret and SMS webhooks
carrying a valid ``X-Twilio-Signature`` (computed with twilio's ``RequestValidator`` over the
form actually sent), in hostile shapes: fields of the wrong type, JSON nested thousands deep,
bodies that are not JSON, unknown update types, groups and channels, presses of buttons never
sent, forms that repeat a field or lack ``Body`` or ``From``, control characters, tens of
thousands of distinct senders; plus a few unsigned requests and a little malformed HTTP.

Printed: the server's RSS after the first ``--first`` requests and after all of them (target:
within 10%), the number of 5xx answers and of ERROR lines in its log (target: 0 each), and
the rate achieved, and the RSS after every further ``--first`` requests, to tell a steady
climb from a step, and the Bot API calls the server still makes in the three seconds after
the last request (updates it accepted and had not handled yet). Random but repeatable
(``--seed``). ``--rate`` paces the requests (open loop, ``R`` per second in all) instead of
sending as fast as the server answers. ``--quiesce`` waits at every checkpoint until the
server has made no Bot API call for two seconds before measuring, so the figures count what
it keeps, not the updates it has yet to handle.

``--tracemalloc FRAMES`` runs the server under :mod:`tracemalloc` (``FRAMES`` deep; a
wrapper around ``python -m bot`` that dumps a snapshot on SIGUSR1, so nothing in ``bot/``
changes) and prints what grew between the first checkpoint and the last, by line and by
traceback. The server runs far slower so; its RSS includes tracemalloc's own. ``--settle``
waits that long after the last request and measures the RSS again (expiring state shrinks).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import secrets
import signal
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
import yaml  # noqa: E402
from multidict import MultiDict  # noqa: E402
from twilio.request_validator import RequestValidator  # noqa: E402

from bot.privacy.keys import new_key  # noqa: E402
from tests.fakes.telegram_server import FakeBotApi  # noqa: E402

SECRET = "fuzz_SECRET-0123456789"
AUTH_TOKEN = "fuzz-auth-token-not-secret"
PUBLIC_URL = "https://kyrbot.example.org"
ODD_VALUES: tuple[Any, ...] = (123, -1, 2**70, 1.5, "abc", "", [], [1], {}, {"a": 1}, None, True)
TEXTS = (
    "hola", "1", "2", "0", "menu", "ICE", "BAJA", "STOP", "ayuda", "/start", "/forget",
    "/start@kyr_test_bot es", "¿Pueden entrar a mi casa?", "a\x00b", "\u202e\u200b", "😀" * 30,
)  # fmt: skip
_ERROR_LINE = re.compile(r"^\S+ \S+ (ERROR|CRITICAL) ")
_TRACED_SERVER = """
import os, runpy, signal, sys, tracemalloc
tracemalloc.start(int(os.environ["FUZZ_TRACEMALLOC_FRAMES"]))
where = os.environ["FUZZ_TRACEMALLOC_DIR"]
dumped = [0]
def dump(*_):
    dumped[0] += 1
    path = os.path.join(where, "snapshot-%d.pickle" % dumped[0])
    tracemalloc.take_snapshot().dump(path + ".part")
    os.rename(path + ".part", path)
signal.signal(signal.SIGUSR1, dump)
sys.argv = ["kyrbot", *sys.argv[1:]]
runpy.run_module("bot", run_name="__main__", alter_sys=True)
"""
"""``python -c`` code: ``python -m bot`` under tracemalloc, a snapshot per SIGUSR1."""


def rss_mb(pid: int) -> float:
    """The resident memory of process ``pid``, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


class Shapes:
    """Hostile request shapes, drawn from one seeded random generator."""

    def __init__(self, seed: int, fake: FakeBotApi) -> None:
        self.rng = random.Random(seed)
        self.fake = fake
        self.validator = RequestValidator(AUTH_TOKEN)

    def text(self) -> str:
        rng = self.rng
        if rng.random() < 0.7:
            return rng.choice(TEXTS)
        return "".join(chr(rng.randrange(1, 0x2FFF)) for _ in range(rng.randrange(0, 300)))

    def person(self) -> int:
        return self.rng.randrange(10**6, 10**6 + 60_000)  # many distinct chats

    # -- Telegram ---------------------------------------------------------------------------

    def telegram(self) -> bytes:
        rng, fake = self.rng, self.fake
        kind = rng.random()
        if kind < 0.35:
            return _json(fake.text_update(self.person(), self.text()))
        if kind < 0.55:
            return _json(self.mutated(fake.text_update(self.person(), self.text())))
        if kind < 0.62:
            depth = rng.randrange(33, 5000)
            return b'{"update_id": 1, "message": ' + b"[" * depth + b"]" * depth + b"}"
        if kind < 0.68:
            return rng.choice([b"not json", b"[]", b'{"update_id": "1"}', b"\xff\xfe", b"{"])
        if kind < 0.78:
            chat = -rng.randrange(10**6, 10**9)
            chat_type = rng.choice(["group", "supergroup", "channel"])
            update = rng.choice(
                [
                    fake.text_update(chat, self.text(), chat_type=chat_type, user_id=1),
                    fake.media_update(chat, rng.choice(["photo", "dice"]), chat_type=chat_type),
                    fake.added_update(chat, chat_type=chat_type),
                ]
            )
            return _json(update)
        if kind < 0.9:
            return _json(self.press())
        update = {"update_id": fake.next_update_id(), rng.choice(["poll", "x", "chat_boost"]): {}}
        return _json(update)

    def press(self) -> dict[str, Any]:
        chat = self.person()
        markup = {"inline_keyboard": [[{"text": "Menú", "callback_data": "c:menu"}]]}
        message = self.fake.text_update(chat, "menu")["message"]
        message["reply_markup"] = markup
        data = self.rng.choice(["c:menu", "n:kyr.menu", "n:nope", "x" * 64, "", "l:es"])
        return {
            "update_id": self.fake.next_update_id(),
            "callback_query": {
                "id": f"q{self.rng.randrange(10**9)}",
                "chat_instance": "ci",
                "data": data,
                "from": message["from"],
                "message": message,
            },
        }

    def mutated(self, update: dict[str, Any]) -> dict[str, Any]:
        paths = [
            ("message", "text"),
            ("message", "chat", "id"),
            ("message", "chat"),
            ("message", "from", "id"),
            ("message", "from", "language_code"),
            ("message", "date"),
            ("message", "entities"),
            ("message",),
            ("update_id",),
        ]
        *parents, last = self.rng.choice(paths)
        target = update
        for key in parents:
            target = target[key]
        target[last] = self.rng.choice(ODD_VALUES)
        return update

    # -- SMS ----------------------------------------------------------------------------------

    def sms(self) -> tuple[str, bytes, dict[str, str]]:
        rng = self.rng
        path = "/twilio/status" if rng.random() < 0.1 else "/twilio/sms"
        pairs = [
            ("MessageSid", f"SM{rng.randrange(16**32):032x}"),
            ("From", f"+1555{rng.randrange(10**7):07d}"),
            ("Body", self.text()),
            ("NumMedia", rng.choice(["0", "1", "x", "-5", "99999999999"])),
        ]
        if path == "/twilio/status":
            pairs = [pairs[0], ("MessageStatus", rng.choice(["delivered", "failed", "?"]))]
        roll = rng.random()
        if roll < 0.15:
            pairs.append(rng.choice(pairs))  # a repeated field
        elif roll < 0.3:
            pairs.pop(rng.randrange(len(pairs)))  # a missing one
        elif roll < 0.35:
            pairs.append(("From", "+1555\x01" + "9" * rng.randrange(100)))
        form = MultiDict(pairs)
        signature = str(self.validator.compute_signature(PUBLIC_URL + path, form))
        if rng.random() < 0.03:
            signature = "bm90IGl0"  # forged
        return path, urlencode(pairs).encode(), {"X-Twilio-Signature": signature}


def _json(value: Any) -> bytes:
    return json.dumps(value).encode()


async def malformed_http(port: int, rng: random.Random) -> None:
    """A request that is not HTTP, or a body cut short."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(
            rng.choice(
                [
                    b"GET / HTTP/1.1\r\nBad Header\x01\r\n\r\n",
                    b"POST /twilio/sms HTTP/1.1\r\nContent-Length: 99\r\n\r\nshort",
                    b"\x16\x03\x01\x00\xa5",
                ]
            )
        )
        await writer.drain()
        await asyncio.wait_for(reader.read(100), 2)
    except (TimeoutError, ConnectionError):
        pass
    finally:
        writer.close()


async def run(args: argparse.Namespace) -> None:
    async with FakeBotApi() as fake:
        work = Path(tempfile.mkdtemp(prefix="kyrbot-fuzz-"))
        port = _free_port()
        config = {
            "telegram": {"token": fake.token, "base_url": fake.base_url, "webhook_secret": SECRET},
            "twilio": {
                "account_sid": "ACfuzz",
                "auth_token": AUTH_TOKEN,
                "from_number": "+15550100100",
                "api_base_url": "http://127.0.0.1:9",
            },
            "sms": {"reply_budget": {"replies": 1000}},
            "server": {"port": port, "public_url": PUBLIC_URL},
            "database": {"url": f"sqlite+aiosqlite:///{work / 'fuzz.sqlite3'}"},
            # Throwaway keys for a throwaway database.
            "privacy": {"encryption_key": new_key(), "hash_key": secrets.token_urlsafe(32)},
            "content": {
                "dialogs_dir": str(ROOT / "dialogs"),
                "locales_dir": str(ROOT / "locales"),
                "cache_dir": str(work / "cache"),
            },
        }
        (work / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
        log_path = work / "serve.log"
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        launch = ["-m", "bot"]
        if args.tracemalloc:
            launch = ["-c", _TRACED_SERVER]
            env["FUZZ_TRACEMALLOC_FRAMES"] = str(args.tracemalloc)
            env["FUZZ_TRACEMALLOC_DIR"] = str(work)
        with log_path.open("wb") as log:
            server = await asyncio.create_subprocess_exec(
                sys.executable, *launch, "serve", "--config", str(work / "config.yaml"),
                cwd=work, stdout=log, stderr=log, env=env,
            )  # fmt: skip
        try:
            await _wait_started(server, log_path)
            await _fuzz(args, fake, port, server.pid, log_path)
            if args.tracemalloc:
                _print_growth(work / "snapshot-1.pickle", work / "snapshot-2.pickle")
        finally:
            server.terminate()
            await server.wait()


async def _fuzz(
    args: argparse.Namespace, fake: FakeBotApi, port: int, pid: int, log_path: Path
) -> None:
    shapes = Shapes(args.seed, fake)
    statuses: Counter[int] = Counter()
    base = f"http://127.0.0.1:{port}"
    connector = aiohttp.TCPConnector(limit=args.concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one() -> None:
            roll = shapes.rng.random()
            if roll < 0.01:
                await malformed_http(port, shapes.rng)
                return
            if roll < 0.5:
                url, body = base + "/telegram/webhook", shapes.telegram()
                headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
                headers["Content-Type"] = "application/json"
            else:
                path, body, headers = shapes.sms()
                url = base + path
                headers["Content-Type"] = "application/x-www-form-urlencoded"
            async with session.post(url, data=body, headers=headers) as response:
                await response.read()
                statuses[response.status] += 1

        started = time.monotonic()
        pace = _Pace(args.rate, started)
        checkpoints: list[tuple[int, float]] = []
        while (done := checkpoints[-1][0] if checkpoints else 0) < args.requests:
            chunk = min(args.first, args.requests - done)
            await _many(one, chunk, args.concurrency, pace)
            if args.quiesce:
                await _wait_idle(fake)
            checkpoints.append((done + chunk, rss_mb(pid)))
            if args.tracemalloc and len(checkpoints) == 1:
                await _snapshot(pid, log_path.parent / "snapshot-1.pickle")
        elapsed = time.monotonic() - started
    calls = len(fake.calls)
    await asyncio.sleep(3)
    late_calls = len(fake.calls) - calls
    first_rss, last_rss = checkpoints[0][1], checkpoints[-1][1]
    if args.tracemalloc:
        await _snapshot(pid, log_path.parent / "snapshot-2.pickle")
    errors = sum(1 for line in _log_lines(log_path) if _ERROR_LINE.match(line))
    server_errors = sum(count for status, count in statuses.items() if status >= 500)
    print(f"requests: {args.requests} in {elapsed:.0f} s ({args.requests / elapsed:.0f}/s)")
    print(f"statuses: {dict(sorted(statuses.items()))}")
    print(f"RSS after {args.first}: {first_rss:.1f} MB; after {args.requests}: {last_rss:.1f} MB"
          f" ({(last_rss / first_rss - 1) * 100:+.1f}%, target within 10%)")  # fmt: skip
    print("RSS by requests sent: " + ", ".join(f"{n}: {mb:.1f}" for n, mb in checkpoints))
    print(f"Bot API calls in the 3 s after the last request: {late_calls}")
    print(f"5xx answers: {server_errors} (target 0); ERROR log lines: {errors} (target 0)")
    if args.settle:
        await asyncio.sleep(args.settle)
        print(f"RSS {args.settle:g} s after the last request: {rss_mb(pid):.1f} MB")
    print(f"server log: {log_path}")


async def _wait_idle(fake: FakeBotApi, quiet: float = 2.0) -> None:
    """Until the server has made no Bot API call for ``quiet`` seconds (at most 10 minutes)."""
    deadline = time.monotonic() + 600
    calls = -1
    while calls != len(fake.calls) and time.monotonic() < deadline:
        calls = len(fake.calls)
        await asyncio.sleep(quiet)


async def _snapshot(pid: int, path: Path) -> None:
    """Ask the traced server for a tracemalloc snapshot and wait until it is written."""
    os.kill(pid, signal.SIGUSR1)
    deadline = time.monotonic() + 600
    while not await asyncio.to_thread(path.exists):
        if time.monotonic() > deadline:
            raise SystemExit(f"no tracemalloc snapshot at {path}")
        await asyncio.sleep(0.5)


def _print_growth(first: Path, last: Path, top: int = 15) -> None:
    """What the server allocated between two snapshots and still holds, biggest first."""
    import tracemalloc

    ignore = [tracemalloc.Filter(False, tracemalloc.__file__), tracemalloc.Filter(False, "<*")]
    before = tracemalloc.Snapshot.load(str(first)).filter_traces(ignore)
    after = tracemalloc.Snapshot.load(str(last)).filter_traces(ignore)
    total = sum(stat.size for stat in after.statistics("filename")) - sum(
        stat.size for stat in before.statistics("filename")
    )
    print(f"tracemalloc: Python heap grew {total / 2**20:+.1f} MB between the snapshots")
    print("grown most, by line:")
    for stat in after.compare_to(before, "lineno")[:top]:
        frame = stat.traceback[0]
        print(
            f"  {stat.size_diff / 2**20:+7.2f} MB {stat.count_diff:+8d} blocks"
            f"  {_short(frame.filename)}:{frame.lineno}"
        )
    print("grown most, by traceback (innermost frame last):")
    for stat in after.compare_to(before, "traceback")[: top // 3]:
        print(f"  {stat.size_diff / 2**20:+7.2f} MB {stat.count_diff:+8d} blocks")
        for frame in stat.traceback:
            print(f"      {_short(frame.filename)}:{frame.lineno}")


def _short(filename: str) -> str:
    for marker in ("/site-packages/", str(ROOT) + "/", "/lib/python3"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return filename


class _Pace:
    """Start times ``1 / rate`` apart (no wait at all when ``rate`` is 0)."""

    def __init__(self, rate: float, start: float) -> None:
        self._gap = 1 / rate if rate else 0.0
        self._next = start

    async def wait(self) -> None:
        if self._gap:
            at, self._next = self._next, self._next + self._gap
            await asyncio.sleep(max(0.0, at - time.monotonic()))


async def _many(one: Callable[[], Any], count: int, concurrency: int, pace: _Pace) -> None:
    remaining = count

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await pace.wait()
            await one()

    await asyncio.gather(*(worker() for _ in range(concurrency)))


def _log_lines(path: Path) -> list[str]:
    return path.read_text("utf-8", "replace").splitlines()


async def _wait_started(server: asyncio.subprocess.Process, log_path: Path) -> None:
    """Until every channel has started (the SMS channel starts right after Telegram's)."""
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if server.returncode is not None:
            raise SystemExit(f"kyrbot serve exited with {server.returncode}")
        if any("Telegram channel started" in line for line in _log_lines(log_path)):
            await asyncio.sleep(0.5)
            return
        await asyncio.sleep(0.2)
    raise SystemExit("kyrbot serve did not start")


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> None:
    """Parse the arguments and run the fuzz."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=50_000)
    parser.add_argument("--first", type=int, default=5_000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--rate", type=float, default=0.0, help="requests/s (0: no pacing)")
    parser.add_argument("--quiesce", action="store_true", help="measure once the server idles")
    parser.add_argument("--tracemalloc", type=int, default=0, metavar="FRAMES")
    parser.add_argument("--settle", type=float, default=0.0, metavar="SECONDS")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
