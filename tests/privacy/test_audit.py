"""``kyrbot privacy audit`` finds seeded numbers, chat ids and texts, and passes a clean run."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from bot.channels.outbox import encode_reply
from bot.cli import main
from bot.messages import Reply
from tests.conftest import make_config
from tests.support import traffic
from tests.support.keys import TEST_PRIVACY
from tests.support.release import ANA, CANARY_TEXT, CARL_CHAT, make_plaintext_database
from tests.support.storage import ALICE, NOW, TODAY, sql_database


def audit(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["privacy", "audit", *args])
    out, err = capsys.readouterr()
    return code, out + err


async def test_a_plain_text_database_of_the_old_release_is_caught(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    database = tmp_path / "old.sqlite3"
    make_plaintext_database(tmp_path, f"sqlite+aiosqlite:///{database}")

    code, out = audit(capsys, "--database", str(database), "--canary", CANARY_TEXT)

    assert code == 1
    assert "contacts.address: phone number (+1********01)" in out
    assert "contacts.address: phone number or chat id (41******03)" in out  # Carl's chat id
    assert "sessions.state: text like a message" in out
    assert "old.sqlite3: canary" in out
    assert ANA[0] not in out and CARL_CHAT not in out  # findings never repeat a number


async def test_the_database_and_log_of_real_traffic_are_clean(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async for db in sql_database("sqlite", tmp_path):
        config = make_config(database={"url": db.url})
        async with db.storage() as store:
            await traffic.run_traffic(store, config)
        database = tmp_path / "data" / "kyrbot.sqlite3"
        assert database.exists()
        log = tmp_path / "kyrbot.log"
        log.write_text("2026-03-05 12:00:00,001 INFO bot.app: Pruned 0 sessions\n", "utf-8")
        canaries = [n for n in traffic.needles_as_text() if n != str(traffic.ORGANIZER)]
        args = ["--database", str(database), "--log", str(log)]
        for canary in canaries:
            args += ["--canary", canary]

        code, out = audit(capsys, *args)

        assert code == 0, out
        assert "No phone number, chat id or message text found" in out


def test_logs_and_config_are_scanned_and_the_organisations_own_numbers_allowed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "privacy": TEST_PRIVACY,
                "database": {"url": f"sqlite+aiosqlite:///{tmp_path / 'none.sqlite3'}"},
                "organization": {"hotline": "(414) 555-0100", "org_phone": "+1 414 555 0199"},
                "organizers": {"telegram_ids": [6012345601], "report_chat_id": -1001234567890},
            }
        ),
        encoding="utf-8",
    )
    clean = tmp_path / "clean.log"
    clean.write_text(
        "2026-03-05 12:00:00,001 INFO bot.conversation.service: reply to sms:3fa91c2b77e0\n"
        "2026-03-05 12:00:00,002 INFO bot.organizer: report sent to -1001234567890\n",
        encoding="utf-8",
    )
    assert audit(capsys, "--config", str(config), "--log", str(clean))[0] == 0

    leaky = tmp_path / "leaky.log"
    leaky.write_text("sending to +14145550142 failed\nchat 7012345678 blocked us\n", "utf-8")
    code, out = audit(capsys, "--config", str(config), "--log", str(leaky))
    assert code == 1
    assert f"{leaky}:1: phone number" in out
    assert f"{leaky}:2: phone number or chat id" in out


async def test_a_reply_waiting_in_the_outbox_is_not_taken_for_a_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reply = Reply(text="Milwaukee police may help ICE only with a judicial warrant.")
    async for db in sql_database("sqlite", tmp_path):
        async with db.storage() as store:
            await store.load_conversation(ALICE, TODAY)
            enqueued = await store.outbox.enqueue(
                ALICE, [encode_reply(reply)], worker="w", now=NOW, expires_at=NOW + timedelta(1)
            )
            assert enqueued is not None  # stored, as while its provider is down

        code, out = audit(capsys, "--database", str(tmp_path / "data" / "kyrbot.sqlite3"))

        assert code == 0, out
