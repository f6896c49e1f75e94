"""The SQL store: SQLite by default, PostgreSQL for several instances on one database."""

from bot.storage.sql.storage import SqlStorage

__all__ = ["SqlStorage"]
