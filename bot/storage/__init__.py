"""Persistence: the storage interface and its SQLAlchemy implementation."""

from bot.storage.base import Contact, CounterRow, SessionRecord, Storage

__all__ = ["Contact", "CounterRow", "SessionRecord", "Storage"]
