"""What the organizers' web console stores: login links and sessions (as hashes), and growth.

Login links and sessions are kept in the database, not in one process's memory, because
``kyrbot console link`` runs in another process than the ``kyrbot serve`` that honours the
link, and because several instances behind one address must all know a session. Only a
SHA-256 hash of each token is stored: a copy of the database cannot be used to log in.
"""

from __future__ import annotations

import abc
import enum
from dataclasses import dataclass
from datetime import date, datetime, timedelta


class TokenKind(enum.StrEnum):
    """What a console token is for."""

    LINK = "link"
    """A single-use login link (sent by the bot, or made by ``kyrbot console link``)."""
    SESSION = "session"
    """A logged-in browser's session cookie."""


@dataclass(frozen=True, slots=True)
class GrowthRow:
    """Today's subscribers on one channel who subscribed on ``day`` (``None``: not recorded)."""

    day: date | None
    channel: str
    count: int


class ConsoleStore(abc.ABC):
    """The web console's storage: tokens by hash, and subscriber counts by subscription day."""

    @abc.abstractmethod
    async def add_console_token(
        self,
        *,
        token_hash: str,
        kind: TokenKind,
        organizer: int,
        now: datetime,
        expires_at: datetime,
    ) -> None:
        """Record a new token (by its hash) for ``organizer``, valid until ``expires_at``."""

    @abc.abstractmethod
    async def use_login_link(self, token_hash: str, now: datetime) -> int | None:
        """Use up a login link: its organizer, or ``None`` if it is unknown, used or expired.

        The link is deleted in the same transaction, so two requests cannot both use it.
        """

    @abc.abstractmethod
    async def touch_session(self, token_hash: str, now: datetime, idle: timedelta) -> int | None:
        """A live session's organizer, its expiry moved to ``now + idle``; else ``None``.

        A store may skip moving the expiry by less than a minute (fewer writes while a
        page polls), so a session can end up to a minute before ``idle`` has passed.
        """

    @abc.abstractmethod
    async def end_session(self, token_hash: str) -> bool:
        """Delete a session; False when there was none."""

    @abc.abstractmethod
    async def prune_console_tokens(self, now: datetime) -> int:
        """Delete expired links and sessions; how many were deleted."""

    @abc.abstractmethod
    async def subscriber_growth(self) -> list[GrowthRow]:
        """Today's subscribers counted per channel and day they subscribed (UTC)."""
