"""The Telegram adapter end to end: the real PTB Application against a fake Bot API server."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import aiohttp
import pytest

from bot.channels.base import ChannelCallbacks
from bot.channels.console import ConsoleEvent
from bot.channels.telegram.adapter import TelegramChannel
from bot.channels.telegram.webhook import WEBHOOK_PATH
from bot.config import Config, parse_config
from bot.errors import (
    ChannelUnavailable,
    ConfigError,
    OutcomeUnknown,
    PermanentSendError,
    RateLimited,
    RecipientUnreachable,
    SendError,
)
from bot.messages import Address, Choice, DeliveryReport, Inbound, InboundKind, Reply
from bot.web import WebServer, build_web_app
from tests.fakes.callbacks import callbacks_of
from tests.fakes.telegram_server import FakeBotApi, SentMessage
from tests.fakes.timer import FakeTimer

ANA = 4242
"""A person's private chat (a chat id equals the user id in private chats)."""

SECRET = "s3cret_TOKEN-for-tests"

# -- a tiny bilingual bot standing in for the conversation service --------------------------

TEXTS = {
    "menu": {
        "es": "Hola. SOP 130 es una regla de la policía de Milwaukee. ¿Qué quieres saber?",
        "en": "Hi. SOP 130 is a Milwaukee police rule. What do you want to know?",
    },
    "what": {
        "es": "SOP 130 limita cómo la policía de Milwaukee puede ayudar a ICE.",
        "en": "SOP 130 limits how Milwaukee police may help ICE.",
    },
    "warrants": {
        "es": "Una orden judicial la firma un juez. Más: https://example.org/ordenes_judiciales",
        "en": "A judicial warrant is signed by a judge. More: https://example.org/warrants",
    },
    "help": {"es": "Escribe MENÚ para volver.", "en": "Type MENU to go back."},
    "unknown": {"es": "No entendí.", "en": "I did not understand."},
    "only_text": {"es": "Solo puedo leer texto.", "en": "I can only read text."},
    "group": {
        "es": "Escríbeme en un chat privado: https://t.me/kyr_test_bot",
        "en": "Write to me in a private chat: https://t.me/kyr_test_bot",
    },
}
LABELS = {
    "what": {"es": "Qué dice SOP 130", "en": "What SOP 130 says"},
    "warrants": {"es": "Órdenes judiciales y de ICE", "en": "Judicial vs. ICE warrants"},
    "menu": {"es": "Menú", "en": "Menu"},
    "lang": {"es": "English", "en": "Español"},
}
KEYWORDS = {
    "orden": "warrants",
    "warrant": "warrants",
    "sop": "what",
    "menu": "menu",
    "hola": "menu",
}


@dataclass
class TinyBot:
    """Behaves like a small bilingual bot; dedups by message id like the real service."""

    inbounds: list[Inbound] = field(default_factory=list)
    unreachable: list[tuple[Address, bool]] = field(default_factory=list)
    locales: dict[Address, str] = field(default_factory=dict)
    seen: set[str] = field(default_factory=set)
    fail_for: set[Address] = field(default_factory=set)

    async def handle(self, inbound: Inbound) -> Sequence[Reply]:
        self.inbounds.append(inbound)
        if inbound.message_id in self.seen:
            return ()
        if inbound.message_id is not None:
            self.seen.add(inbound.message_id)
        if inbound.address in self.fail_for:
            raise RuntimeError(f"boom while reading {inbound.text!r}")
        locale = self._locale(inbound)
        if inbound.group_chat:
            return (Reply(text=TEXTS["group"][locale], locale=locale),)
        if inbound.kind is InboundKind.MEDIA:
            return (self._reply("only_text", locale, menu=False),)
        if inbound.kind is InboundKind.COMMAND:
            payload = inbound.text.strip().lower()
            if payload in ("es", "en"):
                self.locales[inbound.address] = locale = payload
            if payload in TEXTS and payload != "menu":
                return (self._reply(payload, locale, menu=False),)
            if inbound.command == "help":
                return (self._reply("help", locale, menu=False),)
            return (self._reply("menu", locale),)
        target = inbound.choice_id or next(
            (node for word, node in KEYWORDS.items() if word in inbound.text.lower()), None
        )
        if target == "lang":
            locale = self.locales[inbound.address] = "en" if locale == "es" else "es"
            target = "menu"
        if target is None:
            return (self._reply("unknown", locale, menu=False), self._reply("menu", locale))
        return (self._reply(target, locale, menu=target == "menu"),)

    async def contact_unreachable(self, address: Address, *, opted_out: bool) -> None:
        self.unreachable.append((address, opted_out))

    async def delivery_report(self, report: DeliveryReport) -> None:
        raise AssertionError("Telegram has no delivery reports")

    @property
    def callbacks(self) -> ChannelCallbacks:
        return callbacks_of(self)

    def _locale(self, inbound: Inbound) -> str:
        if inbound.address not in self.locales:
            hint = (inbound.locale_hint or "en").split("-")[0]
            self.locales[inbound.address] = hint if hint in ("es", "en") else "en"
        return self.locales[inbound.address]

    def _reply(self, node: str, locale: str, *, menu: bool = True) -> Reply:
        choices = tuple(Choice(c, LABELS[c][locale]) for c in ("what", "warrants")) if menu else ()
        nav = tuple(Choice(c, LABELS[c][locale]) for c in ("menu", "lang"))
        return Reply(text=TEXTS[node][locale], choices=choices, nav=nav, locale=locale)


# -- fixtures -------------------------------------------------------------------------------


def make_config(fake: FakeBotApi, **sections: Any) -> Config:
    data: dict[str, Any] = {
        "locales": ["en", "es"],
        "default_locale": "es",
        "telegram": {"token": fake.token, "base_url": fake.base_url},
    }
    for key, value in sections.items():
        data[key] = {**data.get(key, {}), **value}
    return parse_config(data)


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotApi]:
    async with FakeBotApi() as server:
        yield server


@pytest.fixture
def bot() -> TinyBot:
    return TinyBot()


@pytest.fixture
async def polling(fake: FakeBotApi, bot: TinyBot) -> AsyncIterator[TelegramChannel]:
    channel = TelegramChannel(make_config(fake))
    await channel.start(bot.callbacks)
    try:
        yield channel
    finally:
        await channel.stop()


@dataclass
class Webhook:
    channel: TelegramChannel
    url: str
    session: aiohttp.ClientSession

    async def post(
        self, update: dict[str, Any] | bytes, *, secret: str | None = SECRET
    ) -> aiohttp.ClientResponse:
        headers = {} if secret is None else {"X-Telegram-Bot-Api-Secret-Token": secret}
        if isinstance(update, bytes):
            kwargs: dict[str, Any] = {"data": update}
        else:
            kwargs = {"json": update}
        async with self.session.post(self.url, headers=headers, **kwargs) as response:
            await response.read()
            return response


@contextlib.asynccontextmanager
async def serve_webhook(fake: FakeBotApi, callbacks: ChannelCallbacks) -> AsyncIterator[Webhook]:
    config = make_config(
        fake,
        server={"public_url": "https://kyr.example.org/", "max_body_bytes": 4096},
        telegram={"webhook_secret": SECRET},
    )
    channel = TelegramChannel(config)
    web = WebServer(
        build_web_app(channel.routes(), max_body_bytes=config.server.max_body_bytes),
        host="127.0.0.1",
        port=0,
    )
    await web.start()
    await channel.start(callbacks)
    try:
        async with aiohttp.ClientSession() as session:
            yield Webhook(channel, f"http://127.0.0.1:{web.port}{WEBHOOK_PATH}", session)
    finally:
        await channel.stop()
        await web.stop()


@pytest.fixture
async def webhook(fake: FakeBotApi, bot: TinyBot) -> AsyncIterator[Webhook]:
    async with serve_webhook(fake, bot.callbacks) as served:
        yield served


async def say(fake: FakeBotApi, update: dict[str, Any], *, expect: int = 1) -> list[SentMessage]:
    """Deliver ``update`` by polling and return the ``expect`` messages it caused."""
    before = len(fake.sent)
    fake.push_update(update)
    await fake.wait_for_sent(before + expect)
    return fake.sent[before:]


def menu_keyboard(locale: str) -> list[list[tuple[str, str]]]:
    return [
        [(LABELS["what"][locale], "what")],
        [(LABELS["warrants"][locale], "warrants")],
        [(LABELS["menu"][locale], "menu"), (LABELS["lang"][locale], "lang")],
    ]


# -- conversations --------------------------------------------------------------------------


async def test_spanish_conversation_by_buttons_in_polling_mode(
    fake: FakeBotApi, polling: TelegramChannel, bot: TinyBot
) -> None:
    [menu] = await say(fake, fake.text_update(ANA, "/start", language_code="es-419"))
    assert menu.text == TEXTS["menu"]["es"]
    assert menu.buttons == menu_keyboard("es")
    assert bot.inbounds[-1].locale_hint == "es-419"

    press = fake.press(ANA, "Órdenes judiciales y de ICE")
    [answer] = await say(fake, press)
    assert answer.text == TEXTS["warrants"]["es"]
    assert answer.labels == ["Menú", "English"]
    await fake.wait_until(lambda: fake.edits)
    assert fake.answered_callbacks == [press["callback_query"]["id"]]
    # The pressed menu keeps its text, shows the choice, and loses its buttons.
    assert fake.edits[-1].message_id == menu.message_id
    assert fake.edits[-1].text == TEXTS["menu"]["es"] + "\n\n» Órdenes judiciales y de ICE"
    assert fake.edits[-1].reply_markup is None

    [back] = await say(fake, fake.press(ANA, "Menú"))
    assert (back.text, back.buttons) == (TEXTS["menu"]["es"], menu_keyboard("es"))

    [english] = await say(fake, fake.press(ANA, "English"))
    assert (english.text, english.buttons) == (TEXTS["menu"]["en"], menu_keyboard("en"))
    await fake.wait_until(lambda: len(fake.answered_callbacks) == 3)


async def test_spanish_conversation_by_typed_text_in_polling_mode(
    fake: FakeBotApi, polling: TelegramChannel, bot: TinyBot
) -> None:
    [menu] = await say(fake, fake.text_update(ANA, "hola", language_code="es"))
    assert menu.text == TEXTS["menu"]["es"]

    [warrants] = await say(fake, fake.text_update(ANA, "¿qué es una orden judicial?"))
    assert warrants.text == TEXTS["warrants"]["es"]

    [what] = await say(fake, fake.text_update(ANA, "sop 130"))
    assert what.text == TEXTS["what"]["es"]

    sorry, again = await say(fake, fake.text_update(ANA, "asdf"), expect=2)
    assert (sorry.text, again.text) == (TEXTS["unknown"]["es"], TEXTS["menu"]["es"])
    assert [i.kind for i in bot.inbounds] == [InboundKind.TEXT] * 4
    assert [c.method for c in fake.calls[:1]] == ["getMe"]
    assert fake.calls_to("deleteWebhook")
    assert fake.calls_to("getUpdates")


async def test_start_registers_command_menu_per_language(fake: FakeBotApi, bot: TinyBot) -> None:
    descriptions = {"es": {"menu": "Menú principal", "help": "Ayuda"}, "en": {"menu": "Main menu"}}
    channel = TelegramChannel(make_config(fake), command_descriptions=descriptions)
    await channel.start(bot.callbacks)
    await channel.stop()

    assert set(fake.commands) == {"en", "es", None}
    spanish = {c["command"]: c["description"] for c in fake.commands["es"]}
    assert list(spanish) == [
        "start",
        "menu",
        "help",
        "language",
        "subscribe",
        "unsubscribe",
        "forget",
    ]
    assert (spanish["menu"], spanish["help"]) == ("Menú principal", "Ayuda")
    assert fake.commands[None] == fake.commands["es"]  # the default is default_locale's


async def test_start_deep_link_to_a_topic_opens_it(
    fake: FakeBotApi, polling: TelegramChannel, bot: TinyBot
) -> None:
    [topic] = await say(fake, fake.text_update(ANA, "/start warrants", language_code="es"))

    assert topic.text == TEXTS["warrants"]["es"]
    assert (bot.inbounds[-1].command, bot.inbounds[-1].text) == ("start", "warrants")


async def test_start_deep_link_language_beats_the_app_language(
    fake: FakeBotApi, polling: TelegramChannel
) -> None:
    [menu] = await say(fake, fake.text_update(ANA, "/start en", language_code="es"))

    assert menu.text == TEXTS["menu"]["en"]


async def test_unknown_command_reaches_the_engine_as_text(
    fake: FakeBotApi, polling: TelegramChannel, bot: TinyBot
) -> None:
    sorry, _menu = await say(fake, fake.text_update(ANA, "/broadcast aviso a todos"), expect=2)

    assert sorry.text == TEXTS["unknown"]["es"]
    assert (bot.inbounds[-1].kind, bot.inbounds[-1].text) == (
        InboundKind.TEXT,
        "/broadcast aviso a todos",
    )


async def test_command_interceptor_sees_its_command_first_and_may_pass(
    fake: FakeBotApi, bot: TinyBot
) -> None:
    seen: list[Inbound] = []

    async def broadcast(inbound: Inbound) -> Sequence[Reply] | None:
        seen.append(inbound)
        if inbound.address.id == str(ANA):
            return (Reply(text="Vista previa: 3 destinatarios"),)
        return None  # not an organizer: let the engine say it did not understand

    channel = TelegramChannel(make_config(fake), command_interceptors={"broadcast": broadcast})
    await channel.start(bot.callbacks)
    try:
        [preview] = await say(fake, fake.text_update(ANA, "/broadcast aviso"))
        sorry, _ = await say(fake, fake.text_update(77, "/broadcast aviso"), expect=2)
    finally:
        await channel.stop()

    assert preview.text == "Vista previa: 3 destinatarios"
    assert sorry.text == TEXTS["unknown"]["es"]
    assert [(i.kind, i.command, i.text) for i in seen] == [
        (InboundKind.COMMAND, "broadcast", "aviso")
    ] * 2
    assert [i.address.id for i in bot.inbounds] == ["77"]


# -- things that are not text ---------------------------------------------------------------


async def test_photo_gets_a_translated_only_text_reply(
    fake: FakeBotApi, polling: TelegramChannel, bot: TinyBot
) -> None:
    [reply] = await say(fake, fake.media_update(ANA, "photo", language_code="es-MX"))

    assert reply.text == TEXTS["only_text"]["es"]
    assert bot.inbounds[-1].kind is InboundKind.MEDIA


async def test_edited_message_and_other_bots_commands_get_no_reply(
    fake: FakeBotApi, polling: TelegramChannel, bot: TinyBot
) -> None:
    fake.push_update(fake.edited_update(ANA, "hola editado"))
    fake.push_update(fake.text_update(ANA, "/start@other_bot"))
    [menu] = await say(fake, fake.text_update(ANA, "hola"))

    assert menu.text == TEXTS["menu"]["es"]
    assert len(fake.sent) == 1
    assert [i.text for i in bot.inbounds] == ["hola"]


async def test_person_blocking_the_bot_is_marked_unreachable_at_once(
    fake: FakeBotApi, polling: TelegramChannel, bot: TinyBot
) -> None:
    bot_user = {"id": fake.bot_id, "is_bot": True, "first_name": "KYR"}
    fake.push_update(
        {
            "update_id": fake.next_update_id(),
            "my_chat_member": {
                "chat": {"id": ANA, "type": "private"},
                "from": {"id": ANA, "is_bot": False, "first_name": "Ana"},
                "date": 0,
                "old_chat_member": {"status": "member", "user": bot_user},
                "new_chat_member": {"status": "kicked", "user": bot_user, "until_date": 0},
            },
        }
    )

    await fake.wait_until(lambda: bot.unreachable)
    assert bot.unreachable == [(Address("telegram", str(ANA)), False)]
    assert fake.sent == []


# -- failures -------------------------------------------------------------------------------


async def test_flood_limit_waits_retry_after_then_replies_once(
    fake: FakeBotApi, bot: TinyBot
) -> None:
    timer = FakeTimer()
    channel = TelegramChannel(make_config(fake), timer=timer)
    await channel.start(bot.callbacks)
    fake.fail_next("sendMessage", chat_id=ANA, status=429, retry_after=1)
    try:
        [menu] = await say(fake, fake.text_update(ANA, "hola"))
    finally:
        await channel.stop()

    attempts = fake.calls_to("sendMessage")
    assert len(attempts) == 2
    assert timer.slept == [1.0]  # on the channel's clock, exactly the retry_after asked for
    assert menu.text == TEXTS["menu"]["es"]
    assert len(fake.sent_to(ANA)) == 1


async def test_blocked_bot_marks_contact_unreachable_and_keeps_serving_others(
    fake: FakeBotApi, polling: TelegramChannel, bot: TinyBot
) -> None:
    fake.blocked.add(ANA)
    fake.push_update(fake.text_update(ANA, "hola"))
    await fake.wait_until(lambda: bot.unreachable)

    [other] = await say(fake, fake.text_update(77, "hola"))

    assert bot.unreachable == [(Address("telegram", str(ANA)), False)]
    assert len(fake.calls_to("sendMessage")) == 2  # one refused, no retry; then the other person
    assert other.chat_id == 77


async def test_network_error_is_retried_with_backoff(
    fake: FakeBotApi, polling: TelegramChannel
) -> None:
    fake.fail_next("sendMessage", chat_id=ANA, status=502)

    [menu] = await say(fake, fake.text_update(ANA, "hola"))

    assert menu.text == TEXTS["menu"]["es"]
    assert len(fake.calls_to("sendMessage")) == 2


@pytest.fixture
def debug_logging(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Everything at DEBUG, with the library loggers unset as in a fresh process."""
    libraries = [logging.getLogger(name) for name in ("httpx", "telegram")]
    saved = [lib.level for lib in libraries]
    for lib in libraries:
        lib.setLevel(logging.NOTSET)
    caplog.set_level(logging.DEBUG)
    try:
        yield caplog
    finally:
        for lib, level in zip(libraries, saved, strict=True):
            lib.setLevel(level)


async def test_failing_sink_stops_nothing_and_logs_no_personal_data(
    fake: FakeBotApi, bot: TinyBot, debug_logging: pytest.LogCaptureFixture
) -> None:
    channel = TelegramChannel(make_config(fake))
    await channel.start(bot.callbacks)
    try:
        bot.fail_for.add(Address("telegram", str(ANA)))
        fake.push_update(fake.text_update(ANA, "mi secreto personal"))
        await fake.wait_until(
            lambda: any(r.levelno >= logging.ERROR for r in debug_logging.records)
        )
        [reply] = await say(fake, fake.text_update(77, "hola"))
    finally:
        await channel.stop()

    assert reply.chat_id == 77
    logged = "\n".join(record.getMessage() for record in debug_logging.records)
    assert "RuntimeError" in logged
    assert "secreto" not in logged
    assert str(ANA) not in logged
    assert fake.token not in logged
    assert "hola" not in logged
    assert "/sendMessage" not in logged  # httpx's request lines, which carry the token


class SlowBot(TinyBot):
    """Takes its time over "lento"; answers with the chat and the text (or command)."""

    async def handle(self, inbound: Inbound) -> Sequence[Reply]:
        if inbound.text == "lento":
            await asyncio.sleep(0.3)
        return (Reply(text=f"{inbound.address.id}:{inbound.command or inbound.text}"),)


async def test_one_persons_messages_are_answered_in_order_without_holding_up_others(
    fake: FakeBotApi,
) -> None:
    channel = TelegramChannel(make_config(fake))
    await channel.start(SlowBot().callbacks)
    try:
        for chat, text in ((ANA, "lento"), (ANA, "rápido"), (77, "hola")):
            fake.push_update(fake.text_update(chat, text))
        await fake.wait_for_sent(3)
    finally:
        await channel.stop()

    assert [m.text for m in fake.sent] == ["77:hola", f"{ANA}:lento", f"{ANA}:rápido"]


async def test_long_reply_is_split_at_paragraphs_with_buttons_on_the_last_part(
    fake: FakeBotApi, bot: TinyBot
) -> None:
    paragraphs = [f"Párrafo {n}: " + "derechos " * 150 for n in range(8)]
    long_text = "\n\n".join(p.strip() for p in paragraphs)

    class LongBot(TinyBot):
        async def handle(self, inbound: Inbound) -> Sequence[Reply]:
            return (Reply(text=long_text, nav=(Choice("menu", "Menú"),)),)

    channel = TelegramChannel(make_config(fake))
    await channel.start(LongBot().callbacks)
    try:
        parts = await say(fake, fake.text_update(ANA, "todo"), expect=3)
    finally:
        await channel.stop()

    assert len(fake.sent) == 3
    assert all(len(p.text) <= 4096 for p in parts)
    assert "\n\n".join(p.text for p in parts) == long_text
    assert [p.labels for p in parts] == [[], [], ["Menú"]]


# -- webhook mode ---------------------------------------------------------------------------


async def test_webhook_mode_sets_the_webhook_with_its_secret(
    fake: FakeBotApi, webhook: Webhook
) -> None:
    assert fake.webhook is not None
    assert fake.webhook["url"] == "https://kyr.example.org/telegram/webhook"
    assert fake.webhook["secret_token"] == SECRET
    assert not fake.calls_to("getUpdates")
    assert not fake.calls_to("deleteWebhook")


async def test_spanish_conversation_over_webhook(
    fake: FakeBotApi, webhook: Webhook, bot: TinyBot
) -> None:
    response = await webhook.post(fake.text_update(ANA, "/start", language_code="es-419"))
    assert response.status == 200
    [menu] = await fake.wait_for_sent(1)
    assert (menu.text, menu.buttons) == (TEXTS["menu"]["es"], menu_keyboard("es"))

    assert (await webhook.post(fake.press(ANA, "Qué dice SOP 130"))).status == 200
    _, what = await fake.wait_for_sent(2)
    assert what.text == TEXTS["what"]["es"]

    assert (await webhook.post(fake.text_update(ANA, "orden"))).status == 200
    *_, warrants = await fake.wait_for_sent(3)
    assert warrants.text == TEXTS["warrants"]["es"]
    await fake.wait_until(lambda: len(fake.answered_callbacks) == 1)


@pytest.mark.parametrize("secret", [None, "", "wrong", SECRET + "x", SECRET[:-1]])
async def test_webhook_refuses_a_wrong_or_missing_secret(
    fake: FakeBotApi, webhook: Webhook, bot: TinyBot, secret: str | None
) -> None:
    response = await webhook.post(fake.text_update(ANA, "hola"), secret=secret)

    assert response.status == 403
    await asyncio.sleep(0.05)
    assert bot.inbounds == []
    assert fake.sent == []


@pytest.mark.parametrize(
    "body", [b"not json", b"[1, 2]", b'{"message": {}}', b'{"update_id": "7"}', b""]
)
async def test_webhook_refuses_a_body_that_is_not_an_update(
    webhook: Webhook, bot: TinyBot, body: bytes
) -> None:
    response = await webhook.post(body)

    assert response.status == 400
    assert bot.inbounds == []


async def test_webhook_refuses_an_oversized_body(
    fake: FakeBotApi, webhook: Webhook, bot: TinyBot
) -> None:
    response = await webhook.post(fake.text_update(ANA, "x" * 5000))

    assert response.status == 413
    assert bot.inbounds == []


async def test_duplicate_update_is_answered_once(
    fake: FakeBotApi, webhook: Webhook, bot: TinyBot
) -> None:
    update = fake.text_update(ANA, "hola")
    assert (await webhook.post(update)).status == 200
    await fake.wait_for_sent(1)
    press = fake.press(ANA, "Qué dice SOP 130")
    for _ in range(2):
        assert (await webhook.post(update)).status == 200
        assert (await webhook.post(press)).status == 200
    await fake.wait_for_sent(2)
    await asyncio.sleep(0.1)

    assert [m.text for m in fake.sent] == [TEXTS["menu"]["es"], TEXTS["what"]["es"]]
    assert fake.answered_callbacks == [press["callback_query"]["id"]]


async def test_duplicate_after_a_restart_is_left_to_the_conversation_service(
    fake: FakeBotApi, bot: TinyBot
) -> None:
    update = fake.text_update(ANA, "hola")
    for _ in range(2):  # a new process has no memory of update ids; the service has
        channel = TelegramChannel(make_config(fake))
        await channel.start(bot.callbacks)
        fake.push_update(update)
        await fake.wait_until(
            lambda: update["update_id"] in {int(i.message_id or 0) for i in bot.inbounds}
        )
        await channel.stop()
        bot.inbounds.clear()

    assert len(fake.sent) == 1


async def test_over_webhook_plain_texts_and_other_updates_keep_one_persons_order(
    fake: FakeBotApi,
) -> None:
    async with serve_webhook(fake, SlowBot().callbacks) as webhook:
        # A plain text (read without PTB's objects), a command (through PTB), a plain text.
        for chat, text in ((ANA, "lento"), (ANA, "/help"), (ANA, "rápido"), (77, "hola")):
            assert (await webhook.post(fake.text_update(chat, text))).status == 200
        await fake.wait_for_sent(4)

    assert [m.text for m in fake.sent] == [
        "77:hola",
        f"{ANA}:lento",
        f"{ANA}:help",
        f"{ANA}:rápido",
    ]


async def test_over_webhook_the_consoles_people_reach_the_console_first(
    fake: FakeBotApi, webhook: Webhook, bot: TinyBot
) -> None:
    events: list[ConsoleEvent] = []

    async def take(event: ConsoleEvent) -> bool:
        events.append(event)
        return event.text == "para la consola"

    webhook.channel.console().add_console(take, users={ANA})
    for text in ("para la consola", "hola"):
        assert (await webhook.post(fake.text_update(ANA, text, language_code="es"))).status == 200
    assert (await webhook.post(fake.text_update(77, "hola"))).status == 200
    await fake.wait_for_sent(2)

    assert [(e.chat_id, e.text, e.language_code) for e in events] == [
        (ANA, "para la consola", "es"),
        (ANA, "hola", "es"),
    ]
    assert sorted((i.address.id, i.text) for i in bot.inbounds) == [
        (str(ANA), "hola"),
        ("77", "hola"),
    ]


# -- sending for others (broadcasts) --------------------------------------------------------


async def test_send_returns_the_telegram_message_id(fake: FakeBotApi, bot: TinyBot) -> None:
    channel = TelegramChannel(make_config(fake))
    try:
        message_id = await channel.send(
            Address("telegram", str(ANA)),
            Reply(text="Actualización: nueva guía", nav=(Choice("menu", "Menú"),)),
        )
    finally:
        await channel.stop()

    [sent] = fake.sent
    assert message_id == str(sent.message_id)
    assert (sent.chat_id, sent.text, sent.labels) == (ANA, "Actualización: nueva guía", ["Menú"])


@pytest.mark.parametrize(
    ("status", "error", "retryable"),
    [
        (429, RateLimited, True),
        (403, RecipientUnreachable, False),
        (400, PermanentSendError, False),
        (502, ChannelUnavailable, True),
    ],
)
async def test_send_raises_a_typed_error_saying_whether_to_retry(
    fake: FakeBotApi, status: int, error: type, retryable: bool
) -> None:
    channel = TelegramChannel(make_config(fake))
    fake.fail_next("sendMessage", status=status, retry_after=3 if status == 429 else None)
    try:
        with pytest.raises(error) as raised:
            await channel.send(Address("telegram", str(ANA)), Reply(text="hola"))
    finally:
        await channel.stop()

    assert isinstance(raised.value, SendError)
    assert raised.value.retryable is retryable
    if isinstance(raised.value, RateLimited):
        assert raised.value.retry_after == 3.0
    assert len(fake.calls_to("sendMessage")) == 1  # send() never retries on its own


@pytest.mark.parametrize(("status", "error"), [(502, OutcomeUnknown), (403, RecipientUnreachable)])
async def test_send_failing_after_part_of_a_long_message_never_invites_a_resend(
    fake: FakeBotApi, status: int, error: type
) -> None:
    channel = TelegramChannel(make_config(fake))
    fake.fail_next("sendMessage", status=status, after=1)
    try:
        with pytest.raises(error):
            await channel.send(
                Address("telegram", str(ANA)), Reply(text=("a" * 4000 + "\n\n") * 2)
            )
    finally:
        await channel.stop()

    assert len(fake.sent) == 1


async def test_send_to_someone_who_blocked_the_bot_says_so_and_reports_them(
    fake: FakeBotApi, bot: TinyBot
) -> None:
    channel = TelegramChannel(make_config(fake))
    await channel.start(bot.callbacks)
    fake.blocked.add(ANA)
    try:
        with pytest.raises(RecipientUnreachable) as raised:
            await channel.send(Address("telegram", str(ANA)), Reply(text="hola"))
    finally:
        await channel.stop()

    assert (raised.value.blocked, raised.value.opted_out) == (True, False)
    assert bot.unreachable == [(Address("telegram", str(ANA)), False)]


async def test_send_when_the_server_is_down_is_channel_unavailable(fake: FakeBotApi) -> None:
    channel = TelegramChannel(make_config(fake))
    await channel.send(Address("telegram", str(ANA)), Reply(text="hola"))  # connects
    await fake.stop()
    try:
        with pytest.raises(ChannelUnavailable):
            await channel.send(Address("telegram", str(ANA)), Reply(text="hola"))
    finally:
        await channel.stop()


async def test_send_to_a_bad_address_is_refused_without_a_request(fake: FakeBotApi) -> None:
    channel = TelegramChannel(make_config(fake))
    with pytest.raises(RecipientUnreachable):
        await channel.send(Address("telegram", "not-a-chat"), Reply(text="hola"))
    with pytest.raises(PermanentSendError):
        await channel.send(Address("sms", "+14145550100"), Reply(text="hola"))
    await channel.stop()

    assert fake.calls == []


# -- configuration --------------------------------------------------------------------------


def test_missing_token_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"telegram\.token"):
        TelegramChannel(parse_config({}))


def test_webhook_mode_without_a_valid_secret_is_a_config_error(fake: FakeBotApi) -> None:
    with pytest.raises(ConfigError, match=r"telegram\.webhook_secret"):
        TelegramChannel(make_config(fake, server={"public_url": "https://kyr.example.org"}))
    with pytest.raises(ConfigError, match=r"telegram\.webhook_secret"):
        TelegramChannel(
            make_config(
                fake,
                server={"public_url": "https://kyr.example.org"},
                telegram={"webhook_secret": "has spaces"},
            )
        )


def test_polling_mode_serves_no_webhook_route(fake: FakeBotApi) -> None:
    assert TelegramChannel(make_config(fake)).routes() == ()


async def test_rejected_token_is_a_config_error_at_start(fake: FakeBotApi, bot: TinyBot) -> None:
    config = parse_config({"telegram": {"token": "654321:WRONG-token", "base_url": fake.base_url}})
    channel = TelegramChannel(config)

    with pytest.raises(ConfigError, match="rejected the token"):
        await channel.start(bot.callbacks)


async def test_stop_does_not_wait_for_a_long_poll_and_stopping_twice_is_harmless(
    fake: FakeBotApi, bot: TinyBot
) -> None:
    fake.max_poll_wait = 3600  # a long poll is answered only when an update comes: never
    channel = TelegramChannel(make_config(fake), poll_timeout=timedelta(hours=1))
    await channel.start(bot.callbacks)
    await fake.wait_until(lambda: fake.polls_waiting == 1)

    # Returning at all means it did not wait for Telegram to answer (the guard only stops a
    # hang from hanging the suite).
    await asyncio.wait_for(channel.stop(), 60)
    calls = len(fake.calls)
    await asyncio.wait_for(channel.stop(), 60)

    assert fake.calls[calls:] == []  # the second stop had nothing left to do
