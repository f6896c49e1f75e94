"""The console store's contract, on every store: single-use links, idle sessions, growth."""

from __future__ import annotations

from datetime import timedelta

from bot.messages import Address
from bot.storage import Storage, console_store
from bot.storage.console import GrowthRow, TokenKind
from tests.support.storage import NOW, TODAY

IDLE = timedelta(minutes=30)


async def test_a_login_link_works_once_and_only_before_it_expires(storage: Storage) -> None:
    store = console_store(storage)
    for name in ("fresh", "late"):
        await store.add_console_token(
            token_hash=name,
            kind=TokenKind.LINK,
            organizer=42,
            now=NOW,
            expires_at=NOW + timedelta(minutes=10),
        )
    assert await store.use_login_link("fresh", NOW + timedelta(minutes=9)) == 42
    assert await store.use_login_link("fresh", NOW + timedelta(minutes=9)) is None  # used
    assert await store.use_login_link("late", NOW + timedelta(minutes=10)) is None  # expired
    assert await store.use_login_link("late", NOW) is None  # an expired try used it up too
    assert await store.use_login_link("never-made", NOW) is None


async def test_a_session_lasts_while_used_and_ends_when_idle_or_logged_out(
    storage: Storage,
) -> None:
    store = console_store(storage)
    await store.add_console_token(
        token_hash="s1", kind=TokenKind.SESSION, organizer=7, now=NOW, expires_at=NOW + IDLE
    )
    assert await store.use_login_link("s1", NOW) is None  # a session is not a login link
    later = NOW + timedelta(minutes=25)
    assert await store.touch_session("s1", later, IDLE) == 7
    assert await store.touch_session("s1", later + timedelta(minutes=29), IDLE) == 7
    assert await store.touch_session("s1", later + timedelta(minutes=60), IDLE) is None
    assert await store.touch_session("s1", later, IDLE) is None  # gone once it expired

    await store.add_console_token(
        token_hash="s2", kind=TokenKind.SESSION, organizer=7, now=NOW, expires_at=NOW + IDLE
    )
    assert await store.end_session("s2")
    assert not await store.end_session("s2")
    assert await store.touch_session("s2", NOW, IDLE) is None


async def test_expired_tokens_are_pruned(storage: Storage) -> None:
    store = console_store(storage)
    await store.add_console_token(
        token_hash="old", kind=TokenKind.LINK, organizer=1, now=NOW, expires_at=NOW
    )
    await store.add_console_token(
        token_hash="new", kind=TokenKind.SESSION, organizer=1, now=NOW, expires_at=NOW + IDLE
    )
    assert await store.prune_console_tokens(NOW + timedelta(seconds=1)) == 1
    assert await store.touch_session("new", NOW, IDLE) == 1


async def test_subscriber_growth_counts_todays_subscribers_by_the_day_they_joined(
    storage: Storage,
) -> None:
    for n, (channel, joined, subscribed) in enumerate(
        [
            ("sms", NOW - timedelta(days=8), True),
            ("sms", NOW - timedelta(days=8), True),
            ("telegram", NOW, True),
            ("telegram", NOW, False),  # left again: not counted
        ]
    ):
        contact, _ = await storage.load_conversation(Address(channel, f"+1414555{n:04d}"), TODAY)
        contact.subscribed = subscribed
        contact.consent_at = joined
        await storage.update_contact(contact)
    rows = await console_store(storage).subscriber_growth()
    assert rows == [
        GrowthRow((NOW - timedelta(days=8)).date(), "sms", 2),
        GrowthRow(NOW.date(), "telegram", 1),
    ]
