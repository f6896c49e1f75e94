"""Open-loop signed SMS webhooks against a real ``kyrbot serve``: rate, latency, ordering.

Run: ``.venv/bin/python bench/load.py [--rate 250] [--seconds 60] [--contacts 100000]``
``[--tree PATH] [--database-url URL]``.

A ``kyrbot serve`` subprocess runs the code of ``--tree`` (default: this checkout) on a fresh
SQLite file (or a fresh PostgreSQL database made beside the one ``--database-url`` names,
dropped afterwards) holding ``--contacts`` stored contacts. This process then writes signed
Twilio webhooks at a fixed rate (open loop: a request goes at its scheduled time whether or
not earlier ones were answered), pipelined over a few keep-alive connections:

* ``--ordered`` senders (default 4) send half the traffic between them, each on a
  connection of its own, alternating ``menu`` and ``1``. Handled in order, every ``1``
  is answered with the page the menu's first choice opens; a ``1`` handled before the
  ``menu`` written ahead of it gets another answer: an ordering violation.
* the other half comes from stored contacts picked at random, spread over
  ``--connections`` connections.

Latency is timed from each request's scheduled start to its answer, so a stall is not
hidden. Printed: achieved rate, p50/p95/p99 latency, errors and ordering violations.
Targets (2-core machine, generator beside the server): 250/s for 60 s, p99 < 50 ms,
0 violations.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]

ACCOUNT_SID = "ACbench-load"
AUTH_TOKEN = "bench-load-auth-token-not-secret"
PUBLIC_URL = "https://kyrbot.example.org"
_MESSAGE = re.compile(r"<Message>(.*?)</Message>", re.S)

BENCH_ENCRYPTION_KEY = "bm90LWEtc2VjcmV0LWJlbmNoLWxvYWQta2V5LTMyYnk="
"""Made up for this benchmark (32 bytes, base64); the database it protects is thrown away."""
BENCH_HASH_KEY = "bench-load-hash-key-not-secret"

# Run with the measured tree on the path, so the rows are written as that tree's code writes
# them: encrypted addresses and a blind index where the tree has them, plain ones before.
_SEED = r"""
import asyncio, sys

URL, COUNT, ENC, HASH = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]

def number(i):
    return f"+1555{i:07d}"

async def main():
    from bot.storage import open_storage
    try:
        from bot.messages import Address
        from bot.privacy import AddressVault, Keyring
    except ImportError:  # a tree from before addresses were encrypted
        vault = None
        store = open_storage(URL)
    else:
        vault = AddressVault(Keyring.from_settings(encryption_key=ENC, hash_key=HASH))
        store = open_storage(URL, vault=vault)
    await store.open()
    await store.close()
    if vault is None:
        columns = ["channel", "address", "locale", "subscribed", "opted_out", "unreachable"]
        rows = [("sms", number(i), "en", False, False, False) for i in range(COUNT)]
    else:
        columns = ["channel", "address_hash", "address_cipher", "locale", "subscribed",
                   "opted_out", "unreachable"]
        rows = []
        for i in range(COUNT):
            address = Address("sms", number(i))
            rows.append(("sms", vault.lookup(address), vault.seal(address), "en",
                         False, False, False))
    if URL.startswith("sqlite"):
        import sqlite3
        conn = sqlite3.connect(URL.split(":///", 1)[1])
        with conn:
            conn.executemany(
                f"INSERT INTO contacts ({', '.join(columns)}) "
                f"VALUES ({', '.join('?' for _ in columns)})",
                rows,
            )
        conn.close()
    else:
        import asyncpg
        conn = await asyncpg.connect(URL.replace("postgresql+asyncpg://", "postgresql://"))
        try:
            await conn.copy_records_to_table("contacts", records=rows, columns=columns)
        finally:
            await conn.close()

asyncio.run(main())
"""


def address(i: int) -> str:
    """A fictional number per stored contact (the 555 area code is never assigned)."""
    return f"+1555{i:07d}"


def sign(validator: object, url: str, params: dict[str, str]) -> str:
    return validator.compute_signature(url, params)  # type: ignore[attr-defined]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- the database ----------------------------------------------------------------------------


def run_seed(url: str, tree: Path, contacts: int) -> None:
    """The schema and ``contacts`` stored contacts, written by ``tree``'s own code."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    subprocess.run(
        [sys.executable, "-c", _SEED, url, str(contacts), BENCH_ENCRYPTION_KEY, BENCH_HASH_KEY],
        check=True,
        env=env,
        cwd=tree,  # ``python -c`` puts the working directory first on the path
    )


def seed_sqlite(path: Path, tree: Path, contacts: int) -> None:
    run_seed(f"sqlite+aiosqlite:///{path}", tree, contacts)


async def seed_postgres(url: str, tree: Path, contacts: int) -> str:
    """A fresh database beside ``url``'s, with the schema and the contacts; its URL."""
    import asyncpg  # type: ignore[import-untyped]

    plain = url.replace("postgresql+asyncpg://", "postgresql://")
    name = f"kyrbot_load_{os.getpid()}"
    admin = await asyncpg.connect(plain)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    base, _, _ = url.rpartition("/")
    fresh = f"{base}/{name}"
    # Set-up, before any load runs: blocking here delays nothing that is measured.
    run_seed(fresh, tree, contacts)
    return fresh


async def drop_postgres(url: str, fresh: str) -> None:
    import asyncpg

    name = fresh.rpartition("/")[2]
    admin = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


# -- the server ------------------------------------------------------------------------------


def write_config(directory: Path, tree: Path, url: str, port: int) -> Path:
    import yaml

    config = {
        "database": {"url": url},
        "server": {"host": "127.0.0.1", "port": port, "public_url": PUBLIC_URL},
        "content": {
            "dialogs_dir": str(tree / "dialogs"),
            "locales_dir": str(tree / "locales"),
        },
        "twilio": {
            "account_sid": ACCOUNT_SID,
            "auth_token": AUTH_TOKEN,
            "from_number": "+15550100",
            "api_base_url": "http://127.0.0.1:9",  # replies go as TwiML; nothing is sent
        },
        "sms": {"reply_budget": {"replies": 1_000_000, "window_minutes": 1}},
        "privacy": (
            {"encryption_key": BENCH_ENCRYPTION_KEY, "hash_key": BENCH_HASH_KEY}
            if (tree / "bot" / "privacy" / "vault.py").exists()
            else {"hash_key": BENCH_HASH_KEY}
        ),
    }
    path = directory / "config.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


async def wait_healthy(port: int, process: subprocess.Popen[bytes], within: float) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"kyrbot serve exited with {process.returncode}")
        with contextlib.suppress(OSError):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            await writer.drain()
            data = await reader.read()
            writer.close()
            if b" 200 " in data.split(b"\r\n", 1)[0]:
                return
        await asyncio.sleep(0.2)
    raise SystemExit("kyrbot serve did not become healthy")


# -- the load --------------------------------------------------------------------------------


@dataclass(slots=True)
class Request:
    at: float
    """Seconds after the start when it is due."""
    raw: bytes
    sender: int
    """Ordered sender index, or -1."""
    text: str
    answered_at: float = 0.0
    status: int = 0
    bodies: list[str] = field(default_factory=list)


class Signer:
    def __init__(self) -> None:
        from twilio.request_validator import RequestValidator

        self._validator = RequestValidator(AUTH_TOKEN)
        self._url = PUBLIC_URL + "/twilio/sms"
        self._sid = 0

    def request(self, sender_address: str, text: str) -> bytes:
        self._sid += 1
        params = {
            "From": sender_address,
            "To": "+15550100",
            "Body": text,
            "MessageSid": f"SMload{os.getpid()}x{self._sid:09d}",
            "AccountSid": ACCOUNT_SID,
            "NumMedia": "0",
        }
        body = urlencode(params).encode()
        signature = sign(self._validator, self._url, params)
        head = (
            "POST /twilio/sms HTTP/1.1\r\nHost: kyrbot.example.org\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\n"
            f"X-Twilio-Signature: {signature}\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        return head.encode() + body


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    body = await reader.readexactly(length) if length else b""
    return status, body


async def run_connection(port: int, requests: list[Request], start: float) -> None:
    """Write ``requests`` at their times on one pipelined connection; read answers in order."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    pending: asyncio.Queue[Request | None] = asyncio.Queue()

    async def read_all() -> None:
        while (item := await pending.get()) is not None:
            try:
                status, body = await read_response(reader)
            except (asyncio.IncompleteReadError, ConnectionError):
                item.status = -1
                continue
            item.answered_at = time.perf_counter()
            item.status = status
            item.bodies = _MESSAGE.findall(body.decode("utf-8", "replace"))

    reading = asyncio.ensure_future(read_all())
    for item in requests:
        delay = start + item.at - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        writer.write(item.raw)
        pending.put_nowait(item)
    await pending.put(None)
    await reading
    writer.close()


async def expected_answers(port: int, signer: Signer, sender: str) -> tuple[str, str, str]:
    """What ``menu``, then ``1``, then ``1`` again are answered, one at a time."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    answers = []
    for text in ("menu", "1", "1", "menu"):
        writer.write(signer.request(sender, text))
        _, body = await read_response(reader)
        answers.append("\n".join(_MESSAGE.findall(body.decode())))
    writer.close()
    return answers[0], answers[1], answers[2]


def schedule(
    rate: float, seconds: float, contacts: int, ordered: int, signer: Signer
) -> Iterator[Request]:
    rng = random.Random(13)
    turn = [0] * ordered
    for n in range(int(rate * seconds)):
        at = n / rate
        if ordered and n % 2 == 0:
            sender = (n // 2) % ordered
            text = "menu" if turn[sender] % 2 == 0 else "1"
            turn[sender] += 1
            yield Request(at, signer.request(address(sender), text), sender, text)
        else:
            who = rng.randrange(ordered, contacts)
            text = rng.choice(("menu", "1", "2", "warrant", "hola"))
            yield Request(at, signer.request(address(who), text), -1, text)


def _lead(reply: str) -> str:
    """A reply's first paragraph: what tells one page from another (a notice may follow)."""
    return reply.split("\n\n", 1)[0]


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def load(args: argparse.Namespace, port: int) -> int:
    signer = Signer()
    menu, first, again = await expected_answers(port, signer, address(args.contacts - 1))
    if _lead(first) == _lead(again):
        print("warning: '1' reads the same after the menu and after its page; ordering unseen")
    requests = list(schedule(args.rate, args.seconds, args.contacts, args.ordered, signer))
    per_sender = args.sender_connections
    own = args.ordered * per_sender
    lanes: list[list[Request]] = [[] for _ in range(own + args.connections)]
    spread = 0
    turns = [0] * args.ordered
    for item in requests:
        if item.sender >= 0:
            lanes[item.sender * per_sender + turns[item.sender] % per_sender].append(item)
            turns[item.sender] += 1
        else:
            lanes[own + spread % args.connections].append(item)
            spread += 1
    start = time.perf_counter() + 0.5
    await asyncio.gather(*(run_connection(port, lane, start) for lane in lanes if lane))
    answered = [r for r in requests if r.status == 200]
    errors = len(requests) - len(answered)
    latencies = [(r.answered_at - (start + r.at)) * 1000 for r in answered]
    last = max((r.answered_at for r in answered), default=start) - start
    violations = 0
    for r in answered:
        if r.sender < 0:
            continue
        reply = "\n".join(r.bodies)
        if _lead(reply) != _lead(menu if r.text == "menu" else first):
            violations += 1
    ordered_total = sum(1 for r in requests if r.sender >= 0)
    print(f"tree: {args.tree}  database: {args.database_url or 'sqlite (fresh file)'}")
    print(f"contacts stored: {args.contacts}; {len(requests)} webhooks at {args.rate:.0f}/s")
    print(f"achieved: {len(answered) / max(last, 1e-9):.1f} answered/s over {last:.1f} s")
    print(
        f"latency ms: p50 {percentile(latencies, 0.5):.1f}  p95 {percentile(latencies, 0.95):.1f}"
        f"  p99 {percentile(latencies, 0.99):.1f}  max {max(latencies, default=0):.1f}"
        f"  mean {statistics.fmean(latencies) if latencies else float('nan'):.1f}"
    )
    print(f"errors (non-200 or lost): {errors}")
    print(
        f"ordering violations: {violations} of {ordered_total} messages from "
        f"{args.ordered} senders"
    )
    return 0


async def main_async(args: argparse.Namespace) -> int:
    tree = Path(args.tree).resolve()  # noqa: ASYNC240 - set-up, before any load runs
    scratch = Path(tempfile.mkdtemp(prefix="kyrbot-load-"))
    fresh_pg: str | None = None
    try:
        if args.database_url:
            fresh_pg = await seed_postgres(args.database_url, tree, args.contacts)
            url = fresh_pg
        else:
            db = scratch / "load.sqlite3"
            seed_sqlite(db, tree, args.contacts)
            url = f"sqlite+aiosqlite:///{db}"
        port = free_port()
        config = write_config(scratch, tree, url, port)
        env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONDONTWRITEBYTECODE": "1"}
        log = (scratch / "serve.log").open("wb")
        process = subprocess.Popen(  # noqa: ASYNC220 - set-up, before any load runs
            [sys.executable, "-m", "bot", "serve", "--config", str(config)],
            cwd=scratch,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            await wait_healthy(port, process, 120)
            return await load(args, port)
        finally:
            process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
            log.close()
            if args.show_log:
                print((scratch / "serve.log").read_text(errors="replace")[-4000:])
    finally:
        if fresh_pg is not None and args.database_url:
            await drop_postgres(args.database_url, fresh_pg)
        shutil.rmtree(scratch, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=250.0)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--ordered", type=int, default=4, help="senders checked for order")
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument(
        "--sender-connections",
        type=int,
        default=1,
        help="connections each checked sender's messages take turns on (as Twilio's do)",
    )
    parser.add_argument("--tree", default=str(ROOT), help="the checkout whose code serves")
    parser.add_argument("--database-url", default=None, help="a PostgreSQL server to use")
    parser.add_argument("--show-log", action="store_true")
    args = parser.parse_args()
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    raise SystemExit(main())
