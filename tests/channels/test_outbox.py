"""The outbox against the fake Bot API: an outage loses nothing, and nothing goes twice.

The Bot API is down for a minute of the fake clock (:class:`~tests.fakes.timer.FakeTimer`);
people write in through the real webhook (signed with the secret) and a broadcast starts
meanwhile. Every reply and every broadcast message must arrive exactly once after it is up.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from bot.app import channel_callbacks
from bot.broadcast.pacing import RunnerSettings
from bot.broadcast.runner import BroadcastRunner
from bot.broadcast.service import BroadcastService
from bot.channels.outbox import OutboxSender, decode_reply, encode_reply
from bot.channels.telegram.adapter import TelegramChannel
from bot.conversation.service import ConversationService
from bot.conversation.version import Content
from bot.messages import Address, Choice, Reply
from bot.storage import open_storage
from bot.storage.base import Storage
from bot.web import WebServer, build_web_app
from tests.fakes.telegram_server import FakeBotApi
from tests.fakes.timer import FakeTimer
from tests.support.broadcast import TEXTS, add_subscribers, broadcast_config, on_fake_time
from tests.support.keys import TEST_VAULT

SECRET = "outage_SECRET-for-tests"
PEOPLE = [7100 + n for n in range(12)]


@pytest.fixture
async def sqlite(tmp_path: Path) -> AsyncIterator[Storage]:
    store = open_storage(f"sqlite+aiosqlite:///{tmp_path / 'kyrbot.sqlite3'}", vault=TEST_VAULT)
    await store.open()
    try:
        yield store
    finally:
        await store.close()


def test_a_stored_reply_reads_back_as_it_was_written():
    reply = Reply(
        text="Hola «¿qué?»",
        choices=(Choice("a", "Uno"),),
        nav=(Choice("c:menu", "Menú"),),
        locale="es",
        node="kyr.menu",
    )
    back = decode_reply(encode_reply(reply))
    assert back == reply and back.node == "kyr.menu"


async def test_a_minute_long_bot_api_outage_loses_no_reply_and_sends_none_twice(
    sqlite: Storage, content: Content
):
    timer = FakeTimer()
    async with FakeBotApi(clock=timer.now) as tg:
        config = broadcast_config(tg=tg, telegram={"webhook_secret": SECRET})
        server = config.server.model_copy(update={"public_url": "https://kyrbot.example.org"})
        config = config.model_copy(update={"server": server})
        broadcasts = BroadcastService(sqlite, config)
        service = ConversationService(content=content, storage=sqlite)
        telegram = TelegramChannel(config, timer=timer)
        outbox = OutboxSender(sqlite.outbox, {"telegram": telegram}, timer=timer, now=timer.utcnow)
        web = WebServer(build_web_app(telegram.routes()), host="127.0.0.1", port=0)
        await web.start()
        await telegram.start(channel_callbacks(service, broadcasts, outbox=outbox))
        audience = await add_subscribers(sqlite, telegram=15)
        subscribers = [int(c.address.id) for c in audience.contacts]
        runner = BroadcastRunner(
            sqlite,
            {"telegram": telegram},
            config,
            settings=RunnerSettings(poll=1.0, heartbeat=5.0, worker_timeout=600.0),
            **on_fake_time(sqlite, timer),
        )
        back_at = timer.now() + 60.0
        tg.down = lambda: timer.now() < back_at
        try:
            async with aiohttp.ClientSession() as http:
                for chat in PEOPLE:
                    update = tg.text_update(chat, "/start", language_code="en")
                    async with http.post(
                        f"http://127.0.0.1:{web.port}/telegram/webhook",
                        json=update,
                        headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
                    ) as response:
                        assert response.status == 200
            await telegram.drain()  # every update handled: the replies are in the outbox
            assert not tg.sent
            broadcast = await broadcasts.create("cli:ana", TEXTS)
            await broadcasts.start("cli:ana", broadcast.id)
            outbox.start()
            runner.start()

            def everyone_has_theirs() -> bool:
                got = Counter(m.chat_id for m in tg.sent)
                return all(got[c] >= 1 for c in PEOPLE + subscribers)

            await tg.wait_until(everyone_has_theirs, within=60)
        finally:
            await runner.stop()
            await outbox.stop()
            await telegram.stop()
            await web.stop()
            await broadcasts.close()
    got = Counter(m.chat_id for m in tg.sent)
    assert {chat: got[chat] for chat in PEOPLE + subscribers} == dict.fromkeys(
        PEOPLE + subscribers, 1
    )
    assert min(m.at for m in tg.sent) >= back_at  # nothing got through during the outage
    assert all(m.text for m in tg.sent if m.chat_id in PEOPLE)
    assert await sqlite.outbox.outbox_counts() == {}  # sent rows are gone, text and all
    tally = {row.status: row.count for row in await sqlite.delivery_tally(broadcast.id)}
    assert tally == {"sent": len(subscribers)}


async def test_later_replies_wait_for_an_earlier_one_being_retried(storage: Storage):
    timer = FakeTimer()
    async with FakeBotApi(clock=timer.now) as tg:
        config = broadcast_config(tg=tg)
        telegram = TelegramChannel(config, timer=timer)
        outbox = OutboxSender(
            storage.outbox, {"telegram": telegram}, timer=timer, now=timer.utcnow
        )
        person = Address("telegram", "4242")
        await storage.load_conversation(person, timer.utcnow().date())
        try:
            tg.fail_next(status=502)
            first = await outbox.submit(telegram, person, [Reply(text="one"), Reply(text="two")])
            later = await outbox.submit(telegram, person, [Reply(text="three")])
            assert (first, later) == (False, False)  # one failed; the rest wait behind it
            assert not tg.sent
            while await outbox.run_once() or await storage.outbox.next_outbox_due(["telegram"]):
                await timer.sleep(1.0)
        finally:
            await telegram.stop()
    assert [m.text for m in tg.sent] == ["one", "two", "three"]


async def test_a_forgotten_contact_leaves_nothing_in_the_outbox(storage: Storage):
    person = Address("telegram", "4343")
    timer = FakeTimer()
    await storage.load_conversation(person, timer.utcnow().date())
    queued = await storage.outbox.enqueue(
        person, ["{}"], worker="w", now=timer.utcnow(), expires_at=timer.utcnow()
    )
    assert queued is not None and queued.claimed
    assert await storage.forget(person)
    assert await storage.outbox.outbox_counts() == {}
