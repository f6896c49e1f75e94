"""The outbox in SQL: replies stored, claimed in per-contact order, erased once sent.

Each method is one transaction (:meth:`~bot.storage.sql.database.Database.run`). Several
instances stay correct as the fan-out does: claims take rows with ``FOR UPDATE SKIP LOCKED``
on PostgreSQL and under ``BEGIN IMMEDIATE`` on SQLite, and a result is written only where
the row is still held by the same worker. A row is claimable only when no earlier row of the
same contact is unsent, which keeps one person's replies in order across instances too.

On SQLite the two calls every reply makes (enqueue, then sent) go to the driver
(:mod:`bot.storage.sql.outbox_fastpath`), skipping SQLAlchemy's per-statement work.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from typing_extensions import override

from bot.messages import Address
from bot.privacy import AddressVault
from bot.storage.outbox import Enqueued, OutboxItem, OutboxStatus, OutboxStore
from bot.storage.sql import outbox_fastpath
from bot.storage.sql.database import Database, begin_write
from bot.storage.sql.tables import contacts, outbox
from bot.storage.values import aware

_earlier = outbox.alias("earlier")
_NO_EARLIER_UNSENT = ~sa.exists().where(
    _earlier.c.contact_id == outbox.c.contact_id,
    _earlier.c.id < outbox.c.id,
    _earlier.c.status.in_(OutboxStatus.UNSENT),
)


def _enqueue(
    conn: Connection,
    lookup: bytes,
    address: Address,
    payloads: list[str],
    worker: str,
    now: datetime,
    expires_at: datetime,
) -> Enqueued | None:
    begin_write(conn)
    query = sa.select(contacts.c.id).where(
        contacts.c.channel == address.channel, contacts.c.address_hash == lookup
    )
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()  # one enqueue per contact at a time: ids stay in order
    contact_id = conn.execute(query).scalar()
    if contact_id is None:
        return None
    waiting = conn.execute(
        sa.select(sa.func.count())
        .select_from(outbox)
        .where(outbox.c.contact_id == contact_id, outbox.c.status.in_(OutboxStatus.UNSENT))
    ).scalar()
    claimed = not waiting
    items = []
    for payload in payloads:
        row_id = conn.execute(
            outbox.insert()
            .values(
                contact_id=contact_id,
                channel=address.channel,
                payload=payload,
                status=OutboxStatus.SENDING if claimed else OutboxStatus.PENDING,
                attempts=1 if claimed else 0,
                created_at=now,
                updated_at=now,
                expires_at=expires_at,
                claimed_by=worker if claimed else None,
                claimed_at=now if claimed else None,
            )
            .returning(outbox.c.id)
        ).scalar_one()
        items.append(OutboxItem(int(row_id), int(contact_id), address, payload, 1, expires_at))
    return Enqueued(tuple(items), claimed)


def _claim(
    conn: Connection,
    vault: AddressVault,
    worker: str,
    channels: list[str],
    now: datetime,
    limit: int,
) -> list[OutboxItem]:
    """Take due rows for ``worker``; addresses are decrypted for these rows only."""
    begin_write(conn)
    o, c = outbox, contacts
    query = (
        sa.select(
            o.c.id, o.c.contact_id, c.c.channel, c.c.address_cipher, o.c.payload, o.c.attempts
        )
        .add_columns(o.c.expires_at)
        .select_from(o.join(c, c.c.id == o.c.contact_id))
        .where(
            o.c.status == OutboxStatus.PENDING,
            o.c.channel.in_(channels),
            sa.or_(o.c.not_before.is_(None), o.c.not_before <= now),
            _NO_EARLIER_UNSENT,
        )
        .order_by(o.c.id)
        .limit(limit)
    )
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=o)
    items = [
        OutboxItem(
            int(row_id),
            int(contact_id),
            vault.reveal(channel, address),
            payload,
            int(attempts) + 1,
            expires_at,
        )
        for row_id, contact_id, channel, address, payload, attempts, expires_at in conn.execute(
            query
        )
    ]
    if items:
        conn.execute(
            o.update()
            .where(o.c.id.in_([item.id for item in items]))
            .values(
                status=OutboxStatus.SENDING,
                claimed_by=worker,
                claimed_at=now,
                attempts=o.c.attempts + 1,
                updated_at=now,
            )
        )
    return items


def _held(worker: str, *ids: int) -> sa.ColumnElement[bool]:
    return sa.and_(
        outbox.c.id.in_(ids),
        outbox.c.claimed_by == worker,
        outbox.c.status == OutboxStatus.SENDING,
    )


def _sent(conn: Connection, worker: str, ids: list[int]) -> None:
    conn.execute(outbox.delete().where(_held(worker, *ids)))


def _retry(conn: Connection, worker: str, item_id: int, not_before: datetime, error: str) -> None:
    conn.execute(
        outbox.update()
        .where(_held(worker, item_id))
        .values(
            status=OutboxStatus.PENDING,
            claimed_by=None,
            not_before=not_before,
            error=error,
        )
    )


def _failed(conn: Connection, worker: str, item_id: int, error: str, now: datetime) -> None:
    conn.execute(
        outbox.update()
        .where(_held(worker, item_id))
        .values(status=OutboxStatus.FAILED, payload=None, error=error, updated_at=now)
    )


def _release(conn: Connection, claimed_before: datetime, now: datetime) -> int:
    return int(
        conn.execute(
            outbox.update()
            .where(outbox.c.status == OutboxStatus.SENDING, outbox.c.claimed_at < claimed_before)
            .values(status=OutboxStatus.PENDING, claimed_by=None, updated_at=now)
        ).rowcount
    )


def _next_due(conn: Connection, channels: list[str]) -> datetime | None:
    epoch = sa.literal(datetime(1970, 1, 1, tzinfo=UTC), outbox.c.not_before.type)
    due = sa.func.coalesce(outbox.c.not_before, epoch)
    count, earliest = conn.execute(
        sa.select(sa.func.count(), sa.func.min(due, type_=outbox.c.not_before.type)).where(
            outbox.c.status == OutboxStatus.PENDING,
            outbox.c.channel.in_(channels),
            _NO_EARLIER_UNSENT,
        )
    ).one()
    if not count:
        return None
    assert isinstance(earliest, datetime)
    return earliest


def _counts(conn: Connection) -> dict[str, int]:
    query = sa.select(outbox.c.status, sa.func.count()).group_by(outbox.c.status)
    return {status: int(n) for status, n in conn.execute(query)}


def _prune(conn: Connection, before: datetime) -> int:
    return int(
        conn.execute(
            outbox.delete().where(
                outbox.c.status == OutboxStatus.FAILED, outbox.c.updated_at < before
            )
        ).rowcount
    )


class SqlOutbox(OutboxStore):
    """:class:`OutboxStore` on a :class:`Database` (SQLite or PostgreSQL).

    Args:
        db: the database, shared with the store's other parts.
    """

    def __init__(self, db: Database) -> None:
        self._db = db

    @override
    async def enqueue(
        self,
        address: Address,
        payloads: Sequence[str],
        *,
        worker: str,
        now: datetime,
        expires_at: datetime,
    ) -> Enqueued | None:
        aware(now, "now")
        aware(expires_at, "expires_at")
        db = self._db
        if db.sqlite:
            return db.on_driver(
                "enqueue",
                outbox_fastpath.enqueue,
                db.vault.lookup(address),
                address,
                list(payloads),
                worker,
                db.sqlite_now(now),
                expires_at,
            )
        return await self._db.run(
            "enqueue",
            _enqueue,
            self._db.vault.lookup(address),
            address,
            list(payloads),
            worker,
            now,
            expires_at,
        )

    @override
    async def claim_outbox(
        self, *, worker: str, channels: Sequence[str], now: datetime, limit: int
    ) -> list[OutboxItem]:
        aware(now, "now")
        if not channels:
            return []
        return await self._db.run(
            "claim_outbox", _claim, self._db.vault, worker, list(channels), now, limit
        )

    @override
    async def outbox_sent(self, worker: str, ids: Sequence[int]) -> None:
        if not ids:
            return
        if self._db.sqlite:
            self._db.on_driver("outbox_sent", outbox_fastpath.sent, worker, list(ids))
            return
        await self._db.run("outbox_sent", _sent, worker, list(ids))

    @override
    async def outbox_retry(
        self, worker: str, item_id: int, *, not_before: datetime, error: str
    ) -> None:
        aware(not_before, "not_before")
        await self._db.run("outbox_retry", _retry, worker, item_id, not_before, error)

    @override
    async def outbox_failed(self, worker: str, item_id: int, *, error: str, now: datetime) -> None:
        aware(now, "now")
        await self._db.run("outbox_failed", _failed, worker, item_id, error, now)

    @override
    async def release_outbox(self, *, claimed_before: datetime, now: datetime) -> int:
        aware(claimed_before, "claimed_before")
        return await self._db.run("release_outbox", _release, claimed_before, now)

    @override
    async def next_outbox_due(self, channels: Sequence[str]) -> datetime | None:
        if not channels:
            return None
        return await self._db.run("next_outbox_due", _next_due, list(channels))

    @override
    async def outbox_counts(self) -> dict[str, int]:
        return await self._db.run("outbox_counts", _counts)

    @override
    async def prune_outbox(self, *, before: datetime) -> int:
        aware(before, "before")
        return await self._db.run("prune_outbox", _prune, before)

    @override
    async def scrub_sent(self) -> None:
        self._db.scrub_after_erase()
