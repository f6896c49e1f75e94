"""The fan-out store in SQL: delivery rows, claims, results, workers and the shared send clock.

Each method runs one function of :mod:`bot.storage.sql.deliveries` or
:mod:`bot.storage.sql.workers` as one transaction; those modules say how several instances
on one database stay correct.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from typing_extensions import override

from bot.storage.base import FanoutStore
from bot.storage.models import ClaimedDelivery, DeliveryOutcome, DeliveryTally, WorkerRow
from bot.storage.sql import deliveries, workers
from bot.storage.sql.database import Database
from bot.storage.values import aware


class SqlFanout(FanoutStore):
    """:class:`FanoutStore` on a :class:`Database` (SQLite or PostgreSQL).

    Args:
        db: the database, shared with the store's other parts.
    """

    def __init__(self, db: Database) -> None:
        self._db = db

    @override
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
        return await self._db.run(
            "materialize_deliveries",
            deliveries.materialize,
            broadcast_id,
            dict(locales),
            default_locale,
            batch_size,
            now,
        )

    @override
    async def claim_deliveries(
        self, broadcast_id: int, *, channel: str, worker: str, limit: int, now: datetime
    ) -> list[ClaimedDelivery]:
        return await self._db.run(
            "claim_deliveries",
            deliveries.claim,
            self._db.vault,
            broadcast_id,
            channel,
            worker,
            limit,
            now,
        )

    @override
    async def record_deliveries(
        self, worker: str, outcomes: Sequence[DeliveryOutcome], now: datetime
    ) -> None:
        if outcomes:
            await self._db.run("record_deliveries", deliveries.record, worker, list(outcomes), now)

    @override
    async def release_deliveries(self, worker: str, ids: Sequence[int], now: datetime) -> None:
        if ids:
            await self._db.run("release_deliveries", deliveries.release, worker, list(ids), now)

    @override
    async def next_pending_at(self, broadcast_id: int, *, channel: str) -> datetime | None:
        return await self._db.run(
            "next_pending_at", deliveries.next_pending, broadcast_id, channel
        )

    @override
    async def delivery_tally(self, broadcast_id: int) -> list[DeliveryTally]:
        return await self._db.run("delivery_tally", deliveries.tally, broadcast_id)

    @override
    async def apply_delivery_report(
        self, provider_id: str, *, status: str, error: str | None, opted_out: bool, now: datetime
    ) -> bool:
        return await self._db.run(
            "apply_delivery_report", deliveries.report, provider_id, status, error, opted_out, now
        )

    @override
    async def prune_deliveries(self, *, before: datetime) -> int:
        return await self._db.run("prune", deliveries.prune, aware(before, "deliveries_before"))

    # -- workers and the shared send clock --------------------------------------------------

    @override
    async def register_worker(self, worker: str, *, host: str, pid: int, now: datetime) -> None:
        await self._db.run("register_worker", workers.register, worker, host, pid, now)

    @override
    async def heartbeat(self, worker: str, now: datetime) -> bool:
        return await self._db.run("heartbeat", workers.heartbeat, worker, now)

    @override
    async def list_workers(self) -> list[WorkerRow]:
        return await self._db.run("list_workers", workers.registered)

    @override
    async def reap_workers(
        self, dead: Sequence[str], *, orphaned_before: datetime, now: datetime
    ) -> int:
        return await self._db.run("reap_workers", workers.reap, list(dead), orphaned_before, now)

    @override
    async def reserve_send_time(self, channel: str, seconds: float, now: float) -> float:
        if seconds < 0:
            raise ValueError("seconds must not be negative")
        return await self._db.run("reserve_send_time", workers.reserve, channel, seconds, now)

    @override
    async def pause_sending(self, channel: str, until: float) -> None:
        await self._db.run("pause_sending", workers.pause, channel, until)
