"""Console login without passwords: single-use links, idle-expiring sessions, the audit log.

A link is made for an allow-listed organizer (the bot sends it after ``/console``, or an
operator runs ``kyrbot console link``); it works once, for :data:`LINK_MINUTES` minutes.
Using it (a POST, never a GET) gives a session token for a cookie; a session ends after
``console.idle_minutes`` without a request, or at log-out. Tokens are random, 256 bits, and
stored only as SHA-256 hashes (:mod:`bot.storage.console`). Time comes from the injected
clock, so tests can age a link without waiting.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Callable, Collection
from datetime import datetime, timedelta
from typing import Final

from bot.broadcast.drafts import utcnow
from bot.broadcast.service import organizer_actor
from bot.storage.base import BroadcastStore
from bot.storage.console import ConsoleStore, TokenKind

logger = logging.getLogger(__name__)

LINK_MINUTES: Final = 10
"""How long a login link works."""
LOGIN_PATH: Final = "/console/login/"
"""Where a login link points: this path, then the token."""


def token_hash(token: str) -> str:
    """The stored form of a token: its SHA-256, hex (the token itself has 256 random bits)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class Logins:
    """Makes and honours login links and sessions for allow-listed organizers.

    Args:
        store: where links and sessions are kept (as hashes).
        audit: where logins and logouts are recorded.
        organizers: the allow-listed Telegram user ids (``organizers.telegram_ids``).
        idle: how long a session lasts without a request.
        now: the clock (timezone-aware UTC).
    """

    def __init__(
        self,
        store: ConsoleStore,
        audit: BroadcastStore,
        *,
        organizers: Collection[int],
        idle: timedelta,
        now: Callable[[], datetime] = utcnow,
    ) -> None:
        self._store = store
        self._audit = audit
        self.organizers = frozenset(organizers)
        self.idle = idle
        self._now = now

    async def make_link(self, organizer: int, base_url: str) -> str | None:
        """A new login link for ``organizer``, or ``None`` when they are not allow-listed."""
        if organizer not in self.organizers:
            return None
        token = secrets.token_urlsafe(32)
        now = self._now()
        await self._store.add_console_token(
            token_hash=token_hash(token),
            kind=TokenKind.LINK,
            organizer=organizer,
            now=now,
            expires_at=now + timedelta(minutes=LINK_MINUTES),
        )
        await self._audit.add_audit(
            actor=organizer_actor(telegram_user_id=organizer),
            action="console_link",
            detail={"valid_minutes": LINK_MINUTES},
            now=now,
        )
        return base_url.rstrip("/") + LOGIN_PATH + token

    async def log_in(self, link_token: str) -> tuple[int, str] | None:
        """Use up a link: ``(organizer, session token)``, or ``None`` (refused, same for all).

        Unknown, expired and already used links, and links of people no longer on the
        allow list, are all refused alike.
        """
        if not link_token or len(link_token) > 128:
            return None
        now = self._now()
        organizer = await self._store.use_login_link(token_hash(link_token), now)
        if organizer is None or organizer not in self.organizers:
            logger.info("A console login link was refused")
            return None
        session = secrets.token_urlsafe(32)
        await self._store.add_console_token(
            token_hash=token_hash(session),
            kind=TokenKind.SESSION,
            organizer=organizer,
            now=now,
            expires_at=now + self.idle,
        )
        await self._audit.add_audit(
            actor=organizer_actor(telegram_user_id=organizer),
            action="console_login",
            detail={},
            now=now,
        )
        return organizer, session

    async def session(self, session_token: str | None) -> int | None:
        """The organizer of a live session (its idle timer restarted), else ``None``."""
        if not session_token or len(session_token) > 128:
            return None
        organizer = await self._store.touch_session(
            token_hash(session_token), self._now(), self.idle
        )
        if organizer is None or organizer not in self.organizers:
            return None
        return organizer

    async def log_out(self, session_token: str, organizer: int) -> None:
        """End a session, and record it."""
        if await self._store.end_session(token_hash(session_token)):
            await self._audit.add_audit(
                actor=organizer_actor(telegram_user_id=organizer),
                action="console_logout",
                detail={},
                now=self._now(),
            )

    async def prune(self) -> int:
        """Forget expired links and sessions."""
        return await self._store.prune_console_tokens(self._now())
