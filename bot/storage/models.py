"""The plain records the stores take and give back: contacts, sessions, broadcasts, tickets."""

from __future__ import annotations

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
    last_inbound_at: datetime | None = None
    """When the person last wrote; kept only on channels with a reply window (WhatsApp)."""


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
    contacts: int = 0
    """Contacts erased for silence (``privacy.retention_days``), with their rows."""
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


class DeliveryNote:
    """The ``error`` a store writes on a delivery it closes itself (not a provider's error)."""

    OPTED_OUT = "opted out before their turn"
    LEFT = "no longer subscribed"
    WORKER_STOPPED = "the sending process stopped mid-send"
    NO_TEMPLATE = "outside the reply window, and no template for this language"


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
    recent: int = 0
    """Of those, how many wrote at or after the ``recent_since`` asked about (reply windows)."""


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
    first_attempt_at: datetime | None = None
    """When it was first tried (this attempt, the first time); retries are counted from it."""
    last_inbound_at: datetime | None = None
    """When the person last wrote, on a channel with a reply window (WhatsApp); else None."""


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


class TicketStatus:
    """Where a handoff ticket stands."""

    OPEN = "open"
    """Messages between the person and the volunteers' group are relayed."""
    CLOSED = "closed"
    """Nothing is relayed any more (a volunteer closed it, the person left, or it went idle)."""


@dataclass(frozen=True, slots=True)
class Ticket:
    """One person's conversation with the volunteers: who (by contact id only), when, how many.

    Never the text of a message, never an address: the contact reference is the contact's row
    id, so a volunteer's tools can reach the person without anyone seeing who they are.
    """

    id: str
    """The short random id volunteers use ("K7P")."""
    contact_id: int
    channel: str
    locale: str
    page: str | None
    """The page the person asked from (``kyr.arrested``), if any."""
    opened_at: datetime
    last_activity_at: datetime
    status: str = TicketStatus.OPEN
    claimed_by: str | None = None
    """The volunteer who answered first (``telegram:<user id>``); nobody else may answer."""
    first_answer_at: datetime | None = None
    closed_at: datetime | None = None
    close_reason: str | None = None
    """``volunteer``, ``person``, ``idle`` or ``forgotten``."""
    to_volunteers: int = 0
    """Messages relayed from the person to the group."""
    to_person: int = 0
    """Answers relayed from a volunteer to the person."""
