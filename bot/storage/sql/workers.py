"""Sending instances and the shared send clock in SQL: register, heartbeat, reap, reserve.

Each function runs inside one transaction (:meth:`~bot.storage.sql.database.Database.run`).

* **Dead workers**: their ``sending`` rows become ``unknown`` and are never claimed again,
  because nobody can know whether the message left.
* **Sending time** is reserved from one row per channel (``send_rate.next_free_at``), updated
  atomically, so the configured rate holds for all instances together.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bot.storage.models import DeliveryNote, DeliveryStatus, WorkerRow
from bot.storage.sql.database import begin_write, greatest, upsert
from bot.storage.sql.tables import broadcast_workers, deliveries, send_rate


def register(conn: Connection, worker: str, host: str, pid: int, now: datetime) -> None:
    """Register a worker, or refresh the heartbeat of one registered before."""
    insert = upsert(conn.dialect.name, broadcast_workers).values(
        id=worker, host=host, pid=pid, started_at=now, heartbeat_at=now
    )
    conn.execute(
        insert.on_conflict_do_update(
            index_elements=[broadcast_workers.c.id], set_={"heartbeat_at": now}
        )
    )


def heartbeat(conn: Connection, worker: str, now: datetime) -> bool:
    """Refresh the worker's heartbeat; False when it is not registered."""
    query = (
        broadcast_workers.update().where(broadcast_workers.c.id == worker).values(heartbeat_at=now)
    )
    return bool(conn.execute(query).rowcount == 1)


def registered(conn: Connection) -> list[WorkerRow]:
    """Every registered worker, by id."""
    w = broadcast_workers
    query = sa.select(w.c.id, w.c.host, w.c.pid, w.c.started_at, w.c.heartbeat_at).order_by(w.c.id)
    return [WorkerRow(*row) for row in conn.execute(query)]


def reap(conn: Connection, dead: list[str], orphaned_before: datetime, now: datetime) -> int:
    """Forget dead workers and close their in-flight rows (and orphans) as unknown."""
    begin_write(conn)
    d = deliveries
    unknown = 0
    if dead:
        unknown += conn.execute(
            d.update()
            .where(d.c.status == DeliveryStatus.SENDING, d.c.claimed_by.in_(dead))
            .values(
                status=DeliveryStatus.UNKNOWN,
                error=DeliveryNote.WORKER_STOPPED,
                updated_at=now,
            )
        ).rowcount
        conn.execute(broadcast_workers.delete().where(broadcast_workers.c.id.in_(dead)))
    known = sa.select(broadcast_workers.c.id)
    unknown += conn.execute(
        d.update()
        .where(
            d.c.status == DeliveryStatus.SENDING,
            d.c.claimed_at < orphaned_before,
            d.c.claimed_by.not_in(known),
        )
        .values(
            status=DeliveryStatus.UNKNOWN,
            error=DeliveryNote.WORKER_STOPPED,
            updated_at=now,
        )
    ).rowcount
    return int(unknown)


def reserve(conn: Connection, channel: str, seconds: float, now: float) -> float:
    """Reserve ``seconds`` of the channel's sending time; returns when they start."""
    insert = upsert(conn.dialect.name, send_rate).values(
        channel=channel, next_free_at=now + seconds
    )
    query = insert.on_conflict_do_update(
        index_elements=[send_rate.c.channel],
        set_={"next_free_at": greatest(conn, send_rate.c.next_free_at, now) + seconds},
    ).returning(send_rate.c.next_free_at)
    end = float(conn.execute(query).scalar_one())
    return end - seconds


def pause(conn: Connection, channel: str, until: float) -> None:
    """Hold the channel's sending time up to ``until``."""
    insert = upsert(conn.dialect.name, send_rate).values(channel=channel, next_free_at=until)
    conn.execute(
        insert.on_conflict_do_update(
            index_elements=[send_rate.c.channel],
            set_={"next_free_at": greatest(conn, send_rate.c.next_free_at, until)},
        )
    )
