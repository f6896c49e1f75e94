"""What the web console costs ``/twilio/sms``: p50 latency with the console on and off.

Run: ``.venv/bin/python bench/console_overhead.py [--seconds 8] [--rounds 3] [--concurrency 4]``.

Two real ``kyrbot serve`` processes start side by side, the same config except
``console.enabled`` (each on its own SQLite file, SMS only). Rounds alternate between them
(off, on, off, on...), each ``--seconds`` long with ``--concurrency`` clients posting signed
incoming-SMS webhooks back to back, so both see the same machine load; the p50 and p99 of
every request's latency are printed per server, and the difference of the p50s. While the
console server is measured, a logged-in organizer's browser is imitated too: a session made
with ``kyrbot console link`` reloads the broadcasts page and polls a progress endpoint once a
second, as an open progress page does. Target (issue #18): the console adds under 5 ms to p50.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

import aiohttp
import yaml
from twilio.request_validator import RequestValidator

ROOT = Path(__file__).resolve().parents[1]
ACCOUNT_SID = "ACbench-account"
AUTH_TOKEN = "bench-auth-token-not-secret"
PUBLIC_URL = "https://kyrbot.example.org"
ORGANIZER = 1
TEXTS = ["hola", "1", "2", "0", "menu", "what is sop 130", "me paró la policía", "3"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_config(folder: Path, port: int, *, console: bool) -> Path:
    config = {
        "database": {"url": f"sqlite+aiosqlite:///{folder / 'bot.sqlite3'}"},
        "server": {"host": "127.0.0.1", "port": port, "public_url": PUBLIC_URL},
        "content": {
            "dialogs_dir": str(ROOT / "dialogs"),
            "locales_dir": str(ROOT / "locales"),
            "cache_dir": str(ROOT / "data" / "cache"),
        },
        "twilio": {
            "account_sid": ACCOUNT_SID,
            "auth_token": AUTH_TOKEN,
            "from_number": "+15550000000",
            "api_base_url": "http://127.0.0.1:9",
        },
        "sms": {"reply_budget": {"replies": 1_000_000, "window_minutes": 1}},
        "organizers": {"telegram_ids": [ORGANIZER]},
        "console": {"enabled": console},
        "privacy": {"hash_key": "bench-hash-key"},
    }
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


class Server:
    def __init__(self, name: str, *, console: bool) -> None:
        self.name = name
        self.console = console
        self.folder = Path(tempfile.mkdtemp(prefix=f"kyrbot-bench-{name}-"))
        self.port = free_port()
        self.config = write_config(self.folder, self.port, console=console)
        self.process: asyncio.subprocess.Process | None = None
        self.latencies: list[float] = []
        self.errors = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "serve",
            "--config",
            str(self.config),
            cwd=self.folder,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        async with aiohttp.ClientSession() as http:
            for _ in range(600):
                with contextlib.suppress(aiohttp.ClientError):
                    async with http.get(self.url + "/healthz") as response:
                        if response.status == 200:
                            return
                await asyncio.sleep(0.1)
        raise RuntimeError(f"{self.name}: kyrbot serve did not start")

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            await asyncio.wait_for(self.process.wait(), 30)


async def console_session(server: Server, http: aiohttp.ClientSession) -> None:
    """Log in as an organizer, the way a browser does, with a link from the CLI."""
    link = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "bot", "console", "link"),
        *("--organizer", str(ORGANIZER), "--config", str(server.config)),
        cwd=server.folder,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    out, _ = await link.communicate()
    token = out.decode().strip().rsplit("/", 1)[1]
    async with http.post(
        server.url + "/console/login", data={"token": token}, allow_redirects=False
    ) as response:
        assert response.status == 303, response.status


async def organizer_browsing(server: Server, http: aiohttp.ClientSession, done: asyncio.Event):
    while not done.is_set():
        for path in ("/console/broadcasts", "/console/broadcasts/1/progress"):
            async with http.get(server.url + path) as response:
                await response.read()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done.wait(), 1.0)


def signed(i: int, prefix: str, validator: RequestValidator) -> tuple[bytes, str]:
    form = {
        "MessageSid": f"SMbench{prefix}{i:09d}",
        "AccountSid": ACCOUNT_SID,
        "From": f"+1555{i % 400:07d}",
        "To": "+15550000000",
        "Body": TEXTS[i % len(TEXTS)],
        "NumMedia": "0",
        "NumSegments": "1",
    }
    return urlencode(form).encode(), validator.compute_signature(PUBLIC_URL + "/twilio/sms", form)


async def load_round(server: Server, seconds: float, concurrency: int, prefix: str) -> None:
    validator = RequestValidator(AUTH_TOKEN)
    counter = iter(range(10**9))
    deadline = time.perf_counter() + seconds
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as http:

        async def client() -> None:
            while time.perf_counter() < deadline:
                body, signature = signed(next(counter), prefix, validator)
                headers = {
                    "Content-Type": "application/x-www-form-urlencoded",
                    "X-Twilio-Signature": signature,
                }
                started = time.perf_counter()
                async with http.post(
                    server.url + "/twilio/sms", data=body, headers=headers
                ) as response:
                    text = await response.text()
                elapsed = time.perf_counter() - started
                if response.status == 200 and "<Message>" in text:
                    server.latencies.append(elapsed)
                else:
                    server.errors += 1

        await asyncio.gather(*(client() for _ in range(concurrency)))


def quantile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q * 100) - 1] if len(values) > 1 else 0.0


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument(
        "--no-browsing", action="store_true", help="no organizer using the console meanwhile"
    )
    args = parser.parse_args()
    off, on = Server("off", console=False), Server("on", console=True)
    await asyncio.gather(off.start(), on.start())
    try:
        async with aiohttp.ClientSession() as organizer:
            await console_session(on, organizer)
            for server in (off, on):  # warm-up: caches, first contacts, JIT-free but still
                await load_round(server, 2.0, args.concurrency, f"w{server.name}")
                server.latencies.clear()
            for round_ in range(args.rounds):
                for server in (off, on):
                    done = asyncio.Event()
                    browsing = (
                        asyncio.ensure_future(organizer_browsing(server, organizer, done))
                        if server.console and not args.no_browsing
                        else None
                    )
                    await load_round(
                        server, args.seconds, args.concurrency, f"r{round_}{server.name}"
                    )
                    done.set()
                    if browsing is not None:
                        await browsing
    finally:
        await asyncio.gather(off.stop(), on.stop())
    print(
        f"/twilio/sms under {args.concurrency} concurrent clients, "
        f"{args.rounds} rounds of {args.seconds:g} s each, alternating"
    )
    for server in (off, on):
        lat = server.latencies
        print(
            f"  console {server.name:>3}: {len(lat):6d} requests, {server.errors} errors, "
            f"p50 {1000 * statistics.median(lat):6.2f} ms, "
            f"p99 {1000 * quantile(lat, 0.99):6.2f} ms"
        )
    delta = 1000 * (statistics.median(on.latencies) - statistics.median(off.latencies))
    print(f"  console adds {delta:+.2f} ms to p50 (target: under 5 ms)")


if __name__ == "__main__":
    asyncio.run(main())
