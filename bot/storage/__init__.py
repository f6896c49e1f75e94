"""Persistence: the storage interface and its SQLAlchemy implementation."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.storage.base import (
    AudienceRow,
    AuditEntry,
    Broadcast,
    BroadcastStatus,
    ClaimedDelivery,
    Contact,
    CounterRow,
    DeliveryOutcome,
    DeliveryStatus,
    DeliveryTally,
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

    Raises:
        StorageError: the URL cannot be parsed or names an unsupported database.
    """
    return SqlStorage(url, engine_kwargs=engine_kwargs)


__all__ = [
    "AudienceRow",
    "AuditEntry",
    "Broadcast",
    "BroadcastStatus",
    "ClaimedDelivery",
    "Contact",
    "CounterRow",
    "DeliveryOutcome",
    "DeliveryStatus",
    "DeliveryTally",
    "PruneResult",
    "SessionRecord",
    "SqlStorage",
    "Storage",
    "WorkerRow",
    "open_storage",
]
