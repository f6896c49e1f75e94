"""The broadcast store in SQL: drafts and their life, the audience, the audit log, the archive."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from typing_extensions import override

from bot.privacy import AddressVault
from bot.storage.base import BroadcastStore
from bot.storage.models import (
    AudienceRow,
    AuditEntry,
    Broadcast,
    BroadcastStatus,
    Contact,
    DeliveryStatus,
)
from bot.storage.sql.database import Database, begin_write
from bot.storage.sql.rows import CONTACT_COLUMNS, contact_from_row
from bot.storage.sql.tables import SUBSCRIBER, audit_log, broadcasts, contacts, deliveries

_BROADCAST_COLUMNS: Final = (
    broadcasts.c.id,
    broadcasts.c.created_at,
    broadcasts.c.author,
    broadcasts.c.status,
    broadcasts.c.texts,
    broadcasts.c.allow_fallback,
    broadcasts.c.started_at,
    broadcasts.c.finished_at,
    broadcasts.c.materialized,
)

_SUBSCRIBERS: Final = (
    sa.select(contacts.c.channel, contacts.c.address_cipher, *CONTACT_COLUMNS)
    .where(SUBSCRIBER, contacts.c.id > sa.bindparam("after"))
    .order_by(contacts.c.id)
    .limit(sa.bindparam("limit"))
)


AUTHOR_FIELD: Final = "broadcasts.author"
ACTOR_FIELD: Final = "audit_log.actor"
"""What organizer names are encrypted for (the cipher's context)."""


def _broadcast(row: Any, vault: AddressVault) -> Broadcast:
    texts = row[4]
    return Broadcast(
        id=int(row[0]),
        created_at=row[1],
        author=vault.reveal_text(row[2], AUTHOR_FIELD),
        status=row[3],
        texts={str(k): str(v) for k, v in (texts or {}).items()},
        allow_fallback=bool(row[5]),
        started_at=row[6],
        finished_at=row[7],
        materialized=bool(row[8]),
    )


class SqlBroadcasts(BroadcastStore):
    """:class:`BroadcastStore` on a :class:`Database` (SQLite or PostgreSQL).

    Args:
        db: the database, shared with the store's other parts.
    """

    def __init__(self, db: Database) -> None:
        self._db = db

    @override
    async def create_broadcast(
        self, *, author: str, texts: Mapping[str, str], allow_fallback: bool, now: datetime
    ) -> Broadcast:
        return await self._db.run(
            "create_broadcast", _create, self._db.vault, author, dict(texts), allow_fallback, now
        )

    @override
    async def edit_broadcast(
        self, broadcast_id: int, *, texts: Mapping[str, str], allow_fallback: bool
    ) -> Broadcast | None:
        return await self._db.run(
            "edit_broadcast", _edit, self._db.vault, broadcast_id, dict(texts), allow_fallback
        )

    @override
    async def get_broadcast(self, broadcast_id: int) -> Broadcast | None:
        query = sa.select(*_BROADCAST_COLUMNS).where(broadcasts.c.id == broadcast_id)
        found = await self._db.run("get_broadcast", _select_broadcasts, self._db.vault, query)
        return found[0] if found else None

    @override
    async def list_broadcasts(self, *, limit: int = 20) -> list[Broadcast]:
        query = sa.select(*_BROADCAST_COLUMNS).order_by(broadcasts.c.id.desc()).limit(limit)
        return await self._db.run("list_broadcasts", _select_broadcasts, self._db.vault, query)

    @override
    async def sent_broadcasts(self, *, limit: int = 5) -> list[Broadcast]:
        query = (
            sa.select(*_BROADCAST_COLUMNS)
            .where(broadcasts.c.status.in_([BroadcastStatus.SENDING, BroadcastStatus.DONE]))
            .order_by(broadcasts.c.started_at.desc(), broadcasts.c.id.desc())
            .limit(limit)
        )
        return await self._db.run("sent_broadcasts", _select_broadcasts, self._db.vault, query)

    @override
    async def unfinished_broadcasts(self) -> list[int]:
        return await self._db.run("unfinished_broadcasts", _unfinished)

    @override
    async def count_audience(self, *, recent_since: datetime | None = None) -> list[AudienceRow]:
        return await self._db.run("count_audience", _audience, recent_since)

    @override
    async def subscribers(self, *, after: int, limit: int) -> list[Contact]:
        return await self._db.run("iter_subscribers", _subscribers, self._db.vault, after, limit)

    @override
    async def start_broadcast(self, broadcast_id: int, now: datetime) -> bool:
        return await self._db.run("start_broadcast", _start, broadcast_id, now)

    @override
    async def cancel_broadcast(self, broadcast_id: int, now: datetime) -> bool:
        return await self._db.run("cancel_broadcast", _cancel, broadcast_id, now)

    @override
    async def finish_broadcast(self, broadcast_id: int, now: datetime) -> bool:
        return await self._db.run("finish_broadcast", _finish, broadcast_id, now)

    @override
    async def add_audit(
        self, *, actor: str, action: str, detail: Mapping[str, Any], now: datetime
    ) -> None:
        values = {
            "at": now,
            "actor": self._db.vault.seal_text(actor, ACTOR_FIELD),
            "action": action,
            "detail": dict(detail),
        }
        await self._db.run("add_audit", _add_audit, values)

    @override
    async def audit_log(self, *, limit: int = 100) -> list[AuditEntry]:
        return await self._db.run("audit_log", _audit_entries, self._db.vault, limit)


# -- the functions that run inside one transaction ---------------------------------------------


def _create(
    conn: Connection,
    vault: AddressVault,
    author: str,
    texts: dict[str, str],
    allow_fallback: bool,
    now: datetime,
) -> Broadcast:
    query = (
        broadcasts.insert()
        .values(
            created_at=now,
            author=vault.seal_text(author, AUTHOR_FIELD),
            status=BroadcastStatus.DRAFT,
            texts=texts,
            allow_fallback=allow_fallback,
        )
        .returning(*_BROADCAST_COLUMNS)
    )
    return _broadcast(conn.execute(query).one(), vault)


def _edit(
    conn: Connection,
    vault: AddressVault,
    broadcast_id: int,
    texts: dict[str, str],
    allow_fallback: bool,
) -> Broadcast | None:
    query = (
        broadcasts.update()
        .where(broadcasts.c.id == broadcast_id, broadcasts.c.status == BroadcastStatus.DRAFT)
        .values(texts=texts, allow_fallback=allow_fallback)
        .returning(*_BROADCAST_COLUMNS)
    )
    row = conn.execute(query).first()
    return None if row is None else _broadcast(row, vault)


def _select_broadcasts(
    conn: Connection, vault: AddressVault, query: sa.Select[Any]
) -> list[Broadcast]:
    return [_broadcast(row, vault) for row in conn.execute(query)]


def _unfinished(conn: Connection) -> list[int]:
    query = (
        sa.select(broadcasts.c.id)
        .where(broadcasts.c.status == BroadcastStatus.SENDING)
        .order_by(broadcasts.c.id)
    )
    return [int(bid) for (bid,) in conn.execute(query)]


def _audience(conn: Connection, recent_since: datetime | None) -> list[AudienceRow]:
    recent: sa.ColumnElement[Any] = sa.literal(0)
    if recent_since is not None:
        wrote = contacts.c.last_inbound_at >= recent_since
        recent = sa.func.sum(sa.case((wrote, 1), else_=0))
    query = (
        sa.select(contacts.c.channel, contacts.c.locale, sa.func.count(), recent)
        .where(SUBSCRIBER)
        .group_by(contacts.c.channel, contacts.c.locale)
        .order_by(contacts.c.channel, contacts.c.locale)
    )
    return [
        AudienceRow(channel, locale, int(n), int(r or 0))
        for channel, locale, n, r in conn.execute(query)
    ]


def _subscribers(conn: Connection, vault: AddressVault, after: int, limit: int) -> list[Contact]:
    rows = conn.execute(_SUBSCRIBERS, {"after": after, "limit": limit})
    return [contact_from_row(vault.reveal(row[0], row[1]), row[2:]) for row in rows]


def _start(conn: Connection, broadcast_id: int, now: datetime) -> bool:
    highest = sa.select(sa.func.coalesce(sa.func.max(contacts.c.id), 0)).scalar_subquery()
    query = (
        broadcasts.update()
        .where(broadcasts.c.id == broadcast_id, broadcasts.c.status == BroadcastStatus.DRAFT)
        .values(status=BroadcastStatus.SENDING, started_at=now, audience_upto=highest)
    )
    return bool(conn.execute(query).rowcount == 1)


def _cancel(conn: Connection, broadcast_id: int, now: datetime) -> bool:
    begin_write(conn)
    query = (
        broadcasts.update()
        .where(
            broadcasts.c.id == broadcast_id,
            broadcasts.c.status.in_([BroadcastStatus.DRAFT, BroadcastStatus.SENDING]),
        )
        .values(status=BroadcastStatus.CANCELLED, finished_at=now)
    )
    if conn.execute(query).rowcount != 1:
        return False
    conn.execute(
        deliveries.update()
        .where(
            deliveries.c.broadcast_id == broadcast_id,
            deliveries.c.status == DeliveryStatus.PENDING,
        )
        .values(status=DeliveryStatus.CANCELLED, updated_at=now)
    )
    return True


def _finish(conn: Connection, broadcast_id: int, now: datetime) -> bool:
    open_rows = (
        sa.select(deliveries.c.id)
        .where(
            deliveries.c.broadcast_id == broadcast_id,
            deliveries.c.status.in_(sorted(DeliveryStatus.OPEN)),
        )
        .exists()
    )
    query = (
        broadcasts.update()
        .where(
            broadcasts.c.id == broadcast_id,
            broadcasts.c.status == BroadcastStatus.SENDING,
            broadcasts.c.materialized,
            ~open_rows,
        )
        .values(status=BroadcastStatus.DONE, finished_at=now)
    )
    return bool(conn.execute(query).rowcount == 1)


def _add_audit(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(audit_log.insert().values(values))


def _audit_entries(conn: Connection, vault: AddressVault, limit: int) -> list[AuditEntry]:
    query = (
        sa.select(
            audit_log.c.id,
            audit_log.c.at,
            audit_log.c.actor,
            audit_log.c.action,
            audit_log.c.detail,
        )
        .order_by(audit_log.c.id.desc())
        .limit(limit)
    )
    return [
        AuditEntry(int(i), at, vault.reveal_text(actor, ACTOR_FIELD), action, dict(detail or {}))
        for i, at, actor, action, detail in conn.execute(query)
    ]
