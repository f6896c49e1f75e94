"""A webhook flood waits at Telegram, not in memory: beyond a bound, updates are answered 429.

Telegram sends an update again later when the webhook does not answer 2xx. The channel
answers 200 once an update is queued, so without a bound a flood faster than the
conversation would pile up in the process; with one, the excess is refused and nothing
accepted is lost.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

import aiohttp
import pytest

from bot.channels.telegram.adapter import TelegramChannel
from bot.channels.telegram.webhook import SECRET_HEADER, WEBHOOK_PATH
from bot.config import parse_config
from bot.messages import Address, DeliveryReport, Inbound, Reply
from bot.web import WebServer, build_web_app
from tests.fakes.callbacks import callbacks_of
from tests.fakes.telegram_server import FakeBotApi

SECRET = "s3cret_TOKEN-for-tests"
BOUND = 3


@dataclass
class Held:
    """A conversation that answers only once ``release`` is set."""

    release: asyncio.Event = field(default_factory=asyncio.Event)
    inbounds: list[Inbound] = field(default_factory=list)

    async def handle(self, inbound: Inbound) -> Sequence[Reply]:
        self.inbounds.append(inbound)
        await self.release.wait()
        return (Reply(text=f"got {inbound.text}"),)

    async def contact_unreachable(self, address: Address, *, opted_out: bool) -> None:
        return None

    async def delivery_report(self, report: DeliveryReport) -> None:
        return None


@dataclass
class World:
    fake: FakeBotApi
    held: Held
    channel: TelegramChannel
    url: str
    session: aiohttp.ClientSession


@pytest.fixture
async def world() -> AsyncIterator[World]:
    async with FakeBotApi() as fake:
        config = parse_config(
            {
                "telegram": {
                    "token": fake.token,
                    "base_url": fake.base_url,
                    "webhook_secret": SECRET,
                },
                "server": {"public_url": "https://kyr.example.org"},
            }
        )
        held = Held()
        channel = TelegramChannel(config, max_pending_updates=BOUND)
        web = WebServer(build_web_app(channel.routes()), host="127.0.0.1", port=0)
        await web.start()
        await channel.start(callbacks_of(held))
        try:
            async with aiohttp.ClientSession() as session:
                url = f"http://127.0.0.1:{web.port}{WEBHOOK_PATH}"
                yield World(fake, held, channel, url, session)
        finally:
            held.release.set()
            await channel.stop()
            await web.stop()


async def post(session: aiohttp.ClientSession, url: str, update: object) -> int:
    async with session.post(url, json=update, headers={SECRET_HEADER: SECRET}) as response:
        await response.read()
        return response.status


async def test_updates_beyond_the_bound_get_429_and_every_accepted_one_is_answered(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    fake, held, url, session = world.fake, world.held, world.url, world.session
    chats = [9100 + n for n in range(BOUND + 2)]
    statuses = [await post(session, url, fake.text_update(chat, "hola")) for chat in chats]
    assert statuses == [200] * BOUND + [429, 429]
    assert world.channel.pending_updates == BOUND
    busy = [r for r in caplog.records if "faster than they are handled" in r.getMessage()]
    assert len(busy) == 1 and busy[0].levelno == logging.WARNING  # said once, not per update
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]

    held.release.set()
    await fake.wait_until(lambda: all(fake.sent_to(c) for c in chats[:BOUND]), within=10)
    assert [m.text for c in chats[:BOUND] for m in fake.sent_to(c)] == ["got hola"] * BOUND
    assert all(not fake.sent_to(c) for c in chats[BOUND:])  # refused, so never half-handled

    # Telegram sends the refused ones again: now there is room.
    await fake.wait_until(lambda: world.channel.pending_updates == 0, within=10)
    for chat in chats[BOUND:]:
        assert await post(session, url, fake.text_update(chat, "otra vez")) == 200
    await fake.wait_until(lambda: all(fake.sent_to(c) for c in chats), within=10)
    assert [m.text for c in chats[BOUND:] for m in fake.sent_to(c)] == ["got otra vez"] * 2
