"""Broadcasts: authoring rules, preview, audit log, retries, crash rules, archive, reports, stats.

The runner here sends through a scripted in-memory channel, so every failure mode is exact;
tests/test_broadcast_fanout.py runs the real adapters against the fake servers.
"""

from __future__ import annotations

import asyncio
import itertools
import socket
import sys
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from babel.dates import format_date

from bot.broadcast.pacing import RunnerSettings
from bot.broadcast.runner import BroadcastRunner
from bot.broadcast.service import BroadcastService
from bot.broadcast.words import Words
from bot.channels.base import Channel, ChannelCallbacks, DeliveryAttempt
from bot.channels.capabilities import Capabilities
from bot.channels.pacing import LOOP_TIMER, Timer
from bot.config import Config
from bot.conversation.service import ConversationService
from bot.errors import (
    BroadcastError,
    ChannelUnavailable,
    OutcomeUnknown,
    PermanentSendError,
    RateLimited,
    RecipientUnreachable,
)
from bot.messages import Address, DeliveryReport, Inbound, Reply
from bot.organizer.reports import format_preview, format_report, format_stats
from bot.storage import SqlStorage, open_storage
from tests.fakes.timer import FakeTimer
from tests.support.broadcast import TEXTS, add_subscribers, broadcast_config, on_fake_time
from tests.support.keys import TEST_VAULT

ORGANIZER = "cli:ana"


class ScriptedChannel(Channel):
    """A channel whose answers per address are scripted: an exception, or success."""

    capabilities = Capabilities(buttons=False, max_text_length=1600)

    def __init__(self, name: str, *, delay: float = 0.0, timer: Timer = LOOP_TIMER) -> None:
        self.name = name  # type: ignore[misc]
        super().__init__(timer=timer)
        self.delay = delay
        self.script: dict[str, list[Exception]] = {}
        self.always: dict[str, Exception] = {}
        self.delivered: list[tuple[str, str, str, float]] = []
        self.attempts: Counter[str] = Counter()
        self.attempted_at: defaultdict[str, list[float]] = defaultdict(list)
        """Per address, the timer's time at each attempt."""

    async def start(self, callbacks: ChannelCallbacks) -> None:
        return None

    async def stop(self) -> None:
        return None

    def _render(self, reply: Reply) -> tuple[Reply, ...]:
        return (reply,)

    async def _deliver(self, address: Address, part: Any, attempt: DeliveryAttempt) -> str:
        self.attempts[address.id] += 1
        self.attempted_at[address.id].append(self.timer.now())
        if self.delay:
            await asyncio.sleep(self.delay)
        if address.id in self.always:
            raise self.always[address.id]
        pending = self.script.get(address.id)
        if pending:
            raise pending.pop(0)
        self.delivered.append((address.id, part.locale, part.text, self.timer.now()))
        return f"{self.name}-{len(self.delivered)}"

    def _map_error(self, error: Exception, attempt: DeliveryAttempt) -> None:
        return None  # scripted failures are send errors already

    def received(self, address: Address) -> list[tuple[str, str]]:
        return [(loc, text) for who, loc, text, _ in self.delivered if who == address.id]


async def until(condition, within: float = 5.0) -> None:
    """Wait until ``condition()`` holds (polling), or fail."""
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        await asyncio.sleep(0.005)


async def until_async(condition: Callable[[], Awaitable[bool]], within: float = 30.0) -> None:
    """Wait until ``await condition()`` holds (polling), or fail."""
    deadline = time.monotonic() + within
    while not await condition():
        assert time.monotonic() < deadline, "timed out waiting"
        await asyncio.sleep(0.005)


FAST = RunnerSettings(backoff=0.02, max_backoff=0.1, poll=0.02, heartbeat=0.05)


@pytest.fixture
def bc_config() -> Config:
    return broadcast_config(sms={"fold_accents": {"es": False}})


@pytest.fixture
async def store(tmp_path) -> AsyncIterator[SqlStorage]:
    storage = open_storage(f"sqlite+aiosqlite:///{tmp_path / 'bc.sqlite3'}", vault=TEST_VAULT)
    await storage.open()
    try:
        yield storage
    finally:
        await storage.close()


@pytest.fixture
def bc(store: SqlStorage, bc_config: Config) -> BroadcastService:
    return BroadcastService(store, bc_config)


def runner_for(store, config, *channels: Channel, settings=FAST, **kw) -> BroadcastRunner:
    return BroadcastRunner(
        store,
        {c.name: c for c in channels},
        config,
        rates={c.name: None for c in channels},
        settings=settings,
        **kw,
    )


async def send_now(bc: BroadcastService, texts=TEXTS, **kw) -> int:
    broadcast = await bc.create(ORGANIZER, texts, **kw)
    await bc.start(ORGANIZER, broadcast.id)
    return broadcast.id


# -- authoring ---------------------------------------------------------------------------------


async def test_a_broadcast_missing_a_language_is_refused_unless_fallback_is_allowed(bc):
    with pytest.raises(BroadcastError, match="Missing text in Spanish"):
        await bc.create(ORGANIZER, {"en": TEXTS["en"]})

    draft = await bc.create(ORGANIZER, {"en": TEXTS["en"]}, allow_fallback=True)

    preview = await bc.preview(draft.id)
    assert preview.missing == ["es"]
    assert "No text in Spanish: those people get the English text" in format_preview(
        preview, Words()
    )


@pytest.mark.parametrize(
    ("texts", "reason"),
    [
        ({"es": TEXTS["es"]}, "The English text is required"),
        ({"en": "  ", "es": TEXTS["es"]}, "The English text is empty"),
        (
            {"en": "x" * 1601, "es": TEXTS["es"]},
            "has 1,601 characters; one message holds at most 1,600",
        ),
        ({"en": "Hi", "es": "Hola", "fr": "Salut"}, "French is not one of the bot's languages"),
    ],
)
async def test_texts_that_cannot_be_sent_are_refused_with_the_reason(bc, texts, reason):
    with pytest.raises(BroadcastError, match=reason):
        await bc.create(ORGANIZER, texts, allow_fallback=True)
    assert await bc.recent() == []


async def test_the_preview_counts_recipients_per_channel_and_language(bc, store):
    await add_subscribers(store, telegram=4, sms=6)  # es, en, none (default en), ...
    draft = await bc.create(ORGANIZER, TEXTS)

    preview = await bc.preview(draft.id)

    assert preview.audience == {"telegram": {"es": 2, "en": 2}, "sms": {"es": 2, "en": 4}}
    assert preview.total == 10
    text = format_preview(preview, Words())
    assert "Recipients: 10" in text
    assert "• SMS: English 4, Spanish 2" in text
    assert "• Telegram: English 2, Spanish 2" in text


async def test_the_preview_gives_sms_encoding_segments_and_both_costs(store, tmp_path):
    await add_subscribers(store, sms=100, locales=("es",))
    spanish = "Información: la política cambió. " * 4 + "Lea más aquí."  # 145 characters
    for fold in (False, True):
        config = broadcast_config(sms={"fold_accents": {"es": fold}, "price_per_segment": 0.01})
        bc = BroadcastService(store, config)
        draft = await bc.create(ORGANIZER, {"en": "Policy changed.", "es": spanish})
        preview = await bc.preview(draft.id)
        cost = preview.sms["es"]
        assert (cost.form.encoding, cost.other.encoding) == (
            ("GSM-7", "UCS-2") if fold else ("UCS-2", "GSM-7")
        )
        text = format_preview(preview, Words())
        as_sent, other = (1, 3) if fold else (3, 1)
        assert f"SMS in Spanish: {cost.form.encoding}, segments per message: {as_sent}" in text
        assert f"segments per message: {other})" in text
        assert f"Estimated SMS cost: ${as_sent}.00 (segments: {as_sent * 100}" in text
        if fold:
            assert f"Keeping every accent: ${other}.00 (segments: {other * 100})" in text
            assert "Spanish by SMS, as it will arrive:\n\nInformacion: la politica cambio." in text
        else:
            assert f"With accents folded in every language: ${other}.00" in text
        assert f"Spanish, as it will arrive:\n\n{spanish.strip()}" in text


async def test_every_organizer_step_is_audited_without_personal_data(bc, store, bc_config):
    audience = await add_subscribers(store, telegram=2, sms=2)
    draft = await bc.create(ORGANIZER, {"en": "Hi", "es": "Hola"})
    await bc.edit(ORGANIZER, draft.id, TEXTS, allow_fallback=False)
    await bc.preview(draft.id, actor=ORGANIZER)
    await bc.start(ORGANIZER, draft.id)
    telegram, sms = ScriptedChannel("telegram"), ScriptedChannel("sms")
    await runner_for(store, bc_config, telegram, sms).send_to_end(draft.id, poll=0.02)
    other = await bc.create("telegram:42", TEXTS)
    await bc.cancel("telegram:42", other.id)

    entries = list(reversed(await store.audit_log()))

    assert [(e.actor, e.action) for e in entries] == [
        (ORGANIZER, "create"),
        (ORGANIZER, "edit"),
        (ORGANIZER, "preview"),
        (ORGANIZER, "send"),
        ("system", "finish"),
        ("telegram:42", "create"),
        ("telegram:42", "cancel"),
    ]
    assert entries[3].detail == {"broadcast": draft.id, "recipients": {"sms": 2, "telegram": 2}}
    assert entries[4].detail == {"broadcast": draft.id, "sent": 4}
    everything = repr([e.detail for e in entries])
    for contact in audience.contacts:
        assert contact.address.id not in everything


async def test_only_a_draft_can_be_sent_or_edited(bc, store):
    draft = await bc.create(ORGANIZER, TEXTS)
    await bc.start(ORGANIZER, draft.id)

    with pytest.raises(BroadcastError, match=f"#{draft.id} is being sent"):
        await bc.start(ORGANIZER, draft.id)
    with pytest.raises(BroadcastError, match="cannot be changed or sent again"):
        await bc.edit(ORGANIZER, draft.id, TEXTS, allow_fallback=False)
    with pytest.raises(BroadcastError, match="There is no broadcast #99"):
        await bc.preview(99)


# -- fan-out rules -------------------------------------------------------------------------------


async def test_each_subscriber_gets_one_copy_in_their_language(bc, store, bc_config):
    audience = await add_subscribers(store, telegram=9, sms=9)
    telegram, sms = ScriptedChannel("telegram"), ScriptedChannel("sms")
    broadcast_id = await send_now(bc)

    await runner_for(store, bc_config, telegram, sms).send_to_end(broadcast_id, poll=0.02)

    for contact in audience.contacts:
        channel = telegram if contact.address.channel == "telegram" else sms
        language = audience.language(contact)
        assert channel.received(contact.address) == [(language, TEXTS[language])]
    report = await bc.report(broadcast_id)
    assert report.broadcast.status == "done"
    assert report.summary()["sent"] == 18


async def test_retryable_errors_are_retried_with_backoff_then_given_up(bc, store, bc_config):
    flaky, hopeless, limited = (await add_subscribers(store, sms=3)).contacts
    timer = FakeTimer()
    sms = ScriptedChannel("sms", timer=timer)
    sms.script[flaky.address.id] = [ChannelUnavailable("502"), ChannelUnavailable("502")]
    sms.always[hopeless.address.id] = ChannelUnavailable("down")
    sms.script[limited.address.id] = [RateLimited("429", retry_after=0.3)]
    broadcast_id = await send_now(bc)
    runner = runner_for(
        store,
        bc_config,
        sms,
        settings=RunnerSettings(backoff=0.02, max_backoff=0.05, poll=0.02, max_attempts=4),
        **on_fake_time(store, timer),
    )

    await runner.send_to_end(broadcast_id, poll=0.02)

    assert sms.attempts == {flaky.address.id: 3, hopeless.address.id: 4, limited.address.id: 2}
    assert len(sms.received(flaky.address)) == 1
    assert len(sms.received(limited.address)) == 1
    first, retried = sms.attempted_at[limited.address.id]
    assert retried - first >= 0.3 - 1e-6  # retry_after was honoured
    for who in (flaky, hopeless):
        times = sms.attempted_at[who.address.id]
        assert min(b - a for a, b in itertools.pairwise(times)) >= 0.02 * 0.8 - 1e-6  # backoff
    summary = (await bc.report(broadcast_id)).summary()
    assert (summary["sent"], summary["failed"]) == (2, 1)


async def test_retry_after_pauses_the_whole_channel(bc, store, bc_config):
    audience = await add_subscribers(store, telegram=6)
    timer = FakeTimer()
    telegram = ScriptedChannel("telegram", timer=timer)
    telegram.script[audience.contacts[0].address.id] = [RateLimited("429", retry_after=0.4)]
    broadcast_id = await send_now(bc)
    runner = BroadcastRunner(
        store,
        {"telegram": telegram},
        bc_config,
        rates={"telegram": 1000},
        settings=RunnerSettings(in_flight=1, backoff=0.01, poll=0.02),
        **on_fake_time(store, timer),
    )

    started = timer.now()
    await runner.send_to_end(broadcast_id, poll=0.02)

    first_after = min(at for _, _, _, at in telegram.delivered)
    assert first_after - started >= 0.35  # nobody got a message during the pause
    assert len(telegram.delivered) == 6


async def test_an_unknown_outcome_is_reported_and_never_resent(bc, store, bc_config):
    timed_out, _fine = (await add_subscribers(store, telegram=2)).contacts
    telegram = ScriptedChannel("telegram")
    telegram.script[timed_out.address.id] = [OutcomeUnknown("read timeout")]
    broadcast_id = await send_now(bc)

    await runner_for(store, bc_config, telegram).send_to_end(broadcast_id, poll=0.02)

    assert telegram.attempts[timed_out.address.id] == 1
    report = await bc.report(broadcast_id)
    assert report.summary()["unknown"] == 1
    assert "may or may not have arrived; they are not sent again" in format_report(report, Words())


async def test_blocked_and_opted_out_people_are_marked_and_left_out_next_time(
    bc, store, bc_config
):
    blocked, invalid, stopped, refused = (await add_subscribers(store, telegram=2, sms=2)).contacts
    telegram, sms = ScriptedChannel("telegram"), ScriptedChannel("sms")
    telegram.always[blocked.address.id] = RecipientUnreachable("blocked", blocked=True, code="403")
    telegram.always[invalid.address.id] = RecipientUnreachable("chat not found", code="400")
    sms.always[stopped.address.id] = RecipientUnreachable("21610", opted_out=True, code="21610")
    sms.always[refused.address.id] = PermanentSendError("bad request", code="21602")
    runner = runner_for(store, bc_config, telegram, sms)

    first = await send_now(bc)
    await runner.send_to_end(first, poll=0.02)

    summary = (await bc.report(first)).summary()
    assert (summary["opted_out"], summary["failed"]) == (2, 2)
    assert (await store.get_contact(stopped.address)).opted_out  # type: ignore[union-attr]
    assert (await store.get_contact(blocked.address)).unreachable  # type: ignore[union-attr]
    assert (await store.get_contact(invalid.address)).unreachable  # type: ignore[union-attr]
    preview = await bc.preview((await bc.create(ORGANIZER, TEXTS)).id)
    assert preview.total == 1  # only the one whose message was refused for another reason


async def test_a_delivery_in_flight_in_a_dead_process_is_unknown_and_not_resent(
    bc, store, bc_config
):
    audience = await add_subscribers(store, telegram=5)
    broadcast_id = await send_now(bc)
    while await store.materialize_deliveries(
        broadcast_id,
        locales={"en": "en", "es": "es"},
        default_locale="en",
        batch_size=10,
        now=datetime.now(UTC),
    ):
        pass
    # A sender process claimed two deliveries, then died (a real, finished process's pid).
    dead = await asyncio.create_subprocess_exec(sys.executable, "-c", "pass")
    await dead.wait()
    await store.register_worker(
        "crashed", host=socket.gethostname(), pid=dead.pid, now=datetime.now(UTC)
    )
    in_flight = await store.claim_deliveries(
        broadcast_id, channel="telegram", worker="crashed", limit=2, now=datetime.now(UTC)
    )
    telegram = ScriptedChannel("telegram")

    await runner_for(store, bc_config, telegram).send_to_end(broadcast_id, poll=0.02)

    lost = {item.contact_id for item in in_flight}
    for contact in audience.contacts:
        assert len(telegram.received(contact.address)) == (0 if contact.id in lost else 1)
    report = await bc.report(broadcast_id)
    assert report.broadcast.status == "done"
    assert report.summary()["unknown"] == 2


async def test_cancelling_stops_a_broadcast_being_sent(bc, store, bc_config):
    await add_subscribers(store, telegram=40)
    telegram = ScriptedChannel("telegram", delay=0.01)
    broadcast_id = await send_now(bc)
    runner = runner_for(
        store, bc_config, telegram, settings=RunnerSettings(in_flight=1, max_batch=2, poll=0.02)
    )
    sending = asyncio.create_task(runner.send_to_end(broadcast_id, poll=0.02))
    await until(lambda: len(telegram.delivered) >= 5)

    report = await bc.cancel(ORGANIZER, broadcast_id)
    await asyncio.wait_for(sending, 5)

    final = (await bc.report(broadcast_id)).summary()
    assert final["cancelled"] >= 30
    assert final["sent"] == len(telegram.delivered) < 10
    assert report.broadcast.status == "cancelled"
    assert "cancelled" in format_report(await bc.report(broadcast_id), Words())


async def test_stopping_gives_back_claims_that_were_not_attempted(bc, store, bc_config):
    audience = await add_subscribers(store, telegram=20)
    broadcast_id = await send_now(bc)
    slow = ScriptedChannel("telegram", delay=0.05)
    first = runner_for(
        store, bc_config, slow, settings=RunnerSettings(in_flight=2, max_batch=10, poll=0.02)
    )
    task = asyncio.create_task(first.send_to_end(broadcast_id, poll=0.02))
    await until(lambda: len(slow.delivered) >= 2)
    await first.stop(grace=5)
    await task

    second = ScriptedChannel("telegram")
    await runner_for(store, bc_config, second).send_to_end(broadcast_id, poll=0.02)

    for contact in audience.contacts:
        got = len(slow.received(contact.address)) + len(second.received(contact.address))
        assert got == 1
    assert (await bc.report(broadcast_id)).summary()["unknown"] == 0


# -- delivery reports, archive, stats ----------------------------------------------------------


async def test_twilio_status_callbacks_update_deliveries(bc, store, bc_config):
    delivered, filtered, stopped = (await add_subscribers(store, sms=3)).contacts
    sms = ScriptedChannel("sms")
    broadcast_id = await send_now(bc)
    await runner_for(store, bc_config, sms).send_to_end(broadcast_id, poll=0.02)
    sid = {who: f"sms-{n}" for n, (who, *_rest) in enumerate(sms.delivered, start=1)}

    await bc.on_delivery_report(DeliveryReport("sms", sid[delivered.address.id], "sent"))
    await bc.on_delivery_report(DeliveryReport("sms", sid[delivered.address.id], "delivered"))
    await bc.on_delivery_report(
        DeliveryReport("sms", sid[filtered.address.id], "undelivered", "30007")
    )
    await bc.on_delivery_report(
        DeliveryReport("sms", sid[stopped.address.id], "failed", "21610", opted_out=True)
    )

    summary = (await bc.report(broadcast_id)).summary()
    assert {k: summary[k] for k in ("sent", "delivered", "failed", "opted_out")} == {
        "sent": 1,
        "delivered": 1,
        "failed": 1,
        "opted_out": 1,
    }
    assert (await store.get_contact(stopped.address)).opted_out  # type: ignore[union-attr]


async def test_a_status_callback_that_overtakes_the_send_record_is_applied_later(store, bc_config):
    await add_subscribers(store, sms=1)
    timer = FakeTimer()
    timer.hold()  # the report waits to be tried again until the test moves the clock
    bc = BroadcastService(store, bc_config, timer=timer)
    broadcast_id = await send_now(bc)
    await bc.on_delivery_report(DeliveryReport("sms", "sms-1", "delivered"))  # before it was sent

    await runner_for(store, bc_config, ScriptedChannel("sms")).send_to_end(broadcast_id, poll=0.02)
    assert (await bc.report(broadcast_id)).summary()["delivered"] == 0
    timer.release()  # the report is tried again, now that its send is recorded

    async def delivered() -> bool:
        return (await bc.report(broadcast_id)).summary()["delivered"] == 1

    await until_async(delivered)
    assert len(timer.slept) == 1  # one more try did it
    await bc.close()


async def test_sent_updates_appear_newest_first_dated_in_the_readers_language(
    bc, store, bc_config, content
):
    old = await send_now(bc, {"en": "Older update.", "es": "Novedad anterior."})
    await runner_for(store, bc_config).send_to_end(old, poll=0.02)
    await send_now(bc, {"en": "Newest update.", "es": "Novedad más reciente."})
    draft = await bc.create(ORGANIZER, {"en": "Not sent yet.", "es": "Aún no."})
    service = ConversationService(content=content, storage=store, updates=bc.updates)
    reader = Address("telegram", "777")
    now = datetime.now(UTC)

    await service.handle(Inbound(reader, "hola", now))
    [reply] = await service.handle(Inbound(reader, "", now, choice_id="n:kyr.updates"))

    assert reply.node == "kyr.updates"
    assert draft.texts["es"] not in reply.text
    newest, older = (
        reply.text.index("Novedad más reciente."),
        reply.text.index("Novedad anterior."),
    )
    assert newest < older
    today = datetime.now(UTC).astimezone().date()
    assert format_date(today, format="medium", locale="es") in reply.text


async def test_weekly_stats_sum_topic_counts_per_week_language_and_channel(bc, store):
    monday = date(2026, 3, 2)
    await store.add_topic_counts(
        {
            (monday, "kyr.warrants", "es", "sms"): 3,
            (monday + timedelta(days=4), "kyr.warrants", "es", "sms"): 2,
            (monday + timedelta(days=1), "kyr.door", "en", "telegram"): 1,
            (monday + timedelta(days=7), "kyr.warrants", "es", "sms"): 5,
        }
    )

    rows = await bc.weekly_stats(weeks=2, today=monday + timedelta(days=9))

    assert [(r.week, r.node, r.locale, r.channel, r.count) for r in rows] == [
        (monday, "kyr.door", "en", "telegram", 1),
        (monday, "kyr.warrants", "es", "sms", 5),
        (monday + timedelta(days=7), "kyr.warrants", "es", "sms", 5),
    ]
    text = format_stats(rows, Words(), weeks=2)
    assert text.index("Week of Mar 9, 2026: 5") < text.index("Week of Mar 2, 2026: 6")
    assert format_stats([], Words(), weeks=2) == "No topics were counted in the last 2 weeks."


def test_no_address_or_message_text_reaches_the_log(caplog) -> None:
    """The runner logs hashes and error classes only (checked over a whole failing run)."""

    async def scenario() -> None:
        storage = open_storage("sqlite+aiosqlite://", vault=TEST_VAULT)
        await storage.open()
        config = broadcast_config()
        bc = BroadcastService(storage, config)
        audience = await add_subscribers(storage, telegram=3)
        channel = ScriptedChannel("telegram")
        a, b, _c = audience.contacts
        channel.always[a.address.id] = OutcomeUnknown("timeout for " + a.address.id)
        channel.script[b.address.id] = [ChannelUnavailable("down " + b.address.id)]
        broadcast_id = await send_now(bc)
        await runner_for(storage, config, channel).send_to_end(broadcast_id, poll=0.02)
        await storage.close()
        for record in caplog.records:
            message = record.getMessage()
            assert TEXTS["en"] not in message
            for contact in audience.contacts:
                assert contact.address.id not in message

    caplog.set_level("DEBUG", logger="bot")
    asyncio.run(scenario())
    assert any("outcome unknown" in r.getMessage() for r in caplog.records)
