"""The broadcast half of :class:`~bot.storage.sql.SqlStorage`: drafts, deliveries, claims, rate.

Kept apart from the conversation storage so each file stays about one thing; SqlStorage mixes
it in and supplies ``_run`` (one function, one transaction, one hop to the database).

How the fan-out stays correct with several processes on one database:

* **Delivery rows** are written in batches by ``INSERT ... SELECT ... ON CONFLICT DO NOTHING``
  over ``unique(broadcast_id, contact_id)``, continuing from a cursor kept on the broadcast
  row; writing a batch twice (a crash, two instances) adds nothing.
* **Claims** take due ``pending`` rows and make them ``sending`` with the claimer's id in the
  same transaction: on PostgreSQL with ``SELECT ... FOR UPDATE SKIP LOCKED`` (two instances
  never get the same row and never wait for each other); on SQLite under ``BEGIN IMMEDIATE``
  (one writer at a time).
* **Results** are written only where the row is still claimed by the same worker.
* **Dead workers**: their ``sending`` rows become ``unknown`` and are never claimed again,
  because nobody can know whether the message left.
* **Sending time** is reserved from one row per channel (``send_rate.next_free_at``), updated
  atomically, so the configured rate holds for all instances together.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Concatenate, Final, ParamSpec, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bot.messages import Address
from bot.storage.base import (
    AudienceRow,
    AuditEntry,
    Broadcast,
    BroadcastStatus,
    ClaimedDelivery,
    DeliveryOutcome,
    DeliveryStatus,
    DeliveryTally,
    WorkerRow,
)
from bot.storage.tables import (
    SUBSCRIBER,
    UtcDateTime,
    audit_log,
    broadcast_workers,
    broadcasts,
    contacts,
    deliveries,
    send_rate,
)

logger = logging.getLogger(__name__)

_P = ParamSpec("_P")
_T = TypeVar("_T")

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)

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

_RESULT_FROM: Final = (DeliveryStatus.SENDING, DeliveryStatus.UNKNOWN)
"""A result is recorded over these: ``unknown`` too, in case the worker was wrongly reaped."""


def _broadcast(row: Any) -> Broadcast:
    texts = row[4]
    return Broadcast(
        id=int(row[0]),
        created_at=row[1],
        author=row[2],
        status=row[3],
        texts={str(k): str(v) for k, v in (texts or {}).items()},
        allow_fallback=bool(row[5]),
        started_at=row[6],
        finished_at=row[7],
        materialized=bool(row[8]),
    )


def _write(conn: Connection) -> None:
    """Make the rest of this call one write transaction (SQLite: take the write lock now)."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def _greatest(conn: Connection, *values: Any) -> Any:
    fn = sa.func.max if conn.dialect.name == "sqlite" else sa.func.greatest
    return fn(*values)


def _upsert(conn: Connection, table: sa.Table) -> Any:
    if conn.dialect.name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(table)
    from sqlalchemy.dialects.postgresql import insert as pg_insert

    return pg_insert(table)


class BroadcastSqlMixin:
    """The broadcast methods of the :class:`~bot.storage.base.Storage` contract, in SQL."""

    async def _run(
        self,
        what: str,
        fn: Callable[Concatenate[Connection, _P], _T],
        *args: _P.args,
        **kwargs: _P.kwargs,
    ) -> _T:
        """Run ``fn(connection, ...)`` as one transaction (provided by SqlStorage)."""
        raise NotImplementedError

    # -- authoring ---------------------------------------------------------------------------

    async def create_broadcast(
        self, *, author: str, texts: Mapping[str, str], allow_fallback: bool, now: datetime
    ) -> Broadcast:
        return await self._run(
            "create_broadcast", _create, author, dict(texts), allow_fallback, now
        )

    async def edit_broadcast(
        self, broadcast_id: int, *, texts: Mapping[str, str], allow_fallback: bool
    ) -> Broadcast | None:
        return await self._run("edit_broadcast", _edit, broadcast_id, dict(texts), allow_fallback)

    async def get_broadcast(self, broadcast_id: int) -> Broadcast | None:
        return await self._run("get_broadcast", _get, broadcast_id)

    async def list_broadcasts(self, *, limit: int = 20) -> list[Broadcast]:
        query = sa.select(*_BROADCAST_COLUMNS).order_by(broadcasts.c.id.desc()).limit(limit)
        return await self._run("list_broadcasts", _select_broadcasts, query)

    async def sent_broadcasts(self, *, limit: int = 5) -> list[Broadcast]:
        query = (
            sa.select(*_BROADCAST_COLUMNS)
            .where(broadcasts.c.status.in_([BroadcastStatus.SENDING, BroadcastStatus.DONE]))
            .order_by(broadcasts.c.started_at.desc(), broadcasts.c.id.desc())
            .limit(limit)
        )
        return await self._run("sent_broadcasts", _select_broadcasts, query)

    async def unfinished_broadcasts(self) -> list[int]:
        return await self._run("unfinished_broadcasts", _unfinished)

    async def count_audience(self) -> list[AudienceRow]:
        return await self._run("count_audience", _audience)

    async def start_broadcast(self, broadcast_id: int, now: datetime) -> bool:
        return await self._run("start_broadcast", _start, broadcast_id, now)

    async def cancel_broadcast(self, broadcast_id: int, now: datetime) -> bool:
        return await self._run("cancel_broadcast", _cancel, broadcast_id, now)

    async def finish_broadcast(self, broadcast_id: int, now: datetime) -> bool:
        return await self._run("finish_broadcast", _finish, broadcast_id, now)

    async def add_audit(
        self, *, actor: str, action: str, detail: Mapping[str, Any], now: datetime
    ) -> None:
        values = {"at": now, "actor": actor, "action": action, "detail": dict(detail)}
        await self._run("add_audit", _insert, audit_log, values)

    async def audit_log(self, *, limit: int = 100) -> list[AuditEntry]:
        return await self._run("audit_log", _audit_entries, limit)

    # -- fan-out -----------------------------------------------------------------------------

    async def materialize_deliveries(
        self,
        broadcast_id: int,
        *,
        locales: Mapping[str, str],
        default_locale: str,
        batch_size: int,
        now: datetime,
    ) -> int:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        return await self._run(
            "materialize_deliveries",
            _materialize,
            broadcast_id,
            dict(locales),
            default_locale,
            batch_size,
            now,
        )

    async def claim_deliveries(
        self, broadcast_id: int, *, channel: str, worker: str, limit: int, now: datetime
    ) -> list[ClaimedDelivery]:
        return await self._run(
            "claim_deliveries", _claim, broadcast_id, channel, worker, limit, now
        )

    async def record_deliveries(
        self, worker: str, outcomes: Sequence[DeliveryOutcome], now: datetime
    ) -> None:
        if outcomes:
            await self._run("record_deliveries", _record, worker, list(outcomes), now)

    async def release_deliveries(self, worker: str, ids: Sequence[int], now: datetime) -> None:
        if ids:
            await self._run("release_deliveries", _release, worker, list(ids), now)

    async def next_pending_at(self, broadcast_id: int, *, channel: str) -> datetime | None:
        return await self._run("next_pending_at", _next_pending, broadcast_id, channel)

    async def delivery_tally(self, broadcast_id: int) -> list[DeliveryTally]:
        return await self._run("delivery_tally", _tally, broadcast_id)

    async def apply_delivery_report(
        self, provider_id: str, *, status: str, error: str | None, opted_out: bool, now: datetime
    ) -> bool:
        return await self._run(
            "apply_delivery_report", _report, provider_id, status, error, opted_out, now
        )

    # -- workers and shared rate -------------------------------------------------------------

    async def register_worker(self, worker: str, *, host: str, pid: int, now: datetime) -> None:
        await self._run("register_worker", _register, worker, host, pid, now)

    async def heartbeat(self, worker: str, now: datetime) -> bool:
        return await self._run("heartbeat", _heartbeat, worker, now)

    async def list_workers(self) -> list[WorkerRow]:
        return await self._run("list_workers", _workers)

    async def reap_workers(
        self, dead: Sequence[str], *, orphaned_before: datetime, now: datetime
    ) -> int:
        return await self._run("reap_workers", _reap, list(dead), orphaned_before, now)

    async def reserve_send_time(self, channel: str, seconds: float, now: float) -> float:
        if seconds < 0:
            raise ValueError("seconds must not be negative")
        return await self._run("reserve_send_time", _reserve, channel, seconds, now)

    async def pause_sending(self, channel: str, until: float) -> None:
        await self._run("pause_sending", _pause, channel, until)


# -- the functions that run inside one transaction ---------------------------------------------


def _insert(conn: Connection, table: sa.Table, values: dict[str, Any]) -> None:
    conn.execute(table.insert().values(values))


def _create(
    conn: Connection, author: str, texts: dict[str, str], allow_fallback: bool, now: datetime
) -> Broadcast:
    query = (
        broadcasts.insert()
        .values(
            created_at=now,
            author=author,
            status=BroadcastStatus.DRAFT,
            texts=texts,
            allow_fallback=allow_fallback,
        )
        .returning(*_BROADCAST_COLUMNS)
    )
    return _broadcast(conn.execute(query).one())


def _edit(
    conn: Connection, broadcast_id: int, texts: dict[str, str], allow_fallback: bool
) -> Broadcast | None:
    query = (
        broadcasts.update()
        .where(broadcasts.c.id == broadcast_id, broadcasts.c.status == BroadcastStatus.DRAFT)
        .values(texts=texts, allow_fallback=allow_fallback)
        .returning(*_BROADCAST_COLUMNS)
    )
    row = conn.execute(query).first()
    return None if row is None else _broadcast(row)


def _get(conn: Connection, broadcast_id: int) -> Broadcast | None:
    row = conn.execute(
        sa.select(*_BROADCAST_COLUMNS).where(broadcasts.c.id == broadcast_id)
    ).first()
    return None if row is None else _broadcast(row)


def _select_broadcasts(conn: Connection, query: sa.Select[Any]) -> list[Broadcast]:
    return [_broadcast(row) for row in conn.execute(query)]


def _unfinished(conn: Connection) -> list[int]:
    query = (
        sa.select(broadcasts.c.id)
        .where(broadcasts.c.status == BroadcastStatus.SENDING)
        .order_by(broadcasts.c.id)
    )
    return [int(bid) for (bid,) in conn.execute(query)]


def _audience(conn: Connection) -> list[AudienceRow]:
    query = (
        sa.select(contacts.c.channel, contacts.c.locale, sa.func.count())
        .where(SUBSCRIBER)
        .group_by(contacts.c.channel, contacts.c.locale)
        .order_by(contacts.c.channel, contacts.c.locale)
    )
    return [AudienceRow(channel, locale, int(n)) for channel, locale, n in conn.execute(query)]


def _start(conn: Connection, broadcast_id: int, now: datetime) -> bool:
    highest = sa.select(sa.func.coalesce(sa.func.max(contacts.c.id), 0)).scalar_subquery()
    query = (
        broadcasts.update()
        .where(broadcasts.c.id == broadcast_id, broadcasts.c.status == BroadcastStatus.DRAFT)
        .values(status=BroadcastStatus.SENDING, started_at=now, audience_upto=highest)
    )
    return bool(conn.execute(query).rowcount == 1)


def _cancel(conn: Connection, broadcast_id: int, now: datetime) -> bool:
    _write(conn)
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


def _audit_entries(conn: Connection, limit: int) -> list[AuditEntry]:
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
        AuditEntry(int(i), at, actor, action, dict(detail or {}))
        for i, at, actor, action, detail in conn.execute(query)
    ]


def _materialize(
    conn: Connection,
    broadcast_id: int,
    locales: dict[str, str],
    default_locale: str,
    batch_size: int,
    now: datetime,
) -> int:
    _write(conn)
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
    insert = _upsert(conn, deliveries).from_select(
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


def _claim(
    conn: Connection, broadcast_id: int, channel: str, worker: str, limit: int, now: datetime
) -> list[ClaimedDelivery]:
    _write(conn)
    d, c = deliveries, contacts
    query = (
        sa.select(
            d.c.id,
            d.c.contact_id,
            d.c.locale,
            d.c.attempts,
            c.c.channel,
            c.c.address,
            c.c.subscribed,
            c.c.opted_out,
            c.c.unreachable,
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
        ch,
        address,
        subscribed,
        is_opted_out,
        unreachable,
    ) in conn.execute(query):
        if is_opted_out:
            opted_out.append(did)
        elif not subscribed or unreachable:
            skipped.append(did)
        else:
            claimed.append(
                ClaimedDelivery(did, cid, Address(ch, address), locale, int(attempts) + 1)
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
                updated_at=now,
            )
        )
    for ids, status, error in (
        (opted_out, DeliveryStatus.OPTED_OUT, "opted out before their turn"),
        (skipped, DeliveryStatus.SKIPPED, "no longer subscribed"),
    ):
        if ids:
            conn.execute(
                d.update()
                .where(d.c.id.in_(ids))
                .values(status=status, error=error, updated_at=now)
            )
    return claimed


def _record(conn: Connection, worker: str, outcomes: list[DeliveryOutcome], now: datetime) -> None:
    _write(conn)
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


def _release(conn: Connection, worker: str, ids: list[int], now: datetime) -> None:
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


def _next_pending(conn: Connection, broadcast_id: int, channel: str) -> datetime | None:
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


def _tally(conn: Connection, broadcast_id: int) -> list[DeliveryTally]:
    d = deliveries
    query = (
        sa.select(d.c.channel, d.c.status, sa.func.count())
        .where(d.c.broadcast_id == broadcast_id)
        .group_by(d.c.channel, d.c.status)
        .order_by(d.c.channel, d.c.status)
    )
    return [DeliveryTally(channel, status, int(n)) for channel, status, n in conn.execute(query)]


def _report(
    conn: Connection,
    provider_id: str,
    status: str,
    error: str | None,
    opted_out: bool,
    now: datetime,
) -> bool:
    _write(conn)
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


def _register(conn: Connection, worker: str, host: str, pid: int, now: datetime) -> None:
    insert = _upsert(conn, broadcast_workers).values(
        id=worker, host=host, pid=pid, started_at=now, heartbeat_at=now
    )
    conn.execute(
        insert.on_conflict_do_update(
            index_elements=[broadcast_workers.c.id], set_={"heartbeat_at": now}
        )
    )


def _heartbeat(conn: Connection, worker: str, now: datetime) -> bool:
    query = (
        broadcast_workers.update().where(broadcast_workers.c.id == worker).values(heartbeat_at=now)
    )
    return bool(conn.execute(query).rowcount == 1)


def _workers(conn: Connection) -> list[WorkerRow]:
    w = broadcast_workers
    query = sa.select(w.c.id, w.c.host, w.c.pid, w.c.started_at, w.c.heartbeat_at).order_by(w.c.id)
    return [WorkerRow(*row) for row in conn.execute(query)]


def _reap(conn: Connection, dead: list[str], orphaned_before: datetime, now: datetime) -> int:
    _write(conn)
    d = deliveries
    unknown = 0
    if dead:
        unknown += conn.execute(
            d.update()
            .where(d.c.status == DeliveryStatus.SENDING, d.c.claimed_by.in_(dead))
            .values(
                status=DeliveryStatus.UNKNOWN,
                error="the sending process stopped mid-send",
                updated_at=now,
            )
        ).rowcount
        conn.execute(broadcast_workers.delete().where(broadcast_workers.c.id.in_(dead)))
    registered = sa.select(broadcast_workers.c.id)
    unknown += conn.execute(
        d.update()
        .where(
            d.c.status == DeliveryStatus.SENDING,
            d.c.claimed_at < orphaned_before,
            d.c.claimed_by.not_in(registered),
        )
        .values(
            status=DeliveryStatus.UNKNOWN,
            error="the sending process stopped mid-send",
            updated_at=now,
        )
    ).rowcount
    return int(unknown)


def _reserve(conn: Connection, channel: str, seconds: float, now: float) -> float:
    insert = _upsert(conn, send_rate).values(channel=channel, next_free_at=now + seconds)
    query = insert.on_conflict_do_update(
        index_elements=[send_rate.c.channel],
        set_={"next_free_at": _greatest(conn, send_rate.c.next_free_at, now) + seconds},
    ).returning(send_rate.c.next_free_at)
    end = float(conn.execute(query).scalar_one())
    return end - seconds


def _pause(conn: Connection, channel: str, until: float) -> None:
    insert = _upsert(conn, send_rate).values(channel=channel, next_free_at=until)
    conn.execute(
        insert.on_conflict_do_update(
            index_elements=[send_rate.c.channel],
            set_={"next_free_at": _greatest(conn, send_rate.c.next_free_at, until)},
        )
    )
