"""The in-memory store: the whole Storage without a database, passing the same contract suite."""

from bot.storage.memory.database import MemoryDatabase
from bot.storage.memory.storage import MemoryStorage

__all__ = ["MemoryDatabase", "MemoryStorage"]
