"""Retention forgets by default: silent non-subscribers go, with everything tied to them."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.app import App
from bot.cli import main
from bot.config import load_config
from bot.messages import Address
from bot.storage import Storage, storage_for
from tests.conftest import make_config
from tests.support.keys import TEST_PRIVACY
from tests.support.storage import MemoryBackend, sql_database

CLOCK = datetime(2026, 9, 1, 9, tzinfo=UTC)
TODAY = CLOCK.date()
QUIET = Address("sms", "+14145550111")  # asked once, 91 days ago
RECENT = Address("sms", "+14145550112")  # asked 89 days ago
LOYAL = Address("telegram", "7000000113")  # subscribed, silent for a year
STOPPED = Address("sms", "+14145550114")  # subscribed, then sent STOP, 100 days ago


@pytest.fixture(
    params=["memory", "sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    if request.param == "memory":
        backend: Any = MemoryBackend()
        async with backend.storage() as opened:
            yield opened
        return
    async for db in sql_database(request.param, tmp_path):
        async with db.storage() as opened:
            yield opened


async def person(store: Storage, address: Address, days_ago: int, **fields: Any) -> None:
    contact, _ = await store.load_conversation(address, TODAY - timedelta(days=days_ago))
    for name, value in fields.items():
        setattr(contact, name, value)
    await store.save_conversation(contact, {"node": "kyr.menu"}, CLOCK - timedelta(days=days_ago))


async def test_silent_contacts_that_are_not_subscribed_are_erased_with_their_rows(
    store: Storage,
) -> None:
    then = CLOCK - timedelta(days=91)
    await person(store, QUIET, 91, subscribed=True, consent_at=then)
    await person(store, RECENT, 89)
    await person(store, LOYAL, 365, subscribed=True, consent_at=CLOCK - timedelta(days=365))
    await person(store, STOPPED, 100, subscribed=True, consent_at=then)
    # Yesterday's broadcast reached the quiet one while subscribed; then they unsubscribed.
    sent = CLOCK - timedelta(days=1)
    broadcast = await store.create_broadcast(
        author="cli:ana", texts={"en": "Hi"}, allow_fallback=True, now=sent
    )
    await store.start_broadcast(broadcast.id, sent)
    while await store.materialize_deliveries(
        broadcast.id, locales={"en": "en"}, default_locale="en", batch_size=10, now=sent
    ):
        pass
    for address, change in ((QUIET, {"subscribed": False}), (STOPPED, {"opted_out": True})):
        contact = await store.get_contact(address)
        assert contact is not None
        for name, value in change.items():
            setattr(contact, name, value)
        await store.update_contact(contact)

    app = App(make_config(), storage=store, clock=lambda: CLOCK)
    await app.prune()

    assert await store.get_contact(QUIET) is None
    assert await store.get_contact(STOPPED) is None
    assert await store.get_contact(RECENT) is not None  # within the 90 days
    assert await store.get_contact(LOYAL) is not None  # subscribers stay until they stop
    tally = {(t.channel, t.status): t.count for t in await store.delivery_tally(broadcast.id)}
    assert tally == {("telegram", "pending"): 1}  # the erased people's deliveries went too
    # Sessions keep their own, shorter window: the recent contact stays, its session does not.
    _, session = await store.load_conversation(RECENT, TODAY)
    assert session is None
    # Someone erased who writes again starts over, as a new contact.
    contact, session = await store.load_conversation(QUIET, TODAY)
    assert not contact.subscribed and session is None


async def test_a_shorter_retention_erases_sooner(store: Storage) -> None:
    await person(store, RECENT, 10)
    config = make_config(privacy={**make_config().privacy.model_dump(), "retention_days": 7})
    await App(config, storage=store, clock=lambda: CLOCK).prune()
    assert await store.get_contact(RECENT) is None


def test_kyrbot_privacy_retention_erases_now_and_says_how_many(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'kyrbot.sqlite3'}"
    config = tmp_path / "config.yaml"
    config.write_text(
        yaml.safe_dump({"database": {"url": url}, "privacy": TEST_PRIVACY}), encoding="utf-8"
    )

    async def old_contact() -> None:
        async with storage_for(load_config(config)) as store:
            today = datetime.now(UTC).date()
            await store.load_conversation(QUIET, today - timedelta(days=120))
            await store.load_conversation(RECENT, today)

    asyncio.run(old_contact())
    assert main(["privacy", "retention", "--config", str(config)]) == 0
    assert "Erased 1 contacts silent for over 90 days" in capsys.readouterr().out
