"""Hostile but authentic Telegram webhooks: no traceback, no 5xx, no retry loop.

Every request carries the right secret, so it is as if Telegram (or whoever learned the
secret) sent it: deep JSON is refused with 400 before it is parsed; an update whose fields
have the wrong types, or that python-telegram-bot cannot build, is answered 200 (Telegram
would redeliver anything else, holding back the updates behind it) and logged at WARNING with
its type; and the next good update is answered as ever.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest

from bot.channels.telegram.adapter import TelegramChannel
from bot.channels.telegram.shape import too_deep
from bot.channels.telegram.webhook import SECRET_HEADER, WEBHOOK_PATH
from bot.config import parse_config
from bot.messages import Address, Choice, DeliveryReport, Inbound, Reply
from bot.web import WebServer, build_web_app
from tests.fakes.callbacks import callbacks_of
from tests.fakes.telegram_server import FakeBotApi

ANA = 4242
SECRET = "s3cret_TOKEN-for-tests"


@dataclass
class Echo:
    """Answers every event with its text and one button."""

    inbounds: list[Inbound] = field(default_factory=list)

    async def handle(self, inbound: Inbound) -> Sequence[Reply]:
        self.inbounds.append(inbound)
        return (Reply(text=f"echo {inbound.text}", choices=(Choice("n:kyr.menu", "Menú"),)),)

    async def contact_unreachable(self, address: Address, *, opted_out: bool) -> None:
        return None

    async def delivery_report(self, report: DeliveryReport) -> None:
        return None


@dataclass
class Hook:
    channel: TelegramChannel
    url: str
    session: aiohttp.ClientSession

    async def post(self, body: dict[str, Any] | bytes) -> int:
        headers = {SECRET_HEADER: SECRET, "Content-Type": "application/json"}
        data = body if isinstance(body, bytes) else None
        kwargs: dict[str, Any] = {"data": data} if data is not None else {"json": body}
        async with self.session.post(self.url, headers=headers, **kwargs) as response:
            await response.read()
            return response.status


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotApi]:
    async with FakeBotApi() as server:
        yield server


@pytest.fixture
def echo() -> Echo:
    return Echo()


@pytest.fixture
async def hook(fake: FakeBotApi, echo: Echo) -> AsyncIterator[Hook]:
    config = parse_config(
        {
            "telegram": {"token": fake.token, "base_url": fake.base_url, "webhook_secret": SECRET},
            "server": {"public_url": "https://kyr.example.org", "max_body_bytes": 65536},
        }
    )
    channel = TelegramChannel(config)
    web = WebServer(
        build_web_app(channel.routes(), max_body_bytes=65536), host="127.0.0.1", port=0
    )
    await web.start()
    await channel.start(callbacks_of(echo))
    try:
        async with aiohttp.ClientSession() as session:
            yield Hook(channel, f"http://127.0.0.1:{web.port}{WEBHOOK_PATH}", session)
    finally:
        await channel.stop()
        await web.stop()


def errors(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_json_nested_a_thousand_deep_is_refused_with_400_and_no_traceback(
    hook: Hook, echo: Echo, caplog: pytest.LogCaptureFixture
) -> None:
    deep = b'{"update_id": 1, "message": ' + b'{"a": ' * 1000 + b"1" + b"}" * 1001

    assert await hook.post(deep) == 400
    assert await hook.post(b"[" * 5000 + b"]" * 5000) == 400
    assert errors(caplog) == []
    assert echo.inbounds == []


def test_depth_counts_brackets_outside_strings_only() -> None:
    assert not too_deep(b'{"text": "' + b"[" * 500 + b'"}')
    assert not too_deep(b'{"text": "\\"' + b"{" * 500 + b'"}')
    assert too_deep(b"[" * 40 + b"]" * 40)
    assert not too_deep(b"[" * 32 + b"]" * 32)
    assert not too_deep(b'"an unterminated string ' + b"[" * 50)  # all inside it


def wrong(update: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    broken = copy.deepcopy(update)
    *parents, last = path.split(".")
    target = broken
    for key in parents:
        target = target[key]
    target[last] = value
    return broken


@pytest.mark.parametrize(
    ("path", "value", "field_named"),
    [
        ("message.text", 123, "message.text"),
        ("message.text", ["hola"], "message.text"),
        ("message.chat.id", "abc", "chat.id"),
        ("message.chat.id", [1], "chat.id"),
        ("message.chat.id", True, "chat.id"),
        ("message.from.id", {"x": 1}, "from.id"),
        ("message.from.language_code", 5, "from.language_code"),
        ("message.caption", 5, "message.caption"),
        ("message.message_thread_id", "77", "message.message_thread_id"),
    ],
)
async def test_a_message_field_of_the_wrong_type_is_200_a_warning_and_nothing_else(
    fake: FakeBotApi,
    hook: Hook,
    echo: Echo,
    caplog: pytest.LogCaptureFixture,
    path: str,
    value: Any,
    field_named: str,
) -> None:
    caplog.set_level(logging.WARNING)
    update = wrong(fake.text_update(ANA, "hola"), path, value)

    assert await hook.post(update) == 200
    assert await hook.post(fake.text_update(ANA, "hola")) == 200
    await fake.wait_for_sent(1)
    await hook.channel.drain()

    assert [m.text for m in fake.sent] == ["echo hola"]
    assert errors(caplog) == []
    [warning] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert "message" in warning.getMessage() and field_named in warning.getMessage()
    assert repr(value) not in warning.getMessage()  # the type is named, never the value


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("callback_query.data", {"n": 1}),
        ("callback_query.data", 7),
        ("callback_query.id", 5),
        ("callback_query.message.chat.id", "abc"),
        (
            "callback_query.message.reply_markup.inline_keyboard",
            [[{"text": 1, "callback_data": 2}]],
        ),
    ],
)
async def test_a_button_press_of_the_wrong_type_is_200_a_warning_and_nothing_else(
    fake: FakeBotApi,
    hook: Hook,
    echo: Echo,
    caplog: pytest.LogCaptureFixture,
    path: str,
    value: Any,
) -> None:
    assert await hook.post(fake.text_update(ANA, "hola")) == 200
    await fake.wait_for_sent(1)
    caplog.set_level(logging.WARNING)
    press = wrong(fake.press(ANA, "Menú"), path, value)

    assert await hook.post(press) == 200
    await hook.channel.drain()

    assert len(fake.sent) == 1
    assert fake.edits == []
    assert errors(caplog) == []
    assert any("callback_query" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    "update",
    [
        {"update_id": 5, "message": "not an object"},
        {"update_id": 5, "message": {"message_id": 1, "date": "yesterday", "chat": {}}},
        {"update_id": 5, "message": {"message_id": 1, "date": 0, "chat": "abc"}},
        {
            "update_id": 5,
            "message": {
                "message_id": 1,
                "date": 0,
                "chat": {"id": 1, "type": "private"},
                "entities": "x",
            },
        },
        {"update_id": 5, "callback_query": []},
        {"update_id": 5, "my_chat_member": {"chat": 1}},
        {
            "update_id": 5,
            "my_chat_member": {  # a block with no chat: found by the fuzz test
                "from": {"id": 1, "is_bot": False, "first_name": "A"},
                "date": 0,
                "old_chat_member": {
                    "status": "member",
                    "user": {"id": 2, "is_bot": True, "first_name": "B"},
                },
                "new_chat_member": {
                    "status": "kicked",
                    "user": {"id": 2, "is_bot": True, "first_name": "B"},
                    "until_date": 0,
                },
            },
        },
    ],
)
async def test_an_update_ptb_cannot_build_is_200_and_one_warning_with_its_type(
    hook: Hook, echo: Echo, caplog: pytest.LogCaptureFixture, update: dict[str, Any]
) -> None:
    caplog.set_level(logging.WARNING)

    assert await hook.post(update) == 200
    await hook.channel.drain()

    assert echo.inbounds == []
    assert errors(caplog) == []
    [warning] = [r for r in caplog.records if r.levelno == logging.WARNING]
    kind = next(key for key in update if key != "update_id")
    assert kind in warning.getMessage()


async def test_a_command_entity_with_offsets_of_the_wrong_type_raises_nothing(
    fake: FakeBotApi, hook: Hook, echo: Echo, caplog: pytest.LogCaptureFixture
) -> None:
    update = fake.text_update(ANA, "/start")
    update["message"]["entities"][0]["length"] = "6"

    assert await hook.post(update) == 200
    await hook.channel.drain()

    assert echo.inbounds == []
    assert errors(caplog) == []
