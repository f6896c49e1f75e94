"""SqlStorage: the whole Storage on SQLite or PostgreSQL, its parts sharing one Database."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine
from typing_extensions import override

from bot.privacy import AddressVault
from bot.storage.composed import ComposedStorage
from bot.storage.sql.broadcasts import SqlBroadcasts
from bot.storage.sql.conversations import SqlConversations
from bot.storage.sql.database import Database
from bot.storage.sql.fanout import SqlFanout
from bot.storage.sql.outbox import SqlOutbox
from bot.storage.sql.plaintext import check_keys, encrypt_plaintext
from bot.storage.sql.tickets import SqlTickets
from bot.storage.sql.turns import SqlTurns


class SqlStorage(ComposedStorage):
    """:class:`~bot.storage.base.Storage` on SQLite or PostgreSQL.

    SQLite (``sqlite+aiosqlite:///path``, the default) runs on the standard ``sqlite3``
    driver on the event loop's thread; PostgreSQL (``postgresql+asyncpg://user@host/db``,
    for several instances on one database) on asyncpg. ``sqlite://`` and ``postgresql://``
    URLs are accepted too.

    Every address is kept encrypted under ``vault``'s key and found by its blind index; a
    database an older kyrbot wrote in plain text is encrypted in place when it is opened
    (:mod:`bot.storage.sql.plaintext`), and opening refuses keys that do not fit.

    Args:
        url: the SQLAlchemy database URL (``database.url`` in the config).
        vault: the keys (``privacy.*``).
        phone_region: the country of numbers written without one (``twilio.default_region``),
            used when a plain-text database is encrypted.
        engine_kwargs: extra engine arguments (``create_engine`` for SQLite,
            ``create_async_engine`` for PostgreSQL), for example
            ``{"connect_args": {"server_settings": {"search_path": "s1"}}}``.

    Raises:
        StorageError: the URL cannot be parsed or names an unsupported database.
    """

    def __init__(
        self,
        url: str,
        *,
        vault: AddressVault,
        phone_region: str = "US",
        engine_kwargs: Mapping[str, Any] | None = None,
    ) -> None:
        self._db = Database(url, vault=vault, engine_kwargs=engine_kwargs)
        self._phone_region = phone_region
        self.encrypted_on_open = 0
        """How many plain-text contacts the last :meth:`open` encrypted."""
        self._sql_conversations = SqlConversations(self._db)
        super().__init__(
            self._sql_conversations,
            SqlBroadcasts(self._db),
            SqlFanout(self._db),
            SqlOutbox(self._db),
            SqlTurns(self._db),
            SqlTickets(self._db),
        )

    @property
    def database(self) -> Database:
        """The connection the parts share (for tests and tools that look underneath)."""
        return self._db

    @property
    def url(self) -> str:
        """The database URL with any password masked, fit for logs and error messages."""
        return self._db.url

    @property
    def dialect_name(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self._db.dialect_name

    @property
    def engine(self) -> AsyncEngine:
        """An async SQLAlchemy engine on this database (see :attr:`Database.engine`).

        Raises:
            StorageError: the storage is not open, or is an in-memory SQLite database.
        """
        return self._db.engine

    @override
    def check_files(self) -> None:
        self._db.check_files()

    @override
    async def check_health(self) -> None:
        await self._db.check_health()

    @override
    async def open(self) -> None:
        await self._db.open()
        try:
            self.encrypted_on_open = await encrypt_plaintext(
                self._db, phone_region=self._phone_region
            )
            await check_keys(self._db)
        except BaseException:
            await self._db.close()
            raise

    @override
    async def close(self) -> None:
        try:
            await self._db.close()
        finally:
            self._sql_conversations.forget_snapshots()
