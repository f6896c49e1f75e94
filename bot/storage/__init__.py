"""Persistence: the storage interfaces, the SQL store and the in-memory store."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.errors import ConfigError, StorageError
from bot.privacy import AddressVault
from bot.storage.base import (
    AudienceRow,
    AuditEntry,
    Broadcast,
    BroadcastStatus,
    BroadcastStore,
    ClaimedDelivery,
    Contact,
    ConversationStore,
    CounterRow,
    DeliveryOutcome,
    DeliveryStatus,
    DeliveryTally,
    FanoutStore,
    PruneResult,
    SessionRecord,
    Storage,
    WorkerRow,
)
from bot.storage.configured import MEMORY_URL, storage_for, vault_for
from bot.storage.console import ConsoleStore
from bot.storage.memory import MemoryStorage
from bot.storage.sql import SqlStorage


def open_storage(
    url: str,
    *,
    vault: AddressVault | None = None,
    phone_region: str = "US",
    engine_kwargs: Mapping[str, Any] | None = None,
) -> Storage:
    """The storage for a ``database.url``, not yet connected.

    Use it as ``async with open_storage(url) as storage:`` (or ``await storage.open()`` and
    ``await storage.close()``); opening connects and applies migrations.

    Args:
        url: ``sqlite+aiosqlite:///path/to/file`` (SQLite, the default),
            ``postgresql+asyncpg://user@host/dbname`` (several instances on one database), or
            ``memory://``: a store of its own in this process's memory, lost when the process
            ends (for tests and previews; no other instance can share it).
        vault: the keys addresses are hashed and encrypted with; required by a database.
        phone_region: the country of numbers written without one (``twilio.default_region``).
        engine_kwargs: extra SQLAlchemy engine arguments (SQL stores only).

    Raises:
        StorageError: the URL cannot be parsed or names an unsupported database.
        ConfigError: a database URL without ``vault``.
    """
    if url == MEMORY_URL:
        return MemoryStorage()
    if vault is None:
        raise ConfigError("a database needs privacy.encryption_key and privacy.hash_key")
    return SqlStorage(url, vault=vault, phone_region=phone_region, engine_kwargs=engine_kwargs)


def console_store(storage: Storage) -> ConsoleStore:
    """The web console's store on the same database (or memory) as ``storage``.

    Raises:
        StorageError: ``storage`` is neither a SQL nor an in-memory store.
    """
    from bot.storage.memory.console import MemoryConsole
    from bot.storage.sql.console import SqlConsole

    if isinstance(storage, SqlStorage):
        return SqlConsole(storage.database)
    if isinstance(storage, MemoryStorage):
        return MemoryConsole(storage.connection)
    raise StorageError(f"no console store for {type(storage).__name__}")


__all__ = [
    "MEMORY_URL",
    "AudienceRow",
    "AuditEntry",
    "Broadcast",
    "BroadcastStatus",
    "BroadcastStore",
    "ClaimedDelivery",
    "ConsoleStore",
    "Contact",
    "ConversationStore",
    "CounterRow",
    "DeliveryOutcome",
    "DeliveryStatus",
    "DeliveryTally",
    "FanoutStore",
    "MemoryStorage",
    "PruneResult",
    "SessionRecord",
    "SqlStorage",
    "Storage",
    "WorkerRow",
    "console_store",
    "open_storage",
    "storage_for",
    "vault_for",
]
