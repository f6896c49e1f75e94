"""Shared fixtures: the real content, a real SQLite store, the conversation service."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.channels import registry
from bot.config import Config, parse_config
from bot.conversation.service import ConversationService
from bot.conversation.version import Content, load_content
from bot.storage import open_storage
from bot.storage.base import Storage
from tests.support.keys import TEST_PRIVACY, TEST_VAULT
from tests.support.paths import CONTENT_DIRS, NOW, ROOT

__all__ = ["NOW", "ROOT", "make_config"]


def make_config(**overrides: object) -> Config:
    """The default config, with content read from this checkout whatever the cwd."""
    data: dict[str, object] = {"content": dict(CONTENT_DIRS), "privacy": TEST_PRIVACY}
    data.update(overrides)
    return parse_config(data)


@pytest.fixture(scope="session")
def config() -> Config:
    return make_config()


@pytest.fixture(scope="session")
def content(config: Config) -> Content:
    return load_content(config)


@pytest.fixture
async def storage() -> AsyncIterator[Storage]:
    """The in-memory store: it passes the same contract suite as SQLite and PostgreSQL, so
    service tests need no database; tests about what a database file holds open their own."""
    store = open_storage("memory://")
    await store.open()
    try:
        yield store
    finally:
        await store.close()


@pytest.fixture
async def sqlite_storage(tmp_path: Path) -> AsyncIterator[Storage]:
    """A real SQLite store, for tests about what the database file holds."""
    store = open_storage(f"sqlite+aiosqlite:///{tmp_path / 'test.sqlite3'}", vault=TEST_VAULT)
    await store.open()
    try:
        yield store
    finally:
        await store.close()


@pytest.fixture
def sqlite_service(
    content: Content, sqlite_storage: Storage, config: Config
) -> ConversationService:
    """The conversation service on :func:`sqlite_storage`."""
    return ConversationService(
        content=content, storage=sqlite_storage, organization=config.organization
    )


@pytest.fixture
def service(content: Content, storage: Storage, config: Config) -> ConversationService:
    return ConversationService(
        content=content,
        storage=storage,
        organization=config.organization,
        last_reviewed=config.content.last_reviewed,
        carrier_help=registry.carrier_help_channels(config),
        window_channels=registry.window_channels(config),
    )
