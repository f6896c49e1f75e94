"""``kyrbot broadcast`` and ``kyrbot stats`` as organizers run them, and a real crash.

The crash test runs a real ``kyrbot serve`` against the fake Telegram and Twilio servers,
kills it with SIGKILL in the middle of a broadcast, starts it again, and checks the fake
servers' logs: nobody got two copies, and what was in flight is reported as unknown.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.broadcast.service import BroadcastService
from bot.cli import main
from bot.config import load_config
from bot.storage import storage_for
from tests.fakes.telegram_server import FakeBotApi
from tests.fakes.twilio_server import (
    FAKE_ACCOUNT_SID,
    FAKE_AUTH_TOKEN,
    FAKE_FROM_NUMBER,
    FakeResponse,
    FakeTwilioServer,
)
from tests.support.broadcast import TEXTS, add_subscribers
from tests.support.keys import TEST_PRIVACY
from tests.support.paths import CONTENT_DIRS


def write_config(tmp_path: Path, **extra: Any) -> Path:
    data: dict[str, Any] = {
        "locales": ["en", "es"],
        "default_locale": "en",
        "database": {"url": f"sqlite+aiosqlite:///{tmp_path / 'kyrbot.sqlite3'}"},
        "content": dict(CONTENT_DIRS),
        "server": {"host": "127.0.0.1", "port": 0},
        "sms": {"price_per_segment": 0.0079},
        "privacy": TEST_PRIVACY,
    }
    data.update(extra)
    path = tmp_path / "kyrbot.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def with_subscribers(config: Path, *, telegram: int = 0, sms: int = 0) -> None:
    async def add() -> None:
        async with storage_for(load_config(config)) as storage:
            await add_subscribers(storage, telegram=telegram, sms=sms)

    asyncio.run(add())


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


# -- the command line, in process ----------------------------------------------------------------


def test_create_preview_list_status_and_cancel(tmp_path: Path, capsys):
    config = write_config(tmp_path)
    with_subscribers(config, telegram=3, sms=4)
    spanish = tmp_path / "es.txt"
    spanish.write_text(TEXTS["es"], encoding="utf-8")

    code, out, _ = run(
        capsys, "broadcast", "create", "--config", str(config),
        "--text", f"en={TEXTS['en']}", "--file", f"es={spanish}",
    )  # fmt: skip
    assert code == 0
    assert out.startswith("Created broadcast #1 (draft).\n\nBroadcast #1: preview\nRecipients: 7")
    assert "• SMS: English 2, Spanish 2" in out  # locales cycle es, en, none (English), es
    assert "SMS in English: GSM-7, segments per message: 1" in out
    assert f"Spanish, as it will arrive:\n\n{TEXTS['es']}" in out
    assert "Send it with: kyrbot broadcast send 1" in out

    code, out, _ = run(capsys, "broadcast", "preview", "1", "--config", str(config))
    assert code == 0
    assert "Estimated SMS cost: $0.0" in out

    code, out, _ = run(capsys, "broadcast", "list", "--config", str(config))
    assert code == 0
    assert out.startswith("#1     draft")

    code, out, _ = run(capsys, "broadcast", "status", "1", "--json", "--config", str(config))
    assert json.loads(out)["status"] == "draft"

    code, out, _ = run(capsys, "broadcast", "cancel", "1", "--config", str(config))
    assert code == 0
    assert out.startswith("Broadcast #1: cancelled")

    code, _, err = run(capsys, "broadcast", "send", "1", "--yes", "--config", str(config))
    assert code == 1
    assert "refused: Broadcast #1 is cancelled: it cannot be changed or sent again." in err


def test_a_missing_language_is_refused_unless_fallback_is_allowed(tmp_path: Path, capsys):
    config = write_config(tmp_path)
    texts = tmp_path / "update.yaml"
    texts.write_text(yaml.safe_dump({"texts": {"en": TEXTS["en"]}}), encoding="utf-8")

    code, _, err = run(
        capsys, "broadcast", "create", "--yaml", str(texts), "--config", str(config)
    )
    assert code == 1
    assert "refused: Missing text in Spanish. Write it, or explicitly allow" in err

    texts.write_text(
        yaml.safe_dump({"texts": {"en": TEXTS["en"]}, "allow_fallback": True}), encoding="utf-8"
    )
    code, out, _ = run(
        capsys, "broadcast", "create", "--yaml", str(texts), "--config", str(config)
    )
    assert code == 0
    assert "No text in Spanish: those people get the English text" in out


def test_send_asks_first_and_will_not_send_from_a_pipe_without_yes(tmp_path: Path, capsys):
    config = write_config(tmp_path)
    run(capsys, "broadcast", "create", "--config", str(config), *_texts())

    code, out, err = run(capsys, "broadcast", "send", "1", "--config", str(config))

    assert code == 1
    assert "add --yes" in err
    assert "Not sent." in out
    code, out, _ = run(capsys, "broadcast", "status", "1", "--config", str(config))
    assert out.strip() == "Broadcast #1: draft, not sent"


def test_stats_show_topic_counts_per_week_and_nothing_else(tmp_path: Path, capsys):
    config = write_config(tmp_path)

    async def count() -> None:
        async with storage_for(load_config(config)) as storage:
            today = datetime.now(UTC).date()
            await storage.add_topic_counts({(today, "kyr.warrants", "es", "sms"): 7})

    asyncio.run(count())

    code, out, _ = run(capsys, "stats", "--config", str(config))
    assert code == 0
    assert "Topics people opened, per week (counts only; nobody can be identified):" in out
    assert "     7  kyr.warrants  es  SMS" in out
    assert "Chats with volunteers in the last 8 weeks: 0 opened, 0 answered;" in out
    code, out, _ = run(capsys, "stats", "--json", "--tickets", "--config", str(config))
    assert json.loads(out) == {"opened": 0, "answered": 0, "median_first_answer_seconds": None}
    code, out, _ = run(capsys, "stats", "--json", "--config", str(config))
    [row] = json.loads(out)
    assert {k: row[k] for k in ("node", "locale", "channel", "count")} == {
        "node": "kyr.warrants",
        "locale": "es",
        "channel": "sms",
        "count": 7,
    }


def _texts() -> list[str]:
    return ["--text", f"en={TEXTS['en']}", "--text", f"es={TEXTS['es']}"]


# -- real processes against the fake servers ---------------------------------------------------


@pytest.fixture
async def fakes() -> AsyncIterator[tuple[FakeBotApi, FakeTwilioServer]]:
    twilio = FakeTwilioServer()
    await twilio.start()
    async with FakeBotApi() as telegram:
        try:
            yield telegram, twilio
        finally:
            await twilio.stop()


def fake_channels(telegram: FakeBotApi, twilio: FakeTwilioServer, rate: float) -> dict[str, Any]:
    return {
        "telegram": {
            "token": telegram.token,
            "base_url": telegram.base_url,
            "messages_per_second": rate,
        },
        "twilio": {
            "account_sid": FAKE_ACCOUNT_SID,
            "auth_token": FAKE_AUTH_TOKEN,
            "from_number": FAKE_FROM_NUMBER,
            "api_base_url": twilio.base_url,
            "segments_per_second": rate,
        },
    }


async def kyrbot(
    *args: str, cwd: Path, log: Path, wait: bool = True
) -> asyncio.subprocess.Process:
    env = {k: v for k, v in os.environ.items() if k not in ("TWILIO_EDGE", "TWILIO_REGION")}
    with log.open("ab") as output:  # the child keeps its own handle
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", *args,
            cwd=cwd, env=env, stdout=output, stderr=subprocess.STDOUT,
        )  # fmt: skip
    if wait:
        await asyncio.wait_for(process.wait(), 60)
    return process


async def test_send_with_yes_shows_progress_and_the_report(fakes, tmp_path: Path):
    telegram, twilio = fakes
    config = write_config(tmp_path, **fake_channels(telegram, twilio, 1000))
    async with storage_for(load_config(config)) as storage:
        audience = await add_subscribers(storage, telegram=10, sms=10)
        broadcast = await BroadcastService(storage, load_config(config)).create("cli:t", TEXTS)
    out, err = tmp_path / "out.txt", tmp_path / "err.txt"
    env = {k: v for k, v in os.environ.items() if k not in ("TWILIO_EDGE", "TWILIO_REGION")}

    with out.open("wb") as stdout_file, err.open("wb") as stderr_file:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "broadcast", "send", str(broadcast.id), "--yes",
            "--config", str(config), cwd=tmp_path, env=env, stdout=stdout_file,
            stderr=stderr_file,
        )  # fmt: skip
    assert await asyncio.wait_for(process.wait(), 60) == 0

    stdout, stderr = out.read_text(encoding="utf-8"), err.read_text(encoding="utf-8")
    assert "Traceback" not in stderr
    assert "/20 " in stderr  # the progress bar
    assert f"Broadcast #{broadcast.id}: finished" in stdout
    assert "In all: sent 20, delivered 0, failed 0, opted out 0, unknown 0" in stdout
    assert Counter(m.chat_id for m in telegram.sent) == Counter(
        int(c.address.id) for c in audience.on("telegram")
    )
    assert sorted(r.form["To"] for r in twilio.requests) == sorted(
        c.address.id for c in audience.on("sms")
    )


async def test_killing_the_server_mid_broadcast_sends_nobody_a_second_copy(fakes, tmp_path: Path):
    telegram, twilio = fakes
    telegram.send_delay = 0.05  # requests are in flight when the kill lands
    twilio.enqueue(*(FakeResponse(delay=0.05) for _ in range(400)))
    config_path = write_config(tmp_path, **fake_channels(telegram, twilio, 40))
    config = load_config(config_path)
    log = tmp_path / "serve.log"
    async with storage_for(config) as storage:
        audience = await add_subscribers(storage, telegram=100, sms=100)
        broadcast = await BroadcastService(storage, config).create("cli:t", TEXTS)
    await kyrbot(
        "broadcast", "send", str(broadcast.id), "--yes", "--detach", "--config",
        str(config_path), cwd=tmp_path, log=log,
    )  # fmt: skip

    def delivered() -> int:
        return len(telegram.sent) + len(twilio.requests)

    first = await kyrbot("serve", "--config", str(config_path), cwd=tmp_path, log=log, wait=False)
    await telegram.wait_until(lambda: delivered() >= 60, within=20)
    first.send_signal(signal.SIGKILL)
    await first.wait()
    at_kill = delivered()
    await asyncio.sleep(0.3)  # answers to the dead process's requests drain
    assert delivered() < 200, "the kill came too late to test anything"

    second = await kyrbot("serve", "--config", str(config_path), cwd=tmp_path, log=log, wait=False)
    try:
        async with storage_for(config) as storage:
            deadline = time.monotonic() + 30
            while (await storage.get_broadcast(broadcast.id)).status != "done":  # type: ignore[union-attr]
                assert time.monotonic() < deadline, log.read_text(encoding="utf-8")[-3000:]
                await asyncio.sleep(0.2)
            report = await BroadcastService(storage, config).report(broadcast.id)
            statuses = await storage.delivery_tally(broadcast.id)
            audit = [(e.actor, e.action) for e in await storage.audit_log()]
    finally:
        second.send_signal(signal.SIGTERM)
        await asyncio.wait_for(second.wait(), 20)

    got = Counter(m.chat_id for m in telegram.sent) + Counter(
        r.form["To"] for r in twilio.requests
    )
    assert max(got.values()) == 1  # nobody received two copies
    summary = report.summary()
    unknown = summary["unknown"]
    assert 1 <= unknown <= 40  # in flight or claimed when the process died
    assert summary["sent"] + unknown == 200
    assert {row.status for row in statuses} <= {"sent", "unknown"}
    missing = [c for c in audience.contacts if (c.address.id if c.address.channel == "sms"
               else int(c.address.id)) not in got]  # fmt: skip
    assert len(missing) <= unknown  # only an unknown delivery may have missed someone
    assert at_kill < 200
    assert ("system", "finish") in audit
    log_text = log.read_text(encoding="utf-8")
    assert "reported unknown" in log_text
    for contact in audience.contacts:
        assert contact.address.id not in log_text
