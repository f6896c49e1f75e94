"""The broadcast store in memory: drafts and their life, the audience, the audit log."""

from __future__ import annotations

import dataclasses
import itertools
import json
from collections import Counter
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from typing_extensions import override

from bot.storage.base import BroadcastStore
from bot.storage.memory.database import BroadcastRow, MemoryConnection, is_subscriber, utc
from bot.storage.models import (
    AudienceRow,
    AuditEntry,
    Broadcast,
    BroadcastStatus,
    Contact,
    DeliveryStatus,
)
from bot.storage.values import dumps

_SENT = (BroadcastStatus.SENDING, BroadcastStatus.DONE)


class MemoryBroadcasts(BroadcastStore):
    """:class:`BroadcastStore` on a :class:`MemoryConnection`.

    Args:
        connection: the rows, shared with the store's other parts.
    """

    def __init__(self, connection: MemoryConnection) -> None:
        self._connection = connection

    def _broadcast(self, broadcast_id: int, *statuses: str) -> BroadcastRow | None:
        """The broadcast with this id if it has one of ``statuses``; None otherwise."""
        row = self._connection.rows().broadcasts.get(broadcast_id)
        return row if row is not None and row.broadcast.status in statuses else None

    @override
    async def create_broadcast(
        self, *, author: str, texts: Mapping[str, str], allow_fallback: bool, now: datetime
    ) -> Broadcast:
        created_at = utc(now, "now")
        rows = self._connection.rows()
        broadcast = Broadcast(
            id=rows.next_id("broadcasts"),
            created_at=created_at,
            author=author,
            status=BroadcastStatus.DRAFT,
            texts=dict(texts),
            allow_fallback=allow_fallback,
        )
        rows.broadcasts[broadcast.id] = BroadcastRow(broadcast)
        return broadcast

    @override
    async def edit_broadcast(
        self, broadcast_id: int, *, texts: Mapping[str, str], allow_fallback: bool
    ) -> Broadcast | None:
        row = self._broadcast(broadcast_id, BroadcastStatus.DRAFT)
        if row is None:
            return None
        row.change(texts=dict(texts), allow_fallback=allow_fallback)
        return row.record()

    @override
    async def get_broadcast(self, broadcast_id: int) -> Broadcast | None:
        row = self._connection.rows().broadcasts.get(broadcast_id)
        return None if row is None else row.record()

    @override
    async def list_broadcasts(self, *, limit: int = 20) -> list[Broadcast]:
        rows = self._connection.rows().broadcasts
        return [rows[i].record() for i in sorted(rows, reverse=True)[:limit]]

    @override
    async def sent_broadcasts(self, *, limit: int = 5) -> list[Broadcast]:
        sent = [
            row.record()
            for row in self._connection.rows().broadcasts.values()
            if row.broadcast.status in _SENT
        ]
        sent.sort(key=lambda b: (b.started_at or b.created_at, b.id), reverse=True)
        return sent[:limit]

    @override
    async def unfinished_broadcasts(self) -> list[int]:
        rows = self._connection.rows().broadcasts
        return sorted(
            i for i, row in rows.items() if row.broadcast.status == BroadcastStatus.SENDING
        )

    @override
    async def count_audience(self, *, recent_since: datetime | None = None) -> list[AudienceRow]:
        contacts = [c for c in self._connection.rows().contacts.values() if is_subscriber(c)]
        counts = Counter((c.address.channel, c.locale) for c in contacts)
        recent = Counter(
            (c.address.channel, c.locale)
            for c in contacts
            if recent_since is not None
            and c.last_inbound_at is not None
            and c.last_inbound_at >= recent_since
        )
        ordered = sorted(counts.items(), key=lambda item: (item[0][0], item[0][1] or ""))
        return [AudienceRow(ch, loc, n, recent[ch, loc]) for (ch, loc), n in ordered]

    @override
    async def subscribers(self, *, after: int, limit: int) -> list[Contact]:
        contacts = self._connection.rows().contacts.values()  # in id order
        found = itertools.islice(
            filter(is_subscriber, (c for c in contacts if c.id > after)), limit
        )
        return [dataclasses.replace(contact) for contact in found]

    @override
    async def start_broadcast(self, broadcast_id: int, now: datetime) -> bool:
        started_at = utc(now, "now")
        row = self._broadcast(broadcast_id, BroadcastStatus.DRAFT)
        if row is None:
            return False
        row.change(status=BroadcastStatus.SENDING, started_at=started_at)
        row.audience_upto = max(self._connection.rows().contacts, default=0)
        return True

    @override
    async def cancel_broadcast(self, broadcast_id: int, now: datetime) -> bool:
        finished_at = utc(now, "now")
        row = self._broadcast(broadcast_id, BroadcastStatus.DRAFT, BroadcastStatus.SENDING)
        if row is None:
            return False
        row.change(status=BroadcastStatus.CANCELLED, finished_at=finished_at)
        for delivery in self._connection.rows().deliveries.values():
            if delivery.broadcast_id == broadcast_id and delivery.status == DeliveryStatus.PENDING:
                delivery.status, delivery.updated_at = DeliveryStatus.CANCELLED, finished_at
        return True

    @override
    async def finish_broadcast(self, broadcast_id: int, now: datetime) -> bool:
        finished_at = utc(now, "now")
        row = self._broadcast(broadcast_id, BroadcastStatus.SENDING)
        if row is None or not row.broadcast.materialized:
            return False
        if any(
            d.broadcast_id == broadcast_id and d.status in DeliveryStatus.OPEN
            for d in self._connection.rows().deliveries.values()
        ):
            return False
        row.change(status=BroadcastStatus.DONE, finished_at=finished_at)
        return True

    @override
    async def add_audit(
        self, *, actor: str, action: str, detail: Mapping[str, Any], now: datetime
    ) -> None:
        at = utc(now, "now")
        rows = self._connection.rows()
        entry = AuditEntry(rows.next_id("audit_log"), at, actor, action, _copy(detail))
        rows.audit_log.append(entry)

    @override
    async def audit_log(self, *, limit: int = 100) -> list[AuditEntry]:
        newest_first = reversed(self._connection.rows().audit_log)
        return [
            dataclasses.replace(entry, detail=_copy(entry.detail))
            for _, entry in zip(range(limit), newest_first, strict=False)
        ]


def _copy(detail: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON copy of ``detail``, as a JSON column would give it back."""
    copied: dict[str, Any] = json.loads(dumps(dict(detail)))
    return copied
