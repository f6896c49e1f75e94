"""Persistence: the storage interfaces and the SQL store."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

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
from bot.storage.sql import SqlStorage


def open_storage(url: str, *, engine_kwargs: Mapping[str, Any] | None = None) -> Storage:
    """The storage for a ``database.url``, not yet connected.

    Use it as ``async with open_storage(url) as storage:`` (or ``await storage.open()`` and
    ``await storage.close()``); opening connects and applies migrations.

    Args:
        url: ``sqlite+aiosqlite:///path/to/file`` (SQLite, the default),
            or ``postgresql+asyncpg://user@host/dbname`` (several instances on one database).
        engine_kwargs: extra SQLAlchemy engine arguments (SQL stores only).

    Raises:
        StorageError: the URL cannot be parsed or names an unsupported database.
    """
    return SqlStorage(url, engine_kwargs=engine_kwargs)


__all__ = [
    "AudienceRow",
    "AuditEntry",
    "Broadcast",
    "BroadcastStatus",
    "BroadcastStore",
    "ClaimedDelivery",
    "Contact",
    "ConversationStore",
    "CounterRow",
    "DeliveryOutcome",
    "DeliveryStatus",
    "DeliveryTally",
    "FanoutStore",
    "PruneResult",
    "SessionRecord",
    "SqlStorage",
    "Storage",
    "WorkerRow",
    "open_storage",
]
