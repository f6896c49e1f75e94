"""The outbox contract: replies to people stored until sent, in order, then erased.

A reply is stored before it is sent and its row deleted once the provider took it, so a
provider outage or a restart loses nothing. Rows reference a contact by ``contacts.id`` and
never hold an address; forgetting a contact deletes its rows. The payload (the rendered
reply) is kept only while the reply is unsent: a final failure erases it and keeps only the
status, for the operator's counts.

One contact's rows go strictly in id order: a row is handed out only when no earlier row of
the same contact is unsent, so a retried reply is never overtaken by a later one.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from bot.messages import Address


class OutboxStatus:
    """Where a stored reply stands (the ``status`` column)."""

    PENDING: ClassVar[str] = "pending"
    """Waiting to be sent, now or once ``not_before`` has passed."""
    SENDING: ClassVar[str] = "sending"
    """Held by one sender; another takes it over only after its lease runs out."""
    FAILED: ClassVar[str] = "failed"
    """Given up on (a permanent error, or retried until its deadline); payload erased."""
    UNSENT: ClassVar[tuple[str, ...]] = (PENDING, SENDING)


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """One stored reply handed to a sender."""

    id: int
    contact_id: int
    address: Address
    payload: str
    """The reply as the outbox's JSON (see :mod:`bot.channels.outbox`)."""
    attempts: int
    """Attempts so far, this one included."""
    expires_at: datetime
    """After this, a retryable failure is final."""


@dataclass(frozen=True, slots=True)
class Enqueued:
    """The rows one :meth:`OutboxStore.enqueue` wrote.

    Attributes:
        items: the rows, in order.
        claimed: True when the caller holds them (``sending``) and should send them now;
            False when an earlier reply to the same person is still unsent, so these wait
            their turn (``pending``) and the background sender sends them after it.
    """

    items: tuple[OutboxItem, ...]
    claimed: bool


class OutboxStore(abc.ABC):
    """Replies waiting to be sent: stored, claimed in per-contact order, erased once sent."""

    @abc.abstractmethod
    async def enqueue(
        self,
        address: Address,
        payloads: Sequence[str],
        *,
        worker: str,
        now: datetime,
        expires_at: datetime,
    ) -> Enqueued | None:
        """Store replies to the contact at ``address``, in order; None if it is not stored.

        When the contact has no unsent row, the new rows are claimed for ``worker`` at once.
        """

    @abc.abstractmethod
    async def claim_outbox(
        self, *, worker: str, channels: Sequence[str], now: datetime, limit: int
    ) -> list[OutboxItem]:
        """Claim due pending rows on ``channels`` for ``worker``: per contact, its earliest."""

    @abc.abstractmethod
    async def outbox_sent(self, worker: str, ids: Sequence[int]) -> None:
        """Delete rows ``worker`` holds that the provider took (their payload goes with them)."""

    @abc.abstractmethod
    async def outbox_retry(
        self, worker: str, item_id: int, *, not_before: datetime, error: str
    ) -> None:
        """Give a held row back to wait until ``not_before`` (payload kept)."""

    @abc.abstractmethod
    async def outbox_failed(self, worker: str, item_id: int, *, error: str, now: datetime) -> None:
        """Mark a held row failed for good and erase its payload."""

    @abc.abstractmethod
    async def release_outbox(self, *, claimed_before: datetime, now: datetime) -> int:
        """Give back rows held since before ``claimed_before`` (a sender that died)."""

    @abc.abstractmethod
    async def next_outbox_due(self, channels: Sequence[str]) -> datetime | None:
        """When the next claimable row on ``channels`` falls due (None: none pending).

        Only a contact's earliest unsent row counts: the rows behind it wait for it.
        """

    @abc.abstractmethod
    async def outbox_counts(self) -> dict[str, int]:
        """Rows per status, for health reports."""

    @abc.abstractmethod
    async def prune_outbox(self, *, before: datetime) -> int:
        """Delete failed rows last changed before ``before``; returns how many."""

    async def scrub_sent(self) -> None:  # noqa: B027 - a store with no copies does nothing
        """Leave no copy of erased payloads in the store's files (after a private text).

        A store whose deleted rows linger (SQLite's write-ahead log) removes them now; the
        default, for stores that keep no such copies, does nothing.

        Raises:
            StorageError: the database failed.
        """
