"""The outbox in memory: replies stored, claimed in per-contact order, erased once sent."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from typing_extensions import override

from bot.messages import Address
from bot.storage.memory.database import MemoryConnection, utc
from bot.storage.outbox import Enqueued, OutboxItem, OutboxStatus, OutboxStore


@dataclass(slots=True)
class OutboxRow:
    """One stored reply, as the SQL ``outbox`` table holds it."""

    id: int
    contact_id: int
    channel: str
    payload: str | None
    status: str
    expires_at: datetime
    updated_at: datetime
    attempts: int = 0
    not_before: datetime | None = None
    claimed_by: str | None = None
    claimed_at: datetime | None = None
    error: str | None = None


class MemoryOutbox(OutboxStore):
    """:class:`OutboxStore` in memory (rows in the shared :class:`MemoryDatabase`).

    Args:
        connection: this store's connection to the rows.
    """

    def __init__(self, connection: MemoryConnection) -> None:
        self._connection = connection

    def _rows(self) -> dict[int, OutboxRow]:
        return self._connection.rows().outbox

    def _held(self, worker: str, item_id: int) -> OutboxRow | None:
        row = self._rows().get(item_id)
        if row is None or row.claimed_by != worker or row.status != OutboxStatus.SENDING:
            return None
        return row

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
        now, expires_at = utc(now, "now"), utc(expires_at, "expires_at")
        database = self._connection.rows()
        contact_id = database.contact_ids.get((address.channel, address.id))
        if contact_id is None:
            return None
        claimed = not any(
            row.contact_id == contact_id and row.status in OutboxStatus.UNSENT
            for row in database.outbox.values()
        )
        items = []
        for payload in payloads:
            row_id = database.next_id("outbox")
            database.outbox[row_id] = OutboxRow(
                row_id,
                contact_id,
                address.channel,
                payload,
                OutboxStatus.SENDING if claimed else OutboxStatus.PENDING,
                expires_at,
                now,
                attempts=1 if claimed else 0,
                claimed_by=worker if claimed else None,
                claimed_at=now if claimed else None,
            )
            items.append(OutboxItem(row_id, contact_id, address, payload, 1, expires_at))
        return Enqueued(tuple(items), claimed)

    @override
    async def claim_outbox(
        self, *, worker: str, channels: Sequence[str], now: datetime, limit: int
    ) -> list[OutboxItem]:
        now = utc(now, "now")
        database = self._connection.rows()
        addresses = {cid: contact.address for cid, contact in database.contacts.items()}
        blocked: set[int] = set()
        items: list[OutboxItem] = []
        for row in sorted(database.outbox.values(), key=lambda r: r.id):
            if row.status not in OutboxStatus.UNSENT or row.contact_id in blocked:
                continue
            blocked.add(row.contact_id)  # later rows of this contact wait for this one
            due = row.not_before is None or row.not_before <= now
            here = row.channel in channels
            if row.status != OutboxStatus.PENDING or not due or not here or len(items) >= limit:
                continue
            row.status, row.claimed_by, row.claimed_at = OutboxStatus.SENDING, worker, now
            row.attempts += 1
            row.updated_at = now
            assert row.payload is not None  # unsent rows keep their payload
            items.append(
                OutboxItem(
                    row.id,
                    row.contact_id,
                    addresses[row.contact_id],
                    row.payload,
                    row.attempts,
                    row.expires_at,
                )
            )
        return items

    @override
    async def outbox_sent(self, worker: str, ids: Sequence[int]) -> None:
        for item_id in ids:
            if self._held(worker, item_id) is not None:
                del self._rows()[item_id]

    @override
    async def outbox_retry(
        self, worker: str, item_id: int, *, not_before: datetime, error: str
    ) -> None:
        not_before = utc(not_before, "not_before")
        row = self._held(worker, item_id)
        if row is not None:
            row.status, row.claimed_by = OutboxStatus.PENDING, None
            row.not_before, row.error = not_before, error

    @override
    async def outbox_failed(self, worker: str, item_id: int, *, error: str, now: datetime) -> None:
        now = utc(now, "now")
        row = self._held(worker, item_id)
        if row is not None:
            row.status, row.payload, row.error, row.updated_at = (
                OutboxStatus.FAILED,
                None,
                error,
                now,
            )

    @override
    async def release_outbox(self, *, claimed_before: datetime, now: datetime) -> int:
        claimed_before, now = utc(claimed_before, "claimed_before"), utc(now, "now")
        released = 0
        for row in self._rows().values():
            if (
                row.status == OutboxStatus.SENDING
                and row.claimed_at is not None
                and row.claimed_at < claimed_before
            ):
                row.status, row.claimed_by, row.updated_at = OutboxStatus.PENDING, None, now
                released += 1
        return released

    @override
    async def next_outbox_due(self, channels: Sequence[str]) -> datetime | None:
        heads: dict[int, OutboxRow] = {}
        for row in sorted(self._rows().values(), key=lambda r: r.id):
            if row.status in OutboxStatus.UNSENT:
                heads.setdefault(row.contact_id, row)
        due = [
            row.not_before or datetime(1970, 1, 1, tzinfo=UTC)
            for row in heads.values()
            if row.status == OutboxStatus.PENDING and row.channel in channels
        ]
        return min(due, default=None)

    @override
    async def outbox_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for row in self._rows().values():
            counts[row.status] = counts.get(row.status, 0) + 1
        return counts

    @override
    async def prune_outbox(self, *, before: datetime) -> int:
        before = utc(before, "before")
        rows = self._rows()
        old = [
            i for i, r in rows.items() if r.status == OutboxStatus.FAILED and r.updated_at < before
        ]
        for item_id in old:
            del rows[item_id]
        return len(old)
