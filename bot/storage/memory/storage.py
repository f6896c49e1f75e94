"""MemoryStorage: the whole Storage kept in this process's memory, for tests and previews."""

from __future__ import annotations

from typing_extensions import override

from bot.storage.composed import ComposedStorage
from bot.storage.memory.broadcasts import MemoryBroadcasts
from bot.storage.memory.conversations import MemoryConversations
from bot.storage.memory.database import MemoryConnection, MemoryDatabase
from bot.storage.memory.fanout import MemoryFanout
from bot.storage.memory.outbox import MemoryOutbox
from bot.storage.memory.tickets import MemoryTickets
from bot.storage.memory.turns import MemoryTurns


class MemoryStorage(ComposedStorage):
    """:class:`~bot.storage.base.Storage` in memory: ``open_storage("memory://")``.

    It passes the same contract suite as the SQL store, without a database: nothing is
    written to disk, and the rows last as long as the :class:`MemoryDatabase` (closing
    keeps them; the next open sees them again). It suits one process only.

    Args:
        database: the rows to work on; several stores on one database act like several
            instances on one SQL database. Default: a new, empty one of its own.
    """

    def __init__(self, database: MemoryDatabase | None = None) -> None:
        self._connection = MemoryConnection(database or MemoryDatabase())
        self._memory_conversations = MemoryConversations(self._connection)
        super().__init__(
            self._memory_conversations,
            MemoryBroadcasts(self._connection),
            MemoryFanout(self._connection),
            MemoryOutbox(self._connection),
            MemoryTurns(self._connection),
            MemoryTickets(self._connection),
        )

    @property
    def connection(self) -> MemoryConnection:
        """This store's way to its rows (open while the store is), for stores beside it."""
        return self._connection

    @property
    def database(self) -> MemoryDatabase:
        """The rows this store works on."""
        return self._connection.database

    @override
    async def open(self) -> None:
        self._connection.open()

    @override
    async def close(self) -> None:
        self._connection.close()
        self._memory_conversations.forget_snapshots()
