"""Organizers on Telegram: /broadcast writes, previews, sends and reports; /stats; others."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.app import channel_callbacks
from bot.broadcast.pacing import RunnerSettings
from bot.broadcast.runner import BroadcastRunner
from bot.broadcast.service import BroadcastService
from bot.channels.telegram.adapter import TelegramChannel
from bot.conversation.service import ConversationService
from bot.conversation.version import Content
from bot.organizer.telegram import OrganizerConsole
from bot.storage import SqlStorage, open_storage
from tests.fakes.telegram_server import FakeBotApi, SentMessage
from tests.support.broadcast import ORGANIZER, TEXTS, Audience, add_subscribers, broadcast_config
from tests.support.keys import TEST_VAULT

REPORT_CHAT = -100_555


@dataclass
class Console:
    fake: FakeBotApi
    storage: SqlStorage
    broadcasts: BroadcastService

    async def say(
        self, text: str, *, expect: int = 1, chat: int = ORGANIZER, lang: str = "en"
    ) -> list[SentMessage]:
        before = len(self.fake.sent)
        self.fake.push_update(self.fake.text_update(chat, text, language_code=lang))
        await self.fake.wait_for_sent(before + expect)
        return self.fake.sent[before:]

    async def press(self, label: str, *, expect: int = 1, lang: str = "en") -> list[SentMessage]:
        """Press a button on the organizer's latest message showing it; return new messages."""
        before = len(self.fake.sent)
        self.fake.push_update(self.fake.press(ORGANIZER, label, language_code=lang))
        await self.fake.wait_for_sent(before + expect)
        return self.fake.sent[before:]

    async def final_report(self) -> str:
        def finished() -> str | None:
            for edit in reversed(self.fake.edits):
                if "finished" in edit.text or "terminada" in edit.text:
                    return edit.text
            return None

        await self.fake.wait_until(lambda: finished() is not None, within=10)
        report = finished()
        assert report is not None
        return report


@pytest.fixture
async def console(tmp_path: Path, content: Content) -> AsyncIterator[Console]:
    async with FakeBotApi() as fake:
        config = broadcast_config(tg=fake, organizers={"report_chat_id": REPORT_CHAT})
        storage = open_storage(
            f"sqlite+aiosqlite:///{tmp_path / 'kyrbot.sqlite3'}", vault=TEST_VAULT
        )
        await storage.open()
        broadcasts = BroadcastService(storage, config)
        service = ConversationService(content=content, storage=storage)
        channel = TelegramChannel(config)
        runner = BroadcastRunner(
            storage,
            {"telegram": channel},
            config,
            settings=RunnerSettings(poll=0.05, heartbeat=0.2),
        )
        organizer_console = OrganizerConsole(
            broadcasts,
            organizers=config.organizers.telegram_ids,
            translator=lambda: service.content.translator,
            wake=runner.wake,
            report_chat_id=REPORT_CHAT,
            progress_seconds=0.05,
        )
        organizer_console.attach(channel.console())
        runner.on_finished.append(organizer_console.announce)
        await channel.start(channel_callbacks(service, broadcasts))
        runner.start()
        try:
            yield Console(fake, storage, broadcasts)
        finally:
            await runner.stop()
            await organizer_console.close()
            await channel.stop()
            await storage.close()


def labels(message: SentMessage) -> list[str]:
    return message.labels


async def test_an_organizer_writes_previews_sends_and_gets_the_report(console: Console):
    audience = await add_subscribers(console.storage, telegram=6)
    fake = console.fake

    [ask_english] = await console.say("/broadcast")
    assert "text 1 of 2: send the update in English" in ask_english.text
    [ask_spanish] = await console.say(TEXTS["en"])
    assert "Text 2 of 2: send the update in Spanish. Or send /skip" in ask_spanish.text
    english, spanish, summary = await console.say(TEXTS["es"], expect=3)

    assert english.text == f"English, as it will arrive:\n\n{TEXTS['en']}"
    assert spanish.text == f"Spanish, as it will arrive:\n\n{TEXTS['es']}"
    assert summary.text.startswith("Broadcast #1: preview\nRecipients: 6\n")
    assert "• Telegram: English 4, Spanish 2" in summary.text
    assert labels(summary) == ["Send", "Edit", "Cancel"]
    assert fake.sent_to(int(audience.contacts[0].address.id)) == []  # nothing went out yet

    [progress] = await console.press("Send", expect=1)
    assert labels(progress) == ["Stop sending"]
    report = await console.final_report()

    assert report.startswith("Broadcast #1: finished\n")
    assert "• Telegram: sent 6, failed 0, opted out 0, unknown 0" in report
    for contact in audience.contacts:
        [got] = fake.sent_to(int(contact.address.id))
        assert got.text == TEXTS[Audience.language(contact)]
    assert fake.edits[-1].labels == ["Refresh"]
    # The preview's buttons are gone, so it cannot be sent twice.
    assert any(e.message_id == summary.message_id and not e.labels for e in fake.edits)
    await fake.wait_until(lambda: bool(fake.sent_to(REPORT_CHAT)))
    assert fake.sent_to(REPORT_CHAT)[0].text.startswith("Broadcast #1: finished")
    actions = [(e.actor, e.action) for e in reversed(await console.storage.audit_log())]
    actor = f"telegram:{ORGANIZER}"
    assert actions == [
        (actor, "create"),
        (actor, "preview"),
        (actor, "send"),
        ("system", "finish"),
    ]


async def test_a_spanish_speaking_organizer_can_skip_a_language_edit_and_cancel(
    console: Console,
):
    await add_subscribers(console.storage, telegram=3)

    [ask] = await console.say("/broadcast", lang="es")
    assert "Nueva difusión, texto 1 de 2: envíe el aviso en inglés" in ask.text
    [ask_spanish] = await console.say("/skip", lang="es")
    assert "No se puede omitir el inglés" in ask_spanish.text  # English is required
    await console.say(TEXTS["en"], lang="es")
    *_texts, summary = await console.say("/skip", expect=2, lang="es")
    assert "Español (recibe el inglés) 1" in summary.text
    assert "No hay texto en español: esas personas recibirán el texto en inglés" in summary.text
    assert labels(summary) == ["Enviar", "Editar", "Cancelar"]

    [ask_again] = await console.press("Editar", expect=1, lang="es")
    assert "Editando la difusión #1, texto 1 de 2 (inglés). Ahora dice:" in ask_again.text
    assert TEXTS["en"] in ask_again.text
    await console.say("/keep", lang="es")
    *_texts, edited = await console.say(TEXTS["es"], expect=3, lang="es")
    assert "No hay texto" not in edited.text
    assert "Español 1" in edited.text

    [cancelled] = await console.press("Cancelar", expect=1, lang="es")
    assert cancelled.text.startswith("Difusión #1: cancelada")
    broadcast = await console.broadcasts.get(1)
    assert broadcast.status == "cancelled"
    assert broadcast.texts == TEXTS
    assert not any(m.chat_id > 0 and m.chat_id != ORGANIZER for m in console.fake.sent)


async def test_anyone_else_sending_broadcast_gets_the_normal_unknown_command_answer(
    console: Console,
):
    [to_broadcast] = await console.say("/broadcast", chat=6001, lang="es")
    [to_nonsense] = await console.say("/frobnicate", chat=6002, lang="es")

    assert to_broadcast.text == to_nonsense.text
    assert "difusión" not in to_broadcast.text
    assert await console.broadcasts.recent() == []


async def test_organizers_see_weekly_topic_counts_and_others_do_not(console: Console):
    today = datetime.now(UTC).date()
    await console.storage.add_topic_counts(
        {(today, "kyr.warrants", "es", "sms"): 12, (today, "kyr.door", "en", "telegram"): 3}
    )

    [stats] = await console.say("/stats")
    [other] = await console.say("/stats", chat=6003)

    assert stats.text.startswith("Topics people opened, per week (counts only;")
    assert "    12  kyr.warrants  es  SMS" in stats.text
    assert "     3  kyr.door  en  Telegram" in stats.text
    assert "kyr.warrants" not in other.text


async def test_a_text_too_long_for_one_message_is_asked_for_again(console: Console):
    await console.say("/broadcast")
    refusal, ask_again = await console.say("x" * 1700, expect=2)

    assert "The English text has 1,700 characters; one message holds at most 1,600." in (
        refusal.text
    )
    assert "text 1 of 2" in ask_again.text
    [stopped] = await console.say("/cancel")
    assert stopped.text == "Stopped. Nothing was sent."
    assert await console.broadcasts.recent() == []


async def test_stop_sending_cancels_what_has_not_gone_out(console: Console):
    await add_subscribers(console.storage, telegram=200)
    console.fake.send_delay = 0.05  # about 80 messages a second with 4 in flight
    await console.say("/broadcast")
    await console.say(TEXTS["en"])
    await console.say(TEXTS["es"], expect=3)
    await console.press("Send")
    await console.fake.wait_until(lambda: len(console.fake.sent) > 20)

    console.fake.push_update(console.fake.press(ORGANIZER, "Stop sending"))

    def final() -> str | None:
        done = [
            e.text
            for e in console.fake.edits
            if e.text.startswith("Broadcast #1: cancelled") and e.labels == ["Refresh"]
        ]
        return done[-1] if done else None

    await console.fake.wait_until(lambda: final() is not None, within=10)
    delivered = sum(1 for m in console.fake.sent if 500_000 < m.chat_id < 600_000)
    assert delivered < 200
    assert f"sent {delivered}," in (final() or "")
    assert f"Not sent: 0 no longer subscribed, {200 - delivered} cancelled" in (final() or "")
    assert "Still waiting" not in (final() or "")
    actions = [e.action for e in await console.storage.audit_log()]
    assert actions[0] == "cancel"
