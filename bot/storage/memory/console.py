"""The web console's store in memory: login links and sessions by hash, subscriber growth."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta

from typing_extensions import override

from bot.storage.console import ConsoleStore, GrowthRow, TokenKind
from bot.storage.memory.database import MemoryConnection, is_subscriber, utc


class MemoryConsole(ConsoleStore):
    """:class:`ConsoleStore` on the rows of a :class:`~bot.storage.memory.MemoryStorage`.

    Args:
        connection: the storage's connection to its rows.
    """

    def __init__(self, connection: MemoryConnection) -> None:
        self._connection = connection

    @override
    async def add_console_token(
        self,
        *,
        token_hash: str,
        kind: TokenKind,
        organizer: int,
        now: datetime,
        expires_at: datetime,
    ) -> None:
        utc(now, "now")
        tokens = self._connection.rows().console_tokens
        tokens[token_hash] = (kind.value, organizer, utc(expires_at, "expires_at"))

    @override
    async def use_login_link(self, token_hash: str, now: datetime) -> int | None:
        tokens = self._connection.rows().console_tokens
        row = tokens.get(token_hash)
        if row is None or row[0] != TokenKind.LINK.value:
            return None
        del tokens[token_hash]
        return row[1] if row[2] > utc(now, "now") else None

    @override
    async def touch_session(self, token_hash: str, now: datetime, idle: timedelta) -> int | None:
        tokens = self._connection.rows().console_tokens
        row = tokens.get(token_hash)
        if row is None or row[0] != TokenKind.SESSION.value:
            return None
        now = utc(now, "now")
        if row[2] <= now:
            del tokens[token_hash]
            return None
        tokens[token_hash] = (row[0], row[1], now + idle)
        return row[1]

    @override
    async def end_session(self, token_hash: str) -> bool:
        tokens = self._connection.rows().console_tokens
        row = tokens.get(token_hash)
        if row is None or row[0] != TokenKind.SESSION.value:
            return False
        del tokens[token_hash]
        return True

    @override
    async def prune_console_tokens(self, now: datetime) -> int:
        tokens = self._connection.rows().console_tokens
        now = utc(now, "now")
        expired = [key for key, row in tokens.items() if row[2] <= now]
        for key in expired:
            del tokens[key]
        return len(expired)

    @override
    async def subscriber_growth(self) -> list[GrowthRow]:
        contacts = self._connection.rows().contacts.values()
        counts = Counter(
            (_utc_day(c.consent_at), c.address.channel) for c in contacts if is_subscriber(c)
        )
        rows = [GrowthRow(day, channel, n) for (day, channel), n in counts.items()]
        return sorted(rows, key=lambda r: (r.day or date.min, r.channel))


def _utc_day(value: datetime | None) -> date | None:
    return utc(value, "consent_at").date() if value is not None else None
