"""A Storage made of its parts, one per consumer interface, each call handed to its part."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from typing_extensions import override

from bot.messages import Address
from bot.storage.base import BroadcastStore, ConversationStore, FanoutStore, Storage, TicketStore
from bot.storage.models import (
    AudienceRow,
    AuditEntry,
    Broadcast,
    ClaimedDelivery,
    Contact,
    CounterRow,
    DeliveryOutcome,
    DeliveryTally,
    PruneResult,
    SessionRecord,
    Ticket,
    WorkerRow,
)
from bot.storage.outbox import OutboxStore
from bot.storage.turns import TurnStore


class ComposedStorage(Storage):
    """:class:`Storage` that delegates to conversation, broadcast, fan-out and ticket stores.

    A subclass builds the parts on one shared connection (or data) and implements
    :meth:`open` and :meth:`close` for them.

    Args:
        conversations: the part the conversation service uses.
        broadcasts: the part organizers use.
        fanout: the part the senders use.
        outbox: the replies waiting to be sent (:attr:`Storage.outbox`).
        turns: the per-contact message numbers (:attr:`Storage.turns`).
        tickets: the part the handoff to volunteers uses.
    """

    def __init__(
        self,
        conversations: ConversationStore,
        broadcasts: BroadcastStore,
        fanout: FanoutStore,
        outbox: OutboxStore,
        turns: TurnStore,
        tickets: TicketStore,
    ) -> None:
        self._conversations = conversations
        self._broadcasts = broadcasts
        self._fanout = fanout
        self._outbox = outbox
        self._turns = turns
        self._tickets = tickets

    @property
    @override
    def turns(self) -> TurnStore:
        return self._turns

    @property
    @override
    def outbox(self) -> OutboxStore:
        return self._outbox

    # -- conversations ---------------------------------------------------------------------

    @override
    async def claim_inbound(self, channel: str, message_id: str, now: datetime) -> bool:
        return await self._conversations.claim_inbound(channel, message_id, now)

    @override
    async def load_conversation(
        self, address: Address, today: date
    ) -> tuple[Contact, SessionRecord | None]:
        return await self._conversations.load_conversation(address, today)

    @override
    async def save_conversation(
        self, contact: Contact, state: Mapping[str, Any] | None, now: datetime
    ) -> None:
        await self._conversations.save_conversation(contact, state, now)

    @override
    async def update_contact(self, contact: Contact) -> None:
        await self._conversations.update_contact(contact)

    @override
    async def get_contact(self, address: Address) -> Contact | None:
        return await self._conversations.get_contact(address)

    @override
    async def forget(self, address: Address) -> bool:
        return await self._conversations.forget(address)

    @override
    async def add_topic_counts(self, counts: Mapping[tuple[date, str, str, str], int]) -> None:
        await self._conversations.add_topic_counts(counts)

    @override
    async def topic_counts(self, *, since: date, until: date) -> list[CounterRow]:
        return await self._conversations.topic_counts(since=since, until=until)

    @override
    async def prune_conversations(
        self, *, sessions_before: datetime, inbound_before: datetime
    ) -> PruneResult:
        return await self._conversations.prune_conversations(
            sessions_before=sessions_before, inbound_before=inbound_before
        )

    @override
    async def prune_contacts(self, *, seen_before: date, limit: int = 500) -> int:
        return await self._conversations.prune_contacts(seen_before=seen_before, limit=limit)

    # -- broadcasts ------------------------------------------------------------------------

    @override
    async def create_broadcast(
        self, *, author: str, texts: Mapping[str, str], allow_fallback: bool, now: datetime
    ) -> Broadcast:
        return await self._broadcasts.create_broadcast(
            author=author, texts=texts, allow_fallback=allow_fallback, now=now
        )

    @override
    async def edit_broadcast(
        self, broadcast_id: int, *, texts: Mapping[str, str], allow_fallback: bool
    ) -> Broadcast | None:
        return await self._broadcasts.edit_broadcast(
            broadcast_id, texts=texts, allow_fallback=allow_fallback
        )

    @override
    async def get_broadcast(self, broadcast_id: int) -> Broadcast | None:
        return await self._broadcasts.get_broadcast(broadcast_id)

    @override
    async def list_broadcasts(self, *, limit: int = 20) -> list[Broadcast]:
        return await self._broadcasts.list_broadcasts(limit=limit)

    @override
    async def sent_broadcasts(self, *, limit: int = 5) -> list[Broadcast]:
        return await self._broadcasts.sent_broadcasts(limit=limit)

    @override
    async def unfinished_broadcasts(self) -> list[int]:
        return await self._broadcasts.unfinished_broadcasts()

    @override
    async def count_audience(self, *, recent_since: datetime | None = None) -> list[AudienceRow]:
        return await self._broadcasts.count_audience(recent_since=recent_since)

    @override
    async def subscribers(self, *, after: int, limit: int) -> list[Contact]:
        return await self._broadcasts.subscribers(after=after, limit=limit)

    @override
    async def start_broadcast(self, broadcast_id: int, now: datetime) -> bool:
        return await self._broadcasts.start_broadcast(broadcast_id, now)

    @override
    async def cancel_broadcast(self, broadcast_id: int, now: datetime) -> bool:
        return await self._broadcasts.cancel_broadcast(broadcast_id, now)

    @override
    async def finish_broadcast(self, broadcast_id: int, now: datetime) -> bool:
        return await self._broadcasts.finish_broadcast(broadcast_id, now)

    @override
    async def add_audit(
        self, *, actor: str, action: str, detail: Mapping[str, Any], now: datetime
    ) -> None:
        await self._broadcasts.add_audit(actor=actor, action=action, detail=detail, now=now)

    @override
    async def audit_log(self, *, limit: int = 100) -> list[AuditEntry]:
        return await self._broadcasts.audit_log(limit=limit)

    # -- fan-out ---------------------------------------------------------------------------

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
        return await self._fanout.materialize_deliveries(
            broadcast_id,
            locales=locales,
            default_locale=default_locale,
            batch_size=batch_size,
            now=now,
        )

    @override
    async def claim_deliveries(
        self, broadcast_id: int, *, channel: str, worker: str, limit: int, now: datetime
    ) -> list[ClaimedDelivery]:
        return await self._fanout.claim_deliveries(
            broadcast_id, channel=channel, worker=worker, limit=limit, now=now
        )

    @override
    async def record_deliveries(
        self, worker: str, outcomes: Sequence[DeliveryOutcome], now: datetime
    ) -> None:
        await self._fanout.record_deliveries(worker, outcomes, now)

    @override
    async def release_deliveries(self, worker: str, ids: Sequence[int], now: datetime) -> None:
        await self._fanout.release_deliveries(worker, ids, now)

    @override
    async def next_pending_at(self, broadcast_id: int, *, channel: str) -> datetime | None:
        return await self._fanout.next_pending_at(broadcast_id, channel=channel)

    @override
    async def delivery_tally(self, broadcast_id: int) -> list[DeliveryTally]:
        return await self._fanout.delivery_tally(broadcast_id)

    @override
    async def apply_delivery_report(
        self, provider_id: str, *, status: str, error: str | None, opted_out: bool, now: datetime
    ) -> bool:
        return await self._fanout.apply_delivery_report(
            provider_id, status=status, error=error, opted_out=opted_out, now=now
        )

    @override
    async def register_worker(self, worker: str, *, host: str, pid: int, now: datetime) -> None:
        await self._fanout.register_worker(worker, host=host, pid=pid, now=now)

    @override
    async def heartbeat(self, worker: str, now: datetime) -> bool:
        return await self._fanout.heartbeat(worker, now)

    @override
    async def list_workers(self) -> list[WorkerRow]:
        return await self._fanout.list_workers()

    @override
    async def reap_workers(
        self, dead: Sequence[str], *, orphaned_before: datetime, now: datetime
    ) -> int:
        return await self._fanout.reap_workers(dead, orphaned_before=orphaned_before, now=now)

    @override
    async def reserve_send_time(self, channel: str, seconds: float, now: float) -> float:
        return await self._fanout.reserve_send_time(channel, seconds, now)

    @override
    async def pause_sending(self, channel: str, until: float) -> None:
        await self._fanout.pause_sending(channel, until)

    @override
    async def prune_deliveries(self, *, before: datetime) -> int:
        return await self._fanout.prune_deliveries(before=before)

    # -- tickets ---------------------------------------------------------------------------

    @override
    async def open_ticket(
        self,
        *,
        ticket_id: str,
        contact_id: int,
        channel: str,
        locale: str,
        page: str | None,
        now: datetime,
    ) -> Ticket | None:
        return await self._tickets.open_ticket(
            ticket_id=ticket_id,
            contact_id=contact_id,
            channel=channel,
            locale=locale,
            page=page,
            now=now,
        )

    @override
    async def get_ticket(self, ticket_id: str) -> Ticket | None:
        return await self._tickets.get_ticket(ticket_id)

    @override
    async def open_ticket_of(self, contact_id: int) -> Ticket | None:
        return await self._tickets.open_ticket_of(contact_id)

    @override
    async def open_tickets(self) -> list[Ticket]:
        return await self._tickets.open_tickets()

    @override
    async def claim_ticket(self, ticket_id: str, volunteer: str, now: datetime) -> Ticket | None:
        return await self._tickets.claim_ticket(ticket_id, volunteer, now)

    @override
    async def count_ticket_message(
        self, ticket_id: str, *, to_person: bool, now: datetime
    ) -> None:
        await self._tickets.count_ticket_message(ticket_id, to_person=to_person, now=now)

    @override
    async def close_ticket(self, ticket_id: str, *, reason: str, now: datetime) -> bool:
        return await self._tickets.close_ticket(ticket_id, reason=reason, now=now)

    @override
    async def idle_tickets(self, *, before: datetime) -> list[Ticket]:
        return await self._tickets.idle_tickets(before=before)

    @override
    async def tickets_since(self, since: datetime) -> list[Ticket]:
        return await self._tickets.tickets_since(since)

    @override
    async def ticket_contact(self, contact_id: int) -> Contact | None:
        return await self._tickets.ticket_contact(contact_id)

    @override
    async def prune_tickets(self, *, closed_before: datetime) -> int:
        return await self._tickets.prune_tickets(closed_before=closed_before)
