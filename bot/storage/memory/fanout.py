"""The fan-out store in memory: delivery rows, claims, results, workers and the send clock."""

from __future__ import annotations

import dataclasses
import itertools
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Final

from typing_extensions import override

from bot.storage.base import FanoutStore
from bot.storage.memory.database import DeliveryRow, MemoryConnection, is_subscriber, utc
from bot.storage.models import (
    BroadcastStatus,
    ClaimedDelivery,
    DeliveryNote,
    DeliveryOutcome,
    DeliveryStatus,
    DeliveryTally,
    WorkerRow,
)

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_RESULT_FROM: Final = (DeliveryStatus.SENDING, DeliveryStatus.UNKNOWN)
"""A result is recorded over these: ``unknown`` too, in case the worker was wrongly reaped."""


class MemoryFanout(FanoutStore):
    """:class:`FanoutStore` on a :class:`MemoryConnection`.

    Args:
        connection: the rows, shared with the store's other parts.
    """

    def __init__(self, connection: MemoryConnection) -> None:
        self._connection = connection

    def _deliveries(self, broadcast_id: int, channel: str | None = None) -> list[DeliveryRow]:
        """The broadcast's delivery rows (of one channel), in id order."""
        return [
            d
            for d in self._connection.rows().deliveries.values()
            if d.broadcast_id == broadcast_id and channel in (None, d.channel)
        ]

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
        updated_at = utc(now, "now")
        rows = self._connection.rows()
        row = rows.broadcasts.get(broadcast_id)
        if row is None or row.broadcast.status != BroadcastStatus.SENDING:
            return 0
        if row.broadcast.materialized:
            return 0
        after, upto = row.materialized_upto, row.audience_upto
        audience = (c for c in rows.contacts.values() if after < c.id <= upto)
        batch = list(itertools.islice(filter(is_subscriber, audience), batch_size))
        if not batch:
            row.change(materialized=True)
            return 0
        fallback = locales.get(default_locale, default_locale)
        # The cursor only moves on, and each call runs to its end: no contact twice.
        for contact in batch:
            locale = fallback if contact.locale is None else locales.get(contact.locale, fallback)
            delivery = DeliveryRow(
                id=rows.next_id("deliveries"),
                broadcast_id=broadcast_id,
                contact_id=contact.id,
                locale=locale,
                channel=contact.address.channel,
                status=DeliveryStatus.PENDING,
                updated_at=updated_at,
            )
            rows.deliveries[delivery.id] = delivery
        row.materialized_upto = batch[-1].id
        return len(batch)

    @override
    async def claim_deliveries(
        self, broadcast_id: int, *, channel: str, worker: str, limit: int, now: datetime
    ) -> list[ClaimedDelivery]:
        claimed_at = utc(now, "now")
        contacts = self._connection.rows().contacts
        due = [
            d
            for d in self._deliveries(broadcast_id, channel)
            if d.status == DeliveryStatus.PENDING
            and (d.not_before is None or d.not_before <= claimed_at)
        ][:limit]
        claimed: list[ClaimedDelivery] = []
        for delivery in due:
            contact = contacts[delivery.contact_id]
            delivery.updated_at = claimed_at
            if contact.opted_out:
                delivery.status, delivery.error = DeliveryStatus.OPTED_OUT, DeliveryNote.OPTED_OUT
            elif not is_subscriber(contact):
                delivery.status, delivery.error = DeliveryStatus.SKIPPED, DeliveryNote.LEFT
            else:
                delivery.status = DeliveryStatus.SENDING
                delivery.claimed_by, delivery.claimed_at = worker, claimed_at
                delivery.attempts += 1
                delivery.first_attempt_at = delivery.first_attempt_at or claimed_at
                claimed.append(
                    ClaimedDelivery(
                        delivery.id,
                        contact.id,
                        contact.address,
                        delivery.locale,
                        delivery.attempts,
                        delivery.first_attempt_at,
                        contact.last_inbound_at,
                    )
                )
        return claimed

    @override
    async def record_deliveries(
        self, worker: str, outcomes: Sequence[DeliveryOutcome], now: datetime
    ) -> None:
        if not outcomes:
            return
        updated_at = utc(now, "now")
        rows = self._connection.rows()
        for outcome in outcomes:
            delivery = rows.deliveries.get(outcome.id)
            if delivery is None or delivery.claimed_by != worker:
                continue
            if delivery.status not in _RESULT_FROM:
                continue
            delivery.status = outcome.status
            delivery.provider_id, delivery.error = outcome.provider_id, outcome.error
            delivery.not_before = (
                None if outcome.retry_at is None else utc(outcome.retry_at, "retry_at")
            )
            if outcome.status == DeliveryStatus.PENDING:
                delivery.claimed_by = None
            delivery.updated_at = updated_at
        for outcome in outcomes:
            contact = rows.contacts.get(outcome.contact_id) if outcome.contact_id else None
            if contact is None:
                continue
            if outcome.mark_contact == "opted_out":
                contact.opted_out, contact.subscribed = True, False
            elif outcome.mark_contact == "unreachable":
                contact.unreachable = True

    @override
    async def release_deliveries(self, worker: str, ids: Sequence[int], now: datetime) -> None:
        if not ids:
            return
        updated_at = utc(now, "now")
        rows = self._connection.rows()
        for delivery_id in set(ids):
            delivery = rows.deliveries.get(delivery_id)
            if delivery and delivery.claimed_by == worker and delivery.status in _RESULT_FROM:
                delivery.status, delivery.claimed_by = DeliveryStatus.PENDING, None
                delivery.attempts -= 1
                delivery.updated_at = updated_at

    @override
    async def next_pending_at(self, broadcast_id: int, *, channel: str) -> datetime | None:
        pending = [
            d.not_before or _EPOCH
            for d in self._deliveries(broadcast_id, channel)
            if d.status == DeliveryStatus.PENDING
        ]
        return min(pending, default=None)

    @override
    async def delivery_tally(self, broadcast_id: int) -> list[DeliveryTally]:
        counts = Counter((d.channel, d.status) for d in self._deliveries(broadcast_id))
        return [DeliveryTally(ch, status, n) for (ch, status), n in sorted(counts.items())]

    @override
    async def apply_delivery_report(
        self, provider_id: str, *, status: str, error: str | None, opted_out: bool, now: datetime
    ) -> bool:
        updated_at = utc(now, "now")
        rows = self._connection.rows()
        known = [d for d in rows.deliveries.values() if d.provider_id == provider_id]
        for delivery in known:
            if delivery.status in (DeliveryStatus.SENT, DeliveryStatus.UNKNOWN):
                delivery.status, delivery.error = status, error
                delivery.updated_at = updated_at
        if opted_out and known:
            contact = rows.contacts[known[0].contact_id]
            contact.opted_out, contact.subscribed = True, False
        return bool(known)

    @override
    async def prune_deliveries(self, *, before: datetime) -> int:
        cutoff = utc(before, "deliveries_before")
        rows = self._connection.rows()
        old = [d.id for d in rows.deliveries.values() if d.updated_at < cutoff]
        rows.drop_deliveries(old)
        return len(old)

    # -- workers and the shared send clock --------------------------------------------------

    @override
    async def register_worker(self, worker: str, *, host: str, pid: int, now: datetime) -> None:
        at = utc(now, "now")
        workers = self._connection.rows().workers
        known = workers.get(worker)
        workers[worker] = (
            WorkerRow(worker, host, pid, at, at)
            if known is None
            else dataclasses.replace(known, heartbeat_at=at)
        )

    @override
    async def heartbeat(self, worker: str, now: datetime) -> bool:
        at = utc(now, "now")
        workers = self._connection.rows().workers
        if worker not in workers:
            return False
        workers[worker] = dataclasses.replace(workers[worker], heartbeat_at=at)
        return True

    @override
    async def list_workers(self) -> list[WorkerRow]:
        workers = self._connection.rows().workers
        return [workers[worker] for worker in sorted(workers)]

    @override
    async def reap_workers(
        self, dead: Sequence[str], *, orphaned_before: datetime, now: datetime
    ) -> int:
        cutoff, updated_at = utc(orphaned_before, "orphaned_before"), utc(now, "now")
        rows = self._connection.rows()
        gone = set(dead)
        for worker in gone:
            rows.workers.pop(worker, None)
        unknown = 0
        for delivery in rows.deliveries.values():
            if delivery.status != DeliveryStatus.SENDING or delivery.claimed_by is None:
                continue
            orphaned = delivery.claimed_by not in rows.workers and (
                delivery.claimed_at is not None and delivery.claimed_at < cutoff
            )
            if delivery.claimed_by in gone or orphaned:
                delivery.status, delivery.error = (
                    DeliveryStatus.UNKNOWN,
                    DeliveryNote.WORKER_STOPPED,
                )
                delivery.updated_at = updated_at
                unknown += 1
        return unknown

    @override
    async def reserve_send_time(self, channel: str, seconds: float, now: float) -> float:
        if seconds < 0:
            raise ValueError("seconds must not be negative")
        send_rate = self._connection.rows().send_rate
        free_at = send_rate.get(channel)
        end = (now if free_at is None else max(free_at, now)) + seconds
        send_rate[channel] = end
        return end - seconds

    @override
    async def pause_sending(self, channel: str, until: float) -> None:
        send_rate = self._connection.rows().send_rate
        free_at = send_rate.get(channel)
        send_rate[channel] = until if free_at is None else max(free_at, until)
