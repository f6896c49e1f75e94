"""The delivery rows in SQL: written, claimed, recorded, released, counted, reported.

Each function runs inside one transaction (:meth:`~bot.storage.sql.database.Database.run`).
How they stay correct with several instances on one database:

* **Delivery rows** are written in batches by ``INSERT ... SELECT ... ON CONFLICT DO NOTHING``
  over ``unique(broadcast_id, contact_id)``, continuing from a cursor kept on the broadcast
  row; writing a batch twice (a crash, two instances) adds nothing.
* **Claims** take due ``pending`` rows and make them ``sending`` with the claimer's id in the
  same transaction: on PostgreSQL with ``SELECT ... FOR UPDATE SKIP LOCKED`` (two instances
  never get the same row and never wait for each other); on SQLite under ``BEGIN IMMEDIATE``
  (one writer at a time).
* **Results** are written only where the row is still claimed by the same worker.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bot.privacy import AddressVault
from bot.storage.models import (
    BroadcastStatus,
    ClaimedDelivery,
    DeliveryNote,
    DeliveryOutcome,
    DeliveryStatus,
    DeliveryTally,
)
from bot.storage.sql.database import begin_write, upsert
from bot.storage.sql.tables import SUBSCRIBER, UtcDateTime, broadcasts, contacts, deliveries

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)

_RESULT_FROM: Final = (DeliveryStatus.SENDING, DeliveryStatus.UNKNOWN)
"""A result is recorded over these: ``unknown`` too, in case the worker was wrongly reaped."""


def materialize(
    conn: Connection,
    broadcast_id: int,
    locales: dict[str, str],
    default_locale: str,
    batch_size: int,
    now: datetime,
) -> int:
    """The next batch of delivery rows (see ``FanoutStore.materialize_deliveries``)."""
    begin_write(conn)
    state = sa.select(
        broadcasts.c.status,
        broadcasts.c.audience_upto,
        broadcasts.c.materialized_upto,
        broadcasts.c.materialized,
    ).where(broadcasts.c.id == broadcast_id)
    if conn.dialect.name == "postgresql":
        state = state.with_for_update()  # one batch at a time, and never after a cancel
    row = conn.execute(state).first()
    if row is None or row[0] != BroadcastStatus.SENDING or row[3]:
        return 0
    upto, after = int(row[1] or 0), int(row[2] or 0)
    in_batch = (
        sa.select(contacts.c.id)
        .where(SUBSCRIBER, contacts.c.id > after, contacts.c.id <= upto)
        .order_by(contacts.c.id)
        .limit(batch_size)
        .subquery()
    )
    covered, last = conn.execute(sa.select(sa.func.count(), sa.func.max(in_batch.c.id))).one()
    if not covered:
        conn.execute(
            broadcasts.update().where(broadcasts.c.id == broadcast_id).values(materialized=True)
        )
        return 0
    fallback = locales.get(default_locale, default_locale)
    text_locale = sa.case(
        {locale: sa.literal(target) for locale, target in locales.items()},
        value=contacts.c.locale,
        else_=sa.literal(fallback),
    )
    rows = sa.select(
        sa.literal(broadcast_id, deliveries.c.broadcast_id.type),
        contacts.c.id,
        text_locale,
        contacts.c.channel,
        sa.literal(DeliveryStatus.PENDING),
        sa.literal(0),
        sa.literal(now, UtcDateTime()),
    ).where(SUBSCRIBER, contacts.c.id > after, contacts.c.id <= last)
    insert = upsert(conn.dialect.name, deliveries).from_select(
        ["broadcast_id", "contact_id", "locale", "channel", "status", "attempts", "updated_at"],
        rows,
    )
    conn.execute(
        insert.on_conflict_do_nothing(
            index_elements=[deliveries.c.broadcast_id, deliveries.c.contact_id]
        )
    )
    conn.execute(
        broadcasts.update()
        .where(broadcasts.c.id == broadcast_id)
        .values(materialized_upto=int(last))
    )
    return int(covered)


def claim(
    conn: Connection,
    vault: AddressVault,
    broadcast_id: int,
    channel: str,
    worker: str,
    limit: int,
    now: datetime,
) -> list[ClaimedDelivery]:
    """Take due pending rows for ``worker``; close those of people who left meanwhile.

    Addresses are decrypted here, for the rows about to be sent only.
    """
    begin_write(conn)
    d, c = deliveries, contacts
    query = (
        sa.select(
            d.c.id,
            d.c.contact_id,
            d.c.locale,
            d.c.attempts,
            d.c.first_attempt_at,
            c.c.channel,
            c.c.address_cipher,
            c.c.subscribed,
            c.c.opted_out,
            c.c.unreachable,
            c.c.last_inbound_at,
        )
        .select_from(d.join(c, c.c.id == d.c.contact_id))
        .where(
            d.c.broadcast_id == broadcast_id,
            d.c.channel == channel,
            d.c.status == DeliveryStatus.PENDING,
            sa.or_(d.c.not_before.is_(None), d.c.not_before <= now),
        )
        .order_by(d.c.id)
        .limit(limit)
    )
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=d)
    claimed: list[ClaimedDelivery] = []
    opted_out: list[int] = []
    skipped: list[int] = []
    for (
        did,
        cid,
        locale,
        attempts,
        first_attempt_at,
        ch,
        address,
        subscribed,
        is_opted_out,
        unreachable,
        last_inbound_at,
    ) in conn.execute(query):
        if is_opted_out:
            opted_out.append(did)
        elif not subscribed or unreachable:
            skipped.append(did)
        else:
            claimed.append(
                ClaimedDelivery(
                    did,
                    cid,
                    vault.reveal(ch, address),
                    locale,
                    int(attempts) + 1,
                    first_attempt_at or now,
                    last_inbound_at,
                )
            )
    if claimed:
        conn.execute(
            d.update()
            .where(d.c.id.in_([item.id for item in claimed]))
            .values(
                status=DeliveryStatus.SENDING,
                claimed_by=worker,
                claimed_at=now,
                attempts=d.c.attempts + 1,
                first_attempt_at=sa.func.coalesce(
                    d.c.first_attempt_at, sa.literal(now, UtcDateTime())
                ),
                updated_at=now,
            )
        )
    for ids, status, error in (
        (opted_out, DeliveryStatus.OPTED_OUT, DeliveryNote.OPTED_OUT),
        (skipped, DeliveryStatus.SKIPPED, DeliveryNote.LEFT),
    ):
        if ids:
            conn.execute(
                d.update()
                .where(d.c.id.in_(ids))
                .values(status=status, error=error, updated_at=now)
            )
    return claimed


def record(conn: Connection, worker: str, outcomes: list[DeliveryOutcome], now: datetime) -> None:
    """Write the outcomes of rows ``worker`` holds, and mark the contacts they name."""
    begin_write(conn)
    d = deliveries
    update = (
        d.update()
        .where(
            d.c.id == sa.bindparam("delivery_id"),
            d.c.claimed_by == sa.bindparam("worker"),
            # Not IN (...): an expanding parameter cannot be used with executemany.
            sa.or_(*(d.c.status == status for status in _RESULT_FROM)),
        )
        .values(
            status=sa.bindparam("new_status"),
            provider_id=sa.bindparam("new_provider_id"),
            error=sa.bindparam("new_error"),
            not_before=sa.bindparam("retry_at"),
            claimed_by=sa.bindparam("new_claimer"),
            updated_at=sa.bindparam("now"),
        )
    )
    conn.execute(
        update,
        [
            {
                "delivery_id": outcome.id,
                "worker": worker,
                "new_status": outcome.status,
                "new_provider_id": outcome.provider_id,
                "new_error": outcome.error,
                "retry_at": outcome.retry_at,
                "new_claimer": None if outcome.status == DeliveryStatus.PENDING else worker,
                "now": now,
            }
            for outcome in outcomes
        ],
    )
    opted_out = [o.contact_id for o in outcomes if o.mark_contact == "opted_out" and o.contact_id]
    unreachable = [
        o.contact_id for o in outcomes if o.mark_contact == "unreachable" and o.contact_id
    ]
    if opted_out:
        conn.execute(
            contacts.update()
            .where(contacts.c.id.in_(opted_out))
            .values(opted_out=True, subscribed=False)
        )
    if unreachable:
        conn.execute(
            contacts.update().where(contacts.c.id.in_(unreachable)).values(unreachable=True)
        )


def release(conn: Connection, worker: str, ids: list[int], now: datetime) -> None:
    """Give rows ``worker`` holds but never attempted back: pending, attempt undone."""
    d = deliveries
    conn.execute(
        d.update()
        .where(d.c.id.in_(ids), d.c.claimed_by == worker, d.c.status.in_(_RESULT_FROM))
        .values(
            status=DeliveryStatus.PENDING,
            claimed_by=None,
            attempts=d.c.attempts - 1,
            updated_at=now,
        )
    )


def next_pending(conn: Connection, broadcast_id: int, channel: str) -> datetime | None:
    """When the channel's earliest pending row is due; None when none is pending."""
    d = deliveries
    due = sa.func.coalesce(d.c.not_before, sa.literal(_EPOCH, UtcDateTime()))
    query = sa.select(sa.func.count(), sa.func.min(due, type_=UtcDateTime())).where(
        d.c.broadcast_id == broadcast_id,
        d.c.channel == channel,
        d.c.status == DeliveryStatus.PENDING,
    )
    count, earliest = conn.execute(query).one()
    if not count:
        return None
    return earliest if isinstance(earliest, datetime) else _EPOCH


def tally(conn: Connection, broadcast_id: int) -> list[DeliveryTally]:
    """The broadcast's rows counted per channel and status."""
    d = deliveries
    query = (
        sa.select(d.c.channel, d.c.status, sa.func.count())
        .where(d.c.broadcast_id == broadcast_id)
        .group_by(d.c.channel, d.c.status)
        .order_by(d.c.channel, d.c.status)
    )
    return [DeliveryTally(channel, status, int(n)) for channel, status, n in conn.execute(query)]


def report(
    conn: Connection,
    provider_id: str,
    status: str,
    error: str | None,
    opted_out: bool,
    now: datetime,
) -> bool:
    """Apply a provider's report to a sent row; False when no row has ``provider_id``."""
    begin_write(conn)
    d = deliveries
    changed = conn.execute(
        d.update()
        .where(
            d.c.provider_id == provider_id,
            d.c.status.in_([DeliveryStatus.SENT, DeliveryStatus.UNKNOWN]),
        )
        .values(status=status, error=error, updated_at=now)
    ).rowcount
    if opted_out:
        owner = sa.select(d.c.contact_id).where(d.c.provider_id == provider_id).scalar_subquery()
        conn.execute(
            contacts.update()
            .where(contacts.c.id == owner)
            .values(opted_out=True, subscribed=False)
        )
    if changed:
        return True
    known = conn.execute(sa.select(d.c.id).where(d.c.provider_id == provider_id).limit(1))
    return known.first() is not None


def prune(conn: Connection, before: datetime) -> int:
    """Delete the rows last changed before ``before``; returns how many."""
    return int(
        conn.execute(sa.delete(deliveries).where(deliveries.c.updated_at < before)).rowcount
    )
