"""``kyrbot serve`` as a subprocess under faults: a provider down at start-up, broken storage.

Real HTTP on 127.0.0.1: signed Twilio webhooks, the fake Bot API. Waits are windows of a few
seconds for something to happen (the probe runs every 2 s); no test asserts a duration.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import aiohttp
import yaml

from tests.fakes.telegram_server import FakeBotApi
from tests.fakes.twilio_server import FAKE_ACCOUNT_SID, FAKE_AUTH_TOKEN, sign
from tests.support.keys import TEST_PRIVACY
from tests.support.paths import ROOT

PUBLIC_URL = "https://kyrbot.example.org"
SECRET = "serve_SECRET-for-tests"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Served:
    port: int
    db: Path
    http: aiohttp.ClientSession
    output: bytearray

    @property
    def log(self) -> str:
        return self.output.decode(errors="replace")

    async def sms(self, text: str, *, sid: str, sender: str = "+15550100101") -> tuple[int, str]:
        form = {"From": sender, "To": "+15550100", "Body": text, "MessageSid": sid}
        url = f"{PUBLIC_URL}/twilio/sms"
        headers = {"X-Twilio-Signature": sign(url, form)}
        async with self.http.post(
            f"http://127.0.0.1:{self.port}/twilio/sms", data=form, headers=headers
        ) as response:
            return response.status, await response.text()

    async def readyz(self) -> tuple[int, dict[str, Any]]:
        async with self.http.get(f"http://127.0.0.1:{self.port}/readyz") as response:
            return response.status, await response.json()

    async def eventually(self, check: Callable[[], Awaitable[bool]], within: float = 15) -> None:
        async with asyncio.timeout(within):
            # Polling over HTTP: there is no event in this process to wait on.
            while not await check():  # noqa: ASYNC110
                await asyncio.sleep(0.1)


@asynccontextmanager
async def serve(tmp_path: Path, tg: FakeBotApi | None = None) -> AsyncIterator[Served]:
    port = free_port()
    db = tmp_path / "data" / "bot.sqlite3"
    config: dict[str, Any] = {
        "database": {"url": f"sqlite+aiosqlite:///{db}"},
        "privacy": TEST_PRIVACY,
        "server": {"port": port, "public_url": PUBLIC_URL},
        "content": {
            "dialogs_dir": str(ROOT / "dialogs"),
            "locales_dir": str(ROOT / "locales"),
            "cache_dir": str(ROOT / "data" / "cache"),  # the trained model, shared by runs
        },
        "twilio": {
            "account_sid": FAKE_ACCOUNT_SID,
            "auth_token": FAKE_AUTH_TOKEN,
            "from_number": "+15550100",
            "api_base_url": "http://127.0.0.1:9",
        },
        # Every message answered (the ordering test sends hundreds from one number).
        "sms": {"reply_budget": {"replies": 100_000, "window_minutes": 1}},
    }
    if tg is not None:
        config["telegram"] = {"token": tg.token, "base_url": tg.base_url, "webhook_secret": SECRET}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "serve",
        "--config",
        str(path),
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    output = bytearray()

    async def collect() -> None:
        assert process.stdout is not None
        while chunk := await process.stdout.read(4096):
            output.extend(chunk)

    collecting = asyncio.ensure_future(collect())
    async with aiohttp.ClientSession() as http:
        served = Served(port, db, http, output)

        async def up() -> bool:
            assert process.returncode is None, served.log
            try:
                status, _ = await served.readyz()
            except aiohttp.ClientError:
                return False
            return status in (200, 503)

        try:
            await served.eventually(up, within=60)
            yield served
        finally:
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(process.wait(), timeout=30)
            await collecting
    assert "Traceback" not in served.log, served.log


async def test_sms_serves_while_telegram_is_down_at_start_and_telegram_registers_later(
    tmp_path: Path,
):
    async with FakeBotApi() as tg:
        tg.down = lambda: True
        async with serve(tmp_path, tg) as served:

            async def started() -> bool:
                return "starting" not in (await served.readyz())[1]["channels"].values()

            await served.eventually(started)
            status, body = await served.readyz()
            assert status == 200 and body["channels"] == {"sms": "up", "telegram": "down"}
            status, twiml = await served.sms("menu", sid="SM-down-1")
            assert status == 200 and "<Message>" in twiml
            assert tg.webhook is None
            tg.down = lambda: False

            async def telegram_up() -> bool:
                _, body = await served.readyz()
                return bool(body["channels"]["telegram"] == "up")

            await served.eventually(telegram_up)
            assert tg.webhook is not None and tg.webhook["url"].endswith("/telegram/webhook")
        assert "The Telegram channel could not start" in served.log


async def _stored_then_broken(
    tmp_path: Path, breakage: Callable[[Path], None], cause: str
) -> Served:
    async with serve(tmp_path) as served:
        status, twiml = await served.sms("menu", sid="SM-before")
        assert status == 200 and "<Message>" in twiml
        assert (await served.readyz())[0] == 200
        breakage(served.db)
        status, twiml = await served.sms("1", sid="SM-after")
        assert status == 503 and "<Message>" not in twiml  # not stored, so not acknowledged

        async def red() -> bool:
            return (await served.readyz())[0] == 503

        await served.eventually(red)
        _, body = await served.readyz()
        assert cause in body["storage"] and body["ready"] is False
        status, _ = await served.sms("2", sid="SM-later")
        assert status == 503
    assert served.log.count("Storage failure:") == 1, served.log  # logged once, with a cause
    assert cause in served.log
    return served


async def test_deleted_database_files_turn_readiness_red_and_refuse_messages(tmp_path: Path):
    def delete(db: Path) -> None:
        for suffix in ("", "-wal", "-shm"):
            db.with_name(db.name + suffix).unlink(missing_ok=True)

    await _stored_then_broken(tmp_path, delete, "was deleted")


async def test_an_unwritable_wal_file_turns_readiness_red_and_refuses_messages(tmp_path: Path):
    def read_only_wal(db: Path) -> None:
        db.with_name(db.name + "-wal").chmod(0o444)

    await _stored_then_broken(tmp_path, read_only_wal, "-wal is not writable")


async def test_an_unwritable_shm_file_is_reported_not_a_silent_death(tmp_path: Path):
    def read_only_shm(db: Path) -> None:
        db.with_name(db.name + "-shm").chmod(0o444)

    await _stored_then_broken(tmp_path, read_only_shm, "-shm is not writable")


async def test_serve_refuses_to_start_over_an_unwritable_shm_file(tmp_path: Path):
    async with serve(tmp_path) as served:
        assert (await served.sms("menu", sid="SM-first"))[0] == 200
        db = served.db
    # A clean stop removes -wal and -shm; put back a read-only -shm, as an operator might.
    shm = db.with_name(db.name + "-shm")
    shm.write_bytes(b"")
    shm.chmod(0o444)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "serve",
        "--config",
        str(tmp_path / "config.yaml"),
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 2
    assert "-shm is not writable" in output.decode()


async def test_one_numbers_webhooks_at_300_a_second_are_answered_in_order(tmp_path: Path):
    async with serve(tmp_path) as served:
        sender = "+15550100188"
        await served.sms("English", sid="SM-o-en", sender=sender)
        menu = (await served.sms("menu", sid="SM-o-m", sender=sender))[1].split("\n\n")[0]
        page = (await served.sms("1", sid="SM-o-1", sender=sender))[1].split("\n\n")[0]
        reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
        texts = ["menu" if n % 2 == 0 else "1" for n in range(300)]
        for n, text in enumerate(texts):  # pipelined on one connection, 300 a second
            form = {"From": sender, "To": "+15550100", "Body": text, "MessageSid": f"SM-o{n}"}
            body = "&".join(f"{k}={quote_plus(v)}" for k, v in form.items()).encode()
            signature = sign(f"{PUBLIC_URL}/twilio/sms", form)
            head = f"X-Twilio-Signature: {signature}\r\nContent-Length: {len(body)}\r\n\r\n"
            writer.write(
                b"POST /twilio/sms HTTP/1.1\r\nHost: kyrbot.example.org\r\n"
                b"Content-Type: application/x-www-form-urlencoded\r\n" + head.encode() + body
            )
            await asyncio.sleep(1 / 300)
        leads = []
        for _ in texts:
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            leads.append((await reader.readexactly(length)).decode().split("\n\n")[0])
        writer.close()
    assert leads == [menu if text == "menu" else page for text in texts]
