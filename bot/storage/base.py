"""The storage contract: what the bot keeps about people, and nothing more (see DESIGN.md)."""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from bot.messages import Address


@dataclass(slots=True)
class Contact:
    """One person on one channel. The address is the only personal datum kept."""

    id: int
    address: Address
    locale: str | None = None
    subscribed: bool = False
    consent_at: datetime | None = None
    """When the person last subscribed (their consent), timezone-aware UTC."""
    opted_out: bool = False
    """The person sent an SMS opt-out word (or the provider reported one)."""
    unreachable: bool = False
    """Sending failed for good (blocked the bot, invalid number)."""
    last_seen_day: date | None = None


@dataclass(slots=True)
class SessionRecord:
    """The saved conversation state of one contact (the engine's state as plain JSON data)."""

    state: dict[str, Any]
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class CounterRow:
    """How often a topic was shown, per day, locale and channel. No contact reference."""

    day: date
    node: str
    locale: str
    channel: str
    count: int


@dataclass(frozen=True, slots=True)
class PruneResult:
    """How many rows each retention rule removed."""

    sessions: int = 0
    inbound_ids: int = 0
    deliveries: int = 0
    extra: dict[str, int] = field(default_factory=dict)


# -- broadcasts ---------------------------------------------------------------------------------


class BroadcastStatus:
    """The life of a broadcast: ``draft`` -> ``sending`` -> ``done``, or ``cancelled``."""

    DRAFT = "draft"
    SENDING = "sending"
    DONE = "done"
    CANCELLED = "cancelled"


class DeliveryStatus:
    """The state of one recipient's copy of a broadcast.

    ``pending`` (waiting, maybe for a retry time) -> ``sending`` (claimed by one instance) ->
    ``sent`` (the provider accepted it) -> ``delivered`` (the provider confirmed delivery).
    Final otherwise: ``failed``, ``opted_out`` (STOP / 21610 / blocked the bot), ``unknown``
    (it may or may not have arrived: never re-sent), ``skipped`` (no longer a subscriber when
    their turn came), ``cancelled`` (the broadcast was cancelled first).
    """

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"
    OPTED_OUT = "opted_out"
    UNKNOWN = "unknown"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"

    OPEN: frozenset[str] = frozenset({PENDING, SENDING})
    """Statuses of deliveries that are not finished yet."""


@dataclass(frozen=True, slots=True)
class Broadcast:
    """One policy update: its text per locale and where it is in its life."""

    id: int
    created_at: datetime
    author: str
    """Who wrote it: ``telegram:<user id>`` or ``cli:<login>``; an organizer, never a member."""
    status: str
    texts: dict[str, str]
    allow_fallback: bool
    """Recipients whose language has no text get the English one (chosen explicitly)."""
    started_at: datetime | None = None
    finished_at: datetime | None = None
    materialized: bool = False
    """True once every recipient has a delivery row."""


@dataclass(frozen=True, slots=True)
class AudienceRow:
    """How many current subscribers one channel has in one language (``None``: not chosen)."""

    channel: str
    locale: str | None
    count: int


@dataclass(frozen=True, slots=True)
class ClaimedDelivery:
    """A delivery this instance has claimed and must now send (or give back)."""

    id: int
    contact_id: int
    address: Address
    locale: str
    """The locale of the text to send (the recipient's, or English as an allowed fallback)."""
    attempts: int
    """Attempts so far, this one included."""


@dataclass(frozen=True, slots=True)
class DeliveryOutcome:
    """What became of one claimed delivery, to be recorded.

    ``status`` is a :class:`DeliveryStatus`; ``pending`` means "retry at ``retry_at``".
    ``mark_contact`` is ``"opted_out"`` or ``"unreachable"`` when the provider said so.
    """

    id: int
    status: str
    provider_id: str | None = None
    error: str | None = None
    retry_at: datetime | None = None
    contact_id: int | None = None
    mark_contact: str | None = None


@dataclass(frozen=True, slots=True)
class DeliveryTally:
    """How many deliveries of a broadcast are in one status on one channel."""

    channel: str
    status: str
    count: int


@dataclass(frozen=True, slots=True)
class WorkerRow:
    """A sending instance as registered in the database."""

    id: str
    host: str
    pid: int
    started_at: datetime
    heartbeat_at: datetime


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One organizer action: who, what, and details without personal data."""

    id: int
    at: datetime
    actor: str
    action: str
    detail: dict[str, Any]


class Storage(abc.ABC):
    """Everything the bot persists, behind one interface with one contract test suite.

    Lifecycle: ``await open()`` (connects and applies migrations) -> calls -> ``await close()``.
    Also usable as ``async with storage:``. Every method is safe to call concurrently from
    several tasks; several processes may share one PostgreSQL database.
    """

    async def __aenter__(self) -> Storage:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @abc.abstractmethod
    async def open(self) -> None:
        """Connect and bring the schema up to date. Raises StorageError."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Release connections. Safe to call twice."""

    @abc.abstractmethod
    async def claim_inbound(self, channel: str, message_id: str, now: datetime) -> bool:
        """Remember a provider message id; False when it was seen before (do not answer it)."""

    @abc.abstractmethod
    async def load_conversation(
        self, address: Address, today: date
    ) -> tuple[Contact, SessionRecord | None]:
        """Get or create the contact for ``address`` and its saved session, in one round trip."""

    @abc.abstractmethod
    async def save_conversation(
        self, contact: Contact, state: Mapping[str, Any] | None, now: datetime
    ) -> None:
        """Save the contact's fields and its session state (``None`` deletes the session)."""

    @abc.abstractmethod
    async def update_contact(self, contact: Contact) -> None:
        """Save the contact's mutable fields (locale, subscription, reachability) only."""

    @abc.abstractmethod
    async def get_contact(self, address: Address) -> Contact | None:
        """The contact for ``address``, or None; never creates one."""

    @abc.abstractmethod
    async def forget(self, address: Address) -> bool:
        """Erase the contact and every row tied to it. True if there was one."""

    @abc.abstractmethod
    async def add_topic_counts(self, counts: Mapping[tuple[date, str, str, str], int]) -> None:
        """Add to the counters keyed by (day, node, locale, channel)."""

    @abc.abstractmethod
    async def topic_counts(self, *, since: date, until: date) -> list[CounterRow]:
        """Counter rows with ``since <= day <= until``, ordered by day, node, locale, channel."""

    @abc.abstractmethod
    def iter_subscribers(self, *, batch_size: int = 500) -> AsyncIterator[list[Contact]]:
        """Subscribed, reachable, not opted-out contacts in id order, a batch at a time."""

    @abc.abstractmethod
    async def prune(
        self, *, sessions_before: datetime, inbound_before: datetime, deliveries_before: datetime
    ) -> PruneResult:
        """Delete sessions, dedup ids and delivery rows older than the given times."""

    # -- broadcasts: authoring -----------------------------------------------------------------

    @abc.abstractmethod
    async def create_broadcast(
        self, *, author: str, texts: Mapping[str, str], allow_fallback: bool, now: datetime
    ) -> Broadcast:
        """Save a new draft broadcast and return it."""

    @abc.abstractmethod
    async def edit_broadcast(
        self, broadcast_id: int, *, texts: Mapping[str, str], allow_fallback: bool
    ) -> Broadcast | None:
        """Replace a draft's texts; None when there is no such draft (sent ones never change)."""

    @abc.abstractmethod
    async def get_broadcast(self, broadcast_id: int) -> Broadcast | None:
        """The broadcast with this id, or None."""

    @abc.abstractmethod
    async def list_broadcasts(self, *, limit: int = 20) -> list[Broadcast]:
        """The most recent broadcasts, newest first."""

    @abc.abstractmethod
    async def sent_broadcasts(self, *, limit: int = 5) -> list[Broadcast]:
        """Broadcasts that went out (sending or done), most recently started first."""

    @abc.abstractmethod
    async def unfinished_broadcasts(self) -> list[int]:
        """Ids of broadcasts being sent (status ``sending``), oldest first."""

    @abc.abstractmethod
    async def count_audience(self) -> list[AudienceRow]:
        """Current subscribers counted per channel and contact locale (a COUNT, not a list)."""

    @abc.abstractmethod
    async def start_broadcast(self, broadcast_id: int, now: datetime) -> bool:
        """Draft -> sending: fix the audience (contacts that exist now). False if not a draft."""

    @abc.abstractmethod
    async def cancel_broadcast(self, broadcast_id: int, now: datetime) -> bool:
        """Draft or sending -> cancelled; pending deliveries become cancelled. False if neither."""

    @abc.abstractmethod
    async def finish_broadcast(self, broadcast_id: int, now: datetime) -> bool:
        """Sending -> done, only once every delivery row exists and none is pending or sending.

        Returns True if this call finished it.
        """

    @abc.abstractmethod
    async def add_audit(
        self, *, actor: str, action: str, detail: Mapping[str, Any], now: datetime
    ) -> None:
        """Append one organizer action to the audit log (``detail`` must hold no personal data)."""

    @abc.abstractmethod
    async def audit_log(self, *, limit: int = 100) -> list[AuditEntry]:
        """The most recent audit entries, newest first."""

    # -- broadcasts: fan-out ---------------------------------------------------------------------

    @abc.abstractmethod
    async def materialize_deliveries(
        self,
        broadcast_id: int,
        *,
        locales: Mapping[str, str],
        default_locale: str,
        batch_size: int,
        now: datetime,
    ) -> int:
        """Write the next batch of delivery rows (one per subscriber, idempotently).

        ``locales`` maps a contact's locale to the locale of the text they get; contacts with
        another or no locale get ``locales[default_locale]``. Continues where the last batch
        (in any process) stopped. Returns how many subscribers the batch covered; 0 once all
        are done (the broadcast is then marked materialized) or when it is no longer sending.
        """

    @abc.abstractmethod
    async def claim_deliveries(
        self, broadcast_id: int, *, channel: str, worker: str, limit: int, now: datetime
    ) -> list[ClaimedDelivery]:
        """Atomically take up to ``limit`` due pending deliveries of one channel for ``worker``.

        They become ``sending`` (claimed by ``worker``, attempts + 1); no other caller, in this
        process or another, gets the same rows. Deliveries whose contact stopped being a
        subscriber meanwhile are closed as ``opted_out`` or ``skipped`` instead.
        """

    @abc.abstractmethod
    async def record_deliveries(
        self, worker: str, outcomes: Sequence[DeliveryOutcome], now: datetime
    ) -> None:
        """Record what happened to deliveries ``worker`` claimed, and mark contacts it names."""

    @abc.abstractmethod
    async def release_deliveries(self, worker: str, ids: Sequence[int], now: datetime) -> None:
        """Give claimed deliveries that were never attempted back (pending, attempt undone)."""

    @abc.abstractmethod
    async def next_pending_at(self, broadcast_id: int, *, channel: str) -> datetime | None:
        """When the earliest pending delivery of the channel is due; None when none is pending."""

    @abc.abstractmethod
    async def delivery_tally(self, broadcast_id: int) -> list[DeliveryTally]:
        """The broadcast's deliveries counted per channel and status."""

    @abc.abstractmethod
    async def apply_delivery_report(
        self, provider_id: str, *, status: str, error: str | None, opted_out: bool, now: datetime
    ) -> bool:
        """Apply a provider's later report (``delivered`` or ``failed``) to a sent delivery.

        ``opted_out`` also marks the contact as opted out. Returns False when no delivery
        carries ``provider_id`` (yet): the report may have overtaken the send's own record.
        """

    # -- broadcasts: instances and shared sending rate ---------------------------------------

    @abc.abstractmethod
    async def register_worker(self, worker: str, *, host: str, pid: int, now: datetime) -> None:
        """Register (or re-register) a sending instance with a fresh heartbeat."""

    @abc.abstractmethod
    async def heartbeat(self, worker: str, now: datetime) -> bool:
        """Refresh the worker's heartbeat; False if its row is gone (it was reaped)."""

    @abc.abstractmethod
    async def list_workers(self) -> list[WorkerRow]:
        """Every registered sending instance."""

    @abc.abstractmethod
    async def reap_workers(
        self, dead: Sequence[str], *, orphaned_before: datetime, now: datetime
    ) -> int:
        """Forget dead workers; their ``sending`` deliveries become ``unknown`` (never re-sent).

        Also closes as unknown ``sending`` rows claimed before ``orphaned_before`` by a worker
        that is not registered at all. Returns how many deliveries became unknown.
        """

    @abc.abstractmethod
    async def reserve_send_time(self, channel: str, seconds: float, now: float) -> float:
        """Reserve ``seconds`` of the channel's sending time, shared by every instance.

        ``now`` and the result are Unix seconds; the result is when the reserved window starts
        (the later of ``now`` and the end of the last window anyone reserved).
        """

    @abc.abstractmethod
    async def pause_sending(self, channel: str, until: float) -> None:
        """Reserve the channel's sending time up to ``until`` (Unix seconds), for everyone."""
