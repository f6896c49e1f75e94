"""Shared pieces of the broadcast tests: configs for the fake servers, subscribers, databases."""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from bot.channels.pacing import SharedSendClock
from bot.config import Config, parse_config
from bot.messages import Address
from bot.storage import SqlStorage, Storage
from bot.storage.base import Contact
from tests.fakes.telegram_server import FakeBotApi
from tests.fakes.timer import FakeTimer
from tests.fakes.twilio_server import (
    FAKE_ACCOUNT_SID,
    FAKE_AUTH_TOKEN,
    FAKE_FROM_NUMBER,
    PUBLIC_URL,
    FakeTwilioServer,
)
from tests.support.keys import TEST_PRIVACY, TEST_VAULT
from tests.support.paths import CONTENT_DIRS

POSTGRES_URL = os.environ.get("KYRBOT_TEST_POSTGRES_URL")
TEXTS = {
    "en": "SOP 130 update: the Fire and Police Commission votes on Thursday. Reply MENU.",
    "es": "Novedad de la SOP 130: la Comisión de Bomberos y Policía vota el jueves. Envíe MENÚ.",
}
ORGANIZER = 4_000_001
"""The allow-listed organizer's Telegram user (and private chat) id."""
TODAY = datetime.now(UTC).date()


def with_public_url(config: Config) -> Config:
    """The same config with ``server.public_url`` set (Twilio signs webhooks for it).

    Telegram then runs in webhook mode, so tests that poll Telegram keep it unset there.
    """
    server = config.server.model_copy(update={"public_url": PUBLIC_URL})
    return config.model_copy(update={"server": server})


def broadcast_config(
    *,
    tg: FakeBotApi | None = None,
    tw: FakeTwilioServer | None = None,
    database: str | None = None,
    **sections: Any,
) -> Config:
    """The project's content with the fake Telegram and Twilio servers and fast rates."""
    data: dict[str, Any] = {
        "locales": ["en", "es"],
        "default_locale": "en",
        "content": dict(CONTENT_DIRS),
        "organizers": {"telegram_ids": [ORGANIZER]},
        "privacy": dict(TEST_PRIVACY),
        "telegram": {"messages_per_second": 5000},
        "twilio": {"segments_per_second": 5000},
        # Accents kept, so the tests compare the texts organizers wrote, letter for letter.
        "sms": {"price_per_segment": 0.0079, "fold_accents": {"es": False}},
    }
    if database is not None:
        data["database"] = {"url": database}
    if tg is not None:
        data["telegram"].update({"token": tg.token, "base_url": tg.base_url})
    if tw is not None:
        data["twilio"].update(
            {
                "account_sid": FAKE_ACCOUNT_SID,
                "auth_token": FAKE_AUTH_TOKEN,
                "from_number": FAKE_FROM_NUMBER,
                "api_base_url": tw.base_url,
            }
        )
    for key, value in sections.items():
        data[key] = {**data.get(key, {}), **value} if isinstance(value, dict) else value
    return parse_config(data)


def on_fake_time(storage: Storage, timer: FakeTimer) -> dict[str, Any]:
    """Keyword arguments that put a broadcast runner's waits and clocks on ``timer``.

    Its sending time is shared through ``storage`` on the timer's clock, and what it writes
    to the database is dated by :meth:`~tests.fakes.timer.FakeTimer.utcnow`.
    """
    return {
        "timer": timer,
        "now": timer.utcnow,
        "send_clock": SharedSendClock(storage, clock=timer.now),
    }


_numbers = itertools.count(1)


def telegram_address(n: int) -> Address:
    return Address("telegram", str(500_000 + n))


def sms_address(n: int) -> Address:
    return Address("sms", f"+1414600{n:04d}")


@dataclass
class Audience:
    """Subscribers made for a test, with the language each one chose."""

    contacts: list[Contact] = field(default_factory=list)

    def on(self, channel: str) -> list[Contact]:
        return [c for c in self.contacts if c.address.channel == channel]

    @staticmethod
    def language(contact: Contact) -> str:
        return contact.locale or "en"


async def add_subscribers(
    storage: Storage,
    *,
    telegram: int = 0,
    sms: int = 0,
    locales: tuple[str | None, ...] = (
        "es",
        "en",
        None,
    ),
) -> Audience:
    """Subscribed contacts written straight through the storage (no conversation needed)."""
    audience = Audience()
    now = datetime.now(UTC)
    for channel, count in (("telegram", telegram), ("sms", sms)):
        for i in range(count):
            n = next(_numbers)
            address = telegram_address(n) if channel == "telegram" else sms_address(n)
            contact, _ = await storage.load_conversation(address, now.date())
            contact.locale = locales[i % len(locales)]
            contact.subscribed = True
            contact.consent_at = now
            await storage.update_contact(contact)
            audience.contacts.append(contact)
    return audience


@dataclass
class Database:
    """One database for one test, which several storages (instances) can open."""

    url: str
    engine_kwargs: dict[str, Any] = field(default_factory=dict)

    def storage(self) -> SqlStorage:
        return SqlStorage(self.url, vault=TEST_VAULT, engine_kwargs=self.engine_kwargs)


async def database(kind: str, tmp_path: Path) -> AsyncIterator[Database]:
    """A SQLite file, or a fresh PostgreSQL schema (dropped afterwards)."""
    if kind == "sqlite":
        yield Database(f"sqlite+aiosqlite:///{tmp_path / 'kyrbot.sqlite3'}")
        return
    assert POSTGRES_URL is not None
    schema = f"kyrbot_bc_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(POSTGRES_URL, poolclass=NullPool)
    async with admin.begin() as conn:
        await conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield Database(
            POSTGRES_URL, {"connect_args": {"server_settings": {"search_path": schema}}}
        )
    finally:
        async with admin.begin() as conn:
            await conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        await admin.dispose()
