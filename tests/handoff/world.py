"""A whole bot for handoff tests: real SMS webhooks, the real Telegram client, fake far ends.

Twilio is :class:`~tests.fakes.twilio_server.FakeTwilioServer` (answers to a person go out by
REST) and signed webhooks reach the real web server; Telegram is
:class:`~tests.fakes.telegram_server.FakeBotApi`, polled by the real python-telegram-bot
client. The conversation service, the handoff service and the relay are wired by
:func:`bot.app.build_handoff`, and replies (volunteers' answers among them) go through the
outbox, as ``kyrbot serve`` wires them; the outbox's retry loop is not running, a test runs
it (:meth:`HandoffWorld.retry_outbox`). The store is a SQLite file.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.app import build_handoff, channel_callbacks
from bot.channels import registry
from bot.channels.outbox import OutboxSender
from bot.channels.telegram.adapter import TelegramChannel
from bot.config import Config, parse_config
from bot.conversation.service import ConversationService
from bot.conversation.version import Content
from bot.handoff.relay import ChannelRelay
from bot.handoff.service import HandoffService
from bot.storage import SqlStorage
from tests.fakes.telegram_server import FakeBotApi, SentMessage
from tests.fakes.timer import FakeTimer
from tests.fakes.twilio_server import (
    FAKE_ACCOUNT_SID,
    FAKE_AUTH_TOKEN,
    FAKE_FROM_NUMBER,
    PUBLIC_URL,
    FakeTwilioServer,
    SmsHarness,
    WebhookAnswer,
)
from tests.support.keys import TEST_VAULT
from tests.support.paths import ROOT

GROUP = -1001234567
"""The volunteers' Telegram group."""
ANA, BEN, MALLORY = 5101, 5102, 5666
"""Two allow-listed volunteers, and someone in the group who is not one."""
PERSON_NUMBER = "+14145550142"
"""The SMS person (a fictional 555-01xx number)."""
PERSON_CHAT = 7300042
"""A person on Telegram (their private chat id)."""


class MovableClock:
    """The wall clock the handoff reads, which a test can move on (idle tickets)."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


def world_config(
    tmp_path: Path, twilio: FakeTwilioServer, telegram: FakeBotApi, **handoff: Any
) -> Config:
    """The bot's config: both channels on the fakes, the volunteers' group, a SQLite file."""
    return parse_config(
        {
            "server": {"public_url": PUBLIC_URL},
            "database": {"url": f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}"},
            "content": {
                "dialogs_dir": str(ROOT / "dialogs"),
                "locales_dir": str(ROOT / "locales"),
            },
            "twilio": {
                "account_sid": FAKE_ACCOUNT_SID,
                "auth_token": FAKE_AUTH_TOKEN,
                "from_number": FAKE_FROM_NUMBER,
                "api_base_url": twilio.base_url,
            },
            "telegram": {"token": telegram.token, "base_url": telegram.base_url},
            "organizers": {"telegram_ids": [ANA]},
            "handoff": {"telegram_chat_id": GROUP, "volunteer_ids": [ANA, BEN], **handoff},
        }
    )


class HandoffWorld:
    """Everything running; ``async with HandoffWorld(tmp_path, content) as world:``."""

    def __init__(self, tmp_path: Path, content: Content, **handoff: Any) -> None:
        self.tmp_path = tmp_path
        self.content = content
        self.handoff_config = handoff
        self.twilio = FakeTwilioServer()
        self.telegram = FakeBotApi()
        self.timer = FakeTimer()
        self.clock = MovableClock()

    async def __aenter__(self) -> HandoffWorld:
        stack = self._stack = contextlib.AsyncExitStack()
        try:
            await self._start(stack)
        except BaseException:
            await stack.aclose()
            raise
        return self

    async def _start(self, stack: contextlib.AsyncExitStack) -> None:
        await self.twilio.start()
        stack.push_async_callback(self.twilio.stop)
        await self.telegram.start()
        stack.push_async_callback(self.telegram.stop)
        self.config = world_config(
            self.tmp_path, self.twilio, self.telegram, **self.handoff_config
        )
        self.storage = SqlStorage(self.config.database.url, vault=TEST_VAULT)
        await self.storage.open()
        stack.push_async_callback(self.storage.close)
        self.service = ConversationService(
            content=self.content,
            storage=self.storage,
            organization=self.config.organization,
            carrier_help=registry.carrier_help_channels(self.config),
        )
        self.outbox = OutboxSender(self.storage.outbox, {}, timer=self.timer, now=self.clock)
        callbacks = channel_callbacks(self.service, outbox=self.outbox)
        self.sms = await stack.enter_async_context(SmsHarness(self.config, callbacks))
        # Telegram by long polling (the webhook is tested elsewhere); SMS by signed webhooks.
        polling = self.config.model_copy(
            update={"server": self.config.server.model_copy(update={"public_url": None})}
        )
        self.bot = TelegramChannel(polling, poll_timeout=timedelta(seconds=1))
        self.outbox.channels = {c.name: c for c in (self.sms.channel, self.bot)}
        handoff, relay = build_handoff(
            self.config,
            self.storage,
            self.service,
            [self.sms.channel, self.bot],
            timer=self.timer,
            clock=self.clock,
            outbox=self.outbox,
        )
        assert relay is not None
        self.handoff: HandoffService = handoff
        self.relay: ChannelRelay = relay
        stack.push_async_callback(self.bot.stop)
        stack.push_async_callback(self.relay.close)
        await self.bot.start(callbacks)

    async def __aexit__(self, *exc: object) -> None:
        await self._stack.aclose()

    # -- the person -----------------------------------------------------------------------

    async def text(self, body: str, *, sender: str = PERSON_NUMBER) -> list[str]:
        """The person sends an SMS; returns what they get back in the webhook's answer."""
        answer: WebhookAnswer = await self.sms.sms(body, sender=sender)
        assert answer.status == 200, answer.text
        return answer.messages

    def sms_to(self, number: str = PERSON_NUMBER) -> list[str]:
        """Every SMS Twilio took for ``number`` by REST (volunteers' answers, closing notes)."""
        return [
            r.form["Body"]
            for r in self.twilio.requests
            if r.form.get("To") == number and r.status == 201
        ]

    async def wait_for_sms(self, count: int, number: str = PERSON_NUMBER) -> list[str]:
        await self.telegram.wait_until(lambda: len(self.sms_to(number)) >= count, within=10)
        return self.sms_to(number)

    # -- the group ------------------------------------------------------------------------

    def group_messages(self) -> list[SentMessage]:
        return self.telegram.sent_to(GROUP)

    async def wait_for_group(self, count: int) -> list[SentMessage]:
        await self.telegram.wait_until(lambda: len(self.group_messages()) >= count, within=10)
        return self.group_messages()

    async def volunteer_says(
        self, user_id: int, text: str, *, reply_to: SentMessage | None = None
    ) -> None:
        """A volunteer writes in the group; waits until the bot has handled it."""
        self.telegram.push_update(
            self.telegram.text_update(
                GROUP,
                text,
                chat_type="supergroup",
                user_id=user_id,
                reply_to=reply_to,
                language_code="es",
            )
        )
        await self.settle()

    async def retry_outbox(self, *, after: timedelta = timedelta(minutes=1)) -> int:
        """Move the clock on by ``after`` and send what waits in the outbox; how many went."""
        self.clock.offset += after
        sent = 0
        while handled := await self.outbox.run_once():  # one row per person per round
            sent += handled
        return sent

    async def settle(self) -> None:
        """Wait until the bot has taken every update and sent everything it queued."""
        await self.telegram.wait_until(lambda: not self.telegram._updates, within=10)
        await asyncio.sleep(0.05)
        await self.bot.drain()
        await self.relay.flush()


def ticket_of(message: SentMessage) -> str:
    """The ticket id at the head of a group message."""
    return message.text.split()[1]


def last_with(messages: list[SentMessage], predicate: Callable[[str], bool]) -> SentMessage:
    return [m for m in messages if predicate(m.text)][-1]
