"""Fan-out through the real adapters against the fake Telegram and Twilio servers.

1,000 subscribers on both channels and languages with injected failures; replies to people
writing in during a broadcast; two instances on one database; the rate limit in segments.
Rates and waits are checked on a fake clock (:class:`~tests.fakes.timer.FakeTimer`), never
on elapsed real time.
"""

from __future__ import annotations

import asyncio
import bisect
import itertools
from collections import Counter, deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from bot.app import channel_callbacks
from bot.broadcast.pacing import RunnerSettings
from bot.broadcast.runner import BroadcastRunner
from bot.broadcast.service import BroadcastService
from bot.broadcast.words import Words
from bot.channels.sms.render import render_sms
from bot.channels.telegram.adapter import TelegramChannel
from bot.config import Config
from bot.conversation.service import ConversationService
from bot.conversation.version import Content
from bot.messages import Reply
from bot.organizer.reports import format_report
from bot.sms_text import segment_info
from bot.storage import SqlStorage, open_storage
from tests.fakes.telegram_server import FakeBotApi
from tests.fakes.timer import FakeTimer
from tests.fakes.twilio_server import (
    FAKE_ACCOUNT_SID,
    FakeResponse,
    FakeTwilioServer,
    SmsHarness,
    twilio_error,
)
from tests.support.broadcast import (
    POSTGRES_URL,
    TEXTS,
    Audience,
    add_subscribers,
    broadcast_config,
    database,
    on_fake_time,
    with_public_url,
)
from tests.support.keys import TEST_VAULT

ORGANIZER = "cli:ana"
RETRYING = RunnerSettings(backoff=0.05, max_backoff=0.2, poll=0.05, heartbeat=0.2)


@dataclass
class Bot:
    """The bot's sending side wired as ``kyrbot serve`` wires it, against the fakes."""

    config: Config
    storage: SqlStorage
    service: ConversationService
    broadcasts: BroadcastService
    telegram: TelegramChannel
    sms: SmsHarness

    def runner(self, **kw) -> BroadcastRunner:
        channels = {"telegram": self.telegram, "sms": self.sms.channel}
        return BroadcastRunner(self.storage, channels, self.config, **kw)

    async def start(self, texts: dict[str, str] = TEXTS) -> int:
        broadcast = await self.broadcasts.create(ORGANIZER, texts)
        await self.broadcasts.start(ORGANIZER, broadcast.id)
        return broadcast.id


@pytest.fixture
async def tg() -> AsyncIterator[FakeBotApi]:
    async with FakeBotApi() as fake:
        yield fake


@pytest.fixture
async def tw() -> AsyncIterator[FakeTwilioServer]:
    fake = FakeTwilioServer()
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()


@pytest.fixture
async def bot(tg, tw, tmp_path: Path, content: Content) -> AsyncIterator[Bot]:
    config = broadcast_config(tg=tg, tw=tw)
    storage = open_storage(f"sqlite+aiosqlite:///{tmp_path / 'kyrbot.sqlite3'}", vault=TEST_VAULT)
    await storage.open()
    broadcasts = BroadcastService(storage, config)
    service = ConversationService(content=content, storage=storage, updates=broadcasts.updates)
    telegram = TelegramChannel(config)
    sms_config = with_public_url(config)
    callbacks = channel_callbacks(service, broadcasts)
    async with SmsHarness(sms_config, callbacks) as sms:
        try:
            yield Bot(config, storage, service, broadcasts, telegram, sms)
        finally:
            await telegram.stop()
            await broadcasts.close()
            await storage.close()


def sends_in_any_second(times: list[float]) -> list[int]:
    """For each send (``times`` sorted), how many sends the second starting there holds."""
    return [bisect.bisect_left(times, start + 1 - 1e-6) - i for i, start in enumerate(times)]


def sms_text(locale: str) -> str:
    return render_sms(Reply(text=TEXTS[locale], locale=locale), fold_accents=False)


async def test_a_thousand_subscribers_each_get_one_message_despite_provider_failures(
    bot: Bot, tg: FakeBotApi, tw: FakeTwilioServer
):
    audience = await add_subscribers(bot.storage, telegram=500, sms=500)
    chats = [int(c.address.id) for c in audience.on("telegram")]
    numbers = [c.address.id for c in audience.on("sms")]
    # Telegram: five people blocked the bot; two answers are lost after delivery (timeouts);
    # a flood limit and three 502s come at different points of the run.
    blocked = set(chats[10:15])
    tg.blocked |= blocked
    lost = {chats[20], chats[21]}
    tg.lost_answers = dict.fromkeys(lost, 1)
    tg.fail_next(status=502, after=50)
    tg.fail_next(status=429, retry_after=1, after=100)
    tg.fail_next(status=502, after=100)
    tg.fail_next(status=502, after=100)
    # Twilio: five numbers replied STOP (21610); some numbers get 429 or 500 first; two
    # answers are lost (the request went out: outcome unknown); one number is invalid.
    stopped = set(numbers[10:15])
    tw.opted_out |= stopped
    for number in numbers[30:33]:
        tw.per_number[number] = deque(
            [twilio_error(20429, status=429, message="Too Many Requests")]
        )
    for number in numbers[40:43]:
        tw.per_number[number] = deque([twilio_error(20500, status=500, message="Internal error")])
    unanswered = {numbers[50], numbers[51]}
    for number in unanswered:
        tw.per_number[number] = deque([FakeResponse(lost=True)])
    invalid = numbers[60]
    tw.per_number[invalid] = deque([twilio_error(21211)])

    broadcast_id = await bot.start()
    await asyncio.wait_for(bot.runner(settings=RETRYING).send_to_end(broadcast_id), 60)

    # What people got, from the fake servers' logs.
    got_telegram = Counter(m.chat_id for m in tg.sent)
    accepted_sms = [r for r in tw.requests if r.status == 201]
    got_sms = Counter(r.form["To"] for r in accepted_sms)
    assert max(got_telegram.values()) == 1
    assert max(got_sms.values()) == 1
    for contact in audience.on("telegram"):
        chat = int(contact.address.id)
        expected = [] if chat in blocked else [TEXTS[Audience.language(contact)]]
        assert [m.text for m in tg.sent_to(chat)] == expected
    for contact in audience.on("sms"):
        bodies = [r.form["Body"] for r in accepted_sms if r.form["To"] == contact.address.id]
        unreachable = contact.address.id in stopped or contact.address.id == invalid
        assert bodies == ([] if unreachable else [sms_text(Audience.language(contact))])
    # The organizer's report matches those logs.
    report = await bot.broadcasts.report(broadcast_id)
    summary = report.summary()
    assert report.broadcast.status == "done"
    assert summary["sent"] == len(tg.sent) - len(lost) + len(accepted_sms) - len(unanswered) == 985
    assert summary["opted_out"] == len(blocked) + len(stopped) == 10
    assert summary["unknown"] == len(lost) + len(unanswered) == 4
    assert summary["failed"] == 1
    assert summary["waiting"] == summary["skipped"] == summary["cancelled"] == 0
    shown = format_report(report, Words())
    assert "• SMS: sent 492, delivered 0, failed 1, opted out 5, unknown 2" in shown
    assert "• Telegram: sent 493, failed 0, opted out 5, unknown 2" in shown
    assert "In all: sent 985, delivered 0, failed 1, opted out 10, unknown 4" in shown
    # Blocked and opted-out people are marked, so the next broadcast leaves them out.
    for chat in blocked:
        contact = await bot.storage.get_contact(
            next(c.address for c in audience.contacts if c.address.id == str(chat))
        )
        assert contact is not None
        assert contact.unreachable
    for number in stopped:
        contact = await bot.storage.get_contact(
            next(c.address for c in audience.contacts if c.address.id == number)
        )
        assert contact is not None
        assert (contact.opted_out, contact.subscribed) == (True, False)
    next_time = await bot.broadcasts.preview((await bot.broadcasts.create(ORGANIZER, TEXTS)).id)
    assert next_time.total == 1000 - len(blocked) - len(stopped) - 1  # the invalid number too


async def test_status_callbacks_turn_sent_sms_into_delivered_or_failed(
    bot: Bot, tw: FakeTwilioServer
):
    audience = await add_subscribers(bot.storage, sms=40)
    broadcast_id = await bot.start()
    await bot.runner(settings=RETRYING).send_to_end(broadcast_id)
    sids = [r.sid for r in tw.requests if r.sid]
    assert len(sids) == len(audience.contacts)

    for n, sid in enumerate(sids):
        status, code = ("undelivered", "30007") if n < 3 else ("delivered", "")
        for step in ("sent", status):  # Twilio reports each stage
            form = {
                "MessageSid": sid,
                "AccountSid": FAKE_ACCOUNT_SID,
                "MessageStatus": step,
                "ErrorCode": code if step == status else "",
            }
            answer = await bot.sms.post("/twilio/status", form)
            assert answer.status == 204

    summary = (await bot.broadcasts.report(broadcast_id)).summary()
    assert (summary["sent"], summary["delivered"], summary["failed"]) == (37, 37, 3)
    text = format_report(await bot.broadcasts.report(broadcast_id), Words())
    assert "SMS: sent 37, delivered 37, failed 3, opted out 0, unknown 0" in text


async def test_a_reply_to_someone_writing_in_needs_none_of_a_broadcasts_sending_time(
    bot: Bot, tg: FakeBotApi
):
    await add_subscribers(bot.storage, telegram=500, sms=500)
    timer = FakeTimer()
    timer.hold()  # the broadcast's clock moves only when the test moves it
    telegram = TelegramChannel(bot.config, timer=timer)
    # long polling: people can write in
    await telegram.start(channel_callbacks(bot.service, bot.broadcasts))
    runner = BroadcastRunner(
        bot.storage,
        {"telegram": telegram, "sms": bot.sms.channel},
        bot.config,
        rates={"telegram": 250, "sms": 250},
        **on_fake_time(bot.storage, timer),
    )
    try:
        broadcast_id = await bot.start()
        sending = asyncio.create_task(runner.send_to_end(broadcast_id))
        await tg.wait_until(lambda: len(tg.sent) >= 1, within=30)  # its sending time begins
        timer.advance(0.2)  # 0.2 s of it (within its first window), at 250 a second
        await tg.wait_until(lambda: len(tg.sent) >= 50, within=30)
        # Mid-way now, and stuck there: its next sending time is taken, and waited for.

        person = 91_000_001
        tg.push_update(tg.text_update(person, "hola", language_code="es"))
        await tg.wait_until(lambda: bool(tg.sent_to(person)), within=30)
        answer = await bot.sms.sms("hola", sender="+14149990000")

        # Both replies left while the broadcast's clock stood still: they waited for none
        # of its sending time.
        assert not sending.done()
        assert len(tg.sent) < 500
        assert answer.status == 200
        assert answer.messages
        timer.release()  # the rest goes out with no real waiting
        await asyncio.wait_for(sending, 60)
    finally:
        timer.release()  # (again, in case a check failed while it was held)
        await telegram.stop()
    assert (await bot.broadcasts.report(broadcast_id)).summary()["sent"] == 1000


async def test_the_sms_rate_limit_counts_segments(bot: Bot, tw: FakeTwilioServer):
    spanish = "Información importante sobre la política SOP 130: " * 2  # UCS-2, 2 segments
    assert segment_info(spanish.strip()).segments == 2
    await add_subscribers(bot.storage, sms=30, locales=("es",))
    timer = FakeTimer()
    tw.clock = timer.now  # each request stamped with the fake time it was sent at
    runner = bot.runner(
        rates={"telegram": None, "sms": 40.0},  # 20 messages/s
        settings=replace(RETRYING, in_flight=1),  # one at a time: stamped when its turn came
        **on_fake_time(bot.storage, timer),
    )
    broadcast_id = await bot.start({"en": "Important SOP 130 news.", "es": spanish})

    await runner.send_to_end(broadcast_id)

    times = [r.at for r in tw.requests]
    assert len(times) == 30
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= 2 / 40 - 1e-6  # never faster than 40 segments a second
    assert max(sends_in_any_second(times)) <= 40 // 2
    assert 2 * (len(times) - 1) / (times[-1] - times[0]) == pytest.approx(40)  # nor slower


@pytest.mark.parametrize(
    "kind", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
async def test_two_instances_share_one_broadcast_without_duplicates_or_exceeding_the_rate(
    kind: str, tg: FakeBotApi, tmp_path: Path
):
    if kind == "postgresql" and not POSTGRES_URL:
        pytest.skip("KYRBOT_TEST_POSTGRES_URL is not set")
    rate = 100
    # One fake clock for both instances; it moves only when both wait, so their sends
    # interleave as in real time and each message is stamped with the time it was sent.
    timer = FakeTimer(parties=2)
    tg.clock = timer.now
    async for db in database(kind, tmp_path):
        config = broadcast_config(tg=tg, telegram={"messages_per_second": rate})
        stores = [db.storage(), db.storage()]
        for store in stores:
            await store.open()
        channels = [TelegramChannel(config), TelegramChannel(config)]
        try:
            audience = await add_subscribers(stores[0], telegram=200)
            bc = BroadcastService(stores[0], config)
            broadcast = await bc.create(ORGANIZER, TEXTS)
            await bc.start(ORGANIZER, broadcast.id)
            runners = [
                BroadcastRunner(
                    store,
                    {"telegram": channel},
                    config,
                    settings=replace(RETRYING, in_flight=1),  # one task waits on the clock
                    **on_fake_time(store, timer),
                )
                for store, channel in zip(stores, channels, strict=True)
            ]

            async def send(runner: BroadcastRunner, broadcast_id: int) -> None:
                try:
                    await runner.send_to_end(broadcast_id)
                finally:
                    timer.leave()

            await asyncio.wait_for(asyncio.gather(*(send(r, broadcast.id) for r in runners)), 60)
            report = await bc.report(broadcast.id)
        finally:
            for channel in channels:
                await channel.stop()
            for store in stores:
                await store.close()

    assert all(runner.sent > 0 for runner in runners)  # both did real work
    assert Counter(m.chat_id for m in tg.sent) == Counter(
        int(c.address.id) for c in audience.contacts
    )
    assert report.summary()["sent"] == 200
    # Together they stay within the one limit, in every second and between any two sends.
    times = sorted(m.at for m in tg.sent)
    assert max(sends_in_any_second(times)) <= rate
    assert min(b - a for a, b in itertools.pairwise(times)) >= 1 / rate - 1e-6
