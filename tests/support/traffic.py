"""A conversation, a subscription and a broadcast through the real adapters, on any database.

Used by the test that then looks for the identifiers in the database files, and, run as
``python -m tests.support.traffic DIR``, by CI: it leaves a SQLite database, its log and the
config in DIR for ``kyrbot privacy audit`` (plus ``canaries.txt``: what was sent).
"""

from __future__ import annotations

import asyncio
import logging
import struct
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

from bot.app import channel_callbacks
from bot.broadcast.runner import BroadcastRunner
from bot.broadcast.service import BroadcastService, organizer_actor
from bot.channels.telegram.adapter import TelegramChannel
from bot.config import Config
from bot.conversation.service import ConversationService
from bot.conversation.version import load_content
from bot.messages import Address
from bot.storage import Storage, storage_for
from tests.fakes.telegram_server import FakeBotApi
from tests.fakes.twilio_server import FakeTwilioServer, SmsHarness
from tests.support.broadcast import TEXTS, broadcast_config, with_public_url
from tests.support.keys import TEST_PRIVACY

PHONE = "+14145550142"
"""The person writing by SMS (a fictional 555-01xx number)."""
CHAT = 7_012_345_678
"""The person writing on Telegram (their chat id, which is also their user id)."""
ORGANIZER = 6_012_345_601
"""The organizer who sends the broadcast from Telegram."""
SECRET_TEXT = "my cousin was stopped on Layton Avenue yesterday"
"""A message a person sends: it must never be stored."""


def needles_as_text() -> list[str]:
    """Every form the identifiers could take as text."""
    return [PHONE, PHONE[1:], PHONE[2:], str(CHAT), str(ORGANIZER), SECRET_TEXT]


def needles_as_bytes() -> list[bytes]:
    """The identifiers as text, and as integers the way SQLite and PostgreSQL store them."""
    found = [n.encode() for n in needles_as_text()]
    for number in (int(PHONE[1:]), int(PHONE[2:]), CHAT, ORGANIZER):
        found += [struct.pack(">q", number), struct.pack("<q", number)]
        # SQLite stores an integer big-endian in the fewest of 1, 2, 3, 4, 6 or 8 bytes.
        found += [struct.pack(">q", number)[-6:]]
    return found


@dataclass(frozen=True)
class Outcome:
    """What the people saw: enough to know the traffic really ran."""

    sms_replies: int
    telegram_replies: int
    broadcast_sms: list[str]
    broadcast_chats: list[int]


async def run_traffic(storage: Storage, config: Config) -> Outcome:
    """Both people write in and subscribe; the organizer sends a broadcast to them."""
    content = load_content(config)
    async with FakeBotApi() as tg:
        twilio = FakeTwilioServer()
        await twilio.start()
        try:
            return await _talk(storage, config, content, tg, twilio)
        finally:
            await twilio.stop()


async def _talk(storage, config, content, tg: FakeBotApi, tw: FakeTwilioServer) -> Outcome:
    config = broadcast_config(
        tg=tg, tw=tw, database=config.database.url, organizers={"telegram_ids": [ORGANIZER]}
    )
    broadcasts = BroadcastService(storage, config)
    service = ConversationService(content=content, storage=storage, updates=broadcasts.updates)
    callbacks = channel_callbacks(service, broadcasts)
    telegram = TelegramChannel(config)
    await telegram.start(callbacks)
    try:
        async with SmsHarness(with_public_url(config), callbacks) as sms:
            answers = [await sms.sms(text, sender=PHONE) for text in ("hola", SECRET_TEXT)]
            answers += [await sms.sms(text, sender=PHONE) for text in ("subscribe", "1")]
            for text in ("hello", SECRET_TEXT, "subscribe", "1"):
                before = len(tg.sent_to(CHAT))
                tg.push_update(tg.text_update(CHAT, text, language_code="en"))
                await tg.wait_until(lambda b=before: len(tg.sent_to(CHAT)) > b, within=30)
            for address in (Address("sms", PHONE), Address("telegram", str(CHAT))):
                contact = await storage.get_contact(address)
                assert contact is not None and contact.subscribed, address.channel
            actor = organizer_actor(telegram_user_id=ORGANIZER)
            broadcast = await broadcasts.create(actor, TEXTS)
            await broadcasts.start(actor, broadcast.id)
            runner = BroadcastRunner(storage, {"telegram": telegram, "sms": sms.channel}, config)
            await runner.send_to_end(broadcast.id)
            return Outcome(
                sms_replies=sum(len(a.messages) for a in answers),
                telegram_replies=len(tg.sent_to(CHAT)),
                broadcast_sms=[r.form["To"] for r in tw.requests],
                broadcast_chats=[m.chat_id for m in tg.sent if m.text.startswith("SOP 130")],
            )
    finally:
        await telegram.stop()
        await broadcasts.close()


async def _main(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    log = directory / "kyrbot.log"
    logging.basicConfig(
        filename=log, level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    data = {
        "database": {"url": f"sqlite+aiosqlite:///{directory / 'kyrbot.sqlite3'}"},
        "privacy": dict(TEST_PRIVACY),
        "organizers": {"telegram_ids": [ORGANIZER]},
    }
    config_file = directory / "config.yaml"
    config_file.write_text(yaml.safe_dump(data), encoding="utf-8")
    config = broadcast_config(
        database=data["database"]["url"], organizers=data["organizers"], privacy=data["privacy"]
    )
    async with storage_for(config) as storage:
        outcome = await run_traffic(storage, config)
    assert outcome.broadcast_sms == [PHONE] and outcome.broadcast_chats == [CHAT], outcome
    canaries = [n for n in needles_as_text() if n != str(ORGANIZER)]  # configured: allowed
    (directory / "canaries.txt").write_text("\n".join(canaries) + "\n", encoding="utf-8")
    print(f"wrote {directory}: a conversation, a subscription and a broadcast")


if __name__ == "__main__":
    asyncio.run(_main(Path(sys.argv[1])))
