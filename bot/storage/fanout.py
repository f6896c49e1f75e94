"""The broadcast senders' storage contract: delivery rows, claims, workers, the send clock."""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from datetime import datetime

from bot.storage.models import (
    ClaimedDelivery,
    DeliveryOutcome,
    DeliveryTally,
    WorkerRow,
)

__all__ = ["FanoutStore"]


class FanoutStore(abc.ABC):
    """What the broadcast senders share: delivery rows, claims, workers, the send clock.

    A delivery is claimed by one worker (an instance's id) at a time; results are recorded
    only by the worker holding the claim. A worker found dead leaves its claimed deliveries
    ``unknown``, never re-sent (:class:`DeliveryStatus`).
    """

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
        """Write the next batch of delivery rows, one per subscriber in the audience.

        Continues where the last batch, in any instance, stopped; writing a batch twice
        adds nothing. New rows are ``pending``, stamped ``now``, in the text locale
        ``locales[contact.locale]`` (``locales[default_locale]`` for another or no locale).
        Returns how many subscribers the batch covered: 0 once all are done (the broadcast
        is then marked materialized) or when it is not being sent.

        Raises:
            ValueError: ``batch_size`` is below 1.
        """

    @abc.abstractmethod
    async def claim_deliveries(
        self, broadcast_id: int, *, channel: str, worker: str, limit: int, now: datetime
    ) -> list[ClaimedDelivery]:
        """Atomically take up to ``limit`` due pending deliveries of one channel, in id order.

        They become ``sending``, claimed by ``worker`` at ``now``, one attempt more; no
        other caller, in this instance or another, gets the same rows. Those whose contact
        stopped being a subscriber are closed instead (``opted_out`` or ``skipped``).
        """

    @abc.abstractmethod
    async def record_deliveries(
        self, worker: str, outcomes: Sequence[DeliveryOutcome], now: datetime
    ) -> None:
        """Record what became of deliveries ``worker`` holds, and mark the contacts named.

        An outcome lands over ``sending`` or ``unknown`` (the worker knows better than a
        reaper), and only where ``worker`` holds the claim; ``pending`` gives the claim up
        and waits for ``retry_at``.
        """

    @abc.abstractmethod
    async def release_deliveries(self, worker: str, ids: Sequence[int], now: datetime) -> None:
        """Give back claimed deliveries that were never attempted (pending, attempt undone)."""

    @abc.abstractmethod
    async def next_pending_at(self, broadcast_id: int, *, channel: str) -> datetime | None:
        """When the channel's earliest pending delivery is due; None when none is pending."""

    @abc.abstractmethod
    async def delivery_tally(self, broadcast_id: int) -> list[DeliveryTally]:
        """The broadcast's deliveries counted per channel and status, in that order."""

    @abc.abstractmethod
    async def apply_delivery_report(
        self, provider_id: str, *, status: str, error: str | None, opted_out: bool, now: datetime
    ) -> bool:
        """Apply a provider's later report (``delivered``, ``failed``...) to a sent delivery.

        A report changes a delivery that is ``sent`` or ``unknown``, never a later status.
        ``opted_out`` also marks the contact as opted out (and no longer subscribed).
        Returns False when no delivery carries ``provider_id`` (yet): the report may have
        overtaken the send's own record.
        """

    @abc.abstractmethod
    async def register_worker(self, worker: str, *, host: str, pid: int, now: datetime) -> None:
        """Register a sending instance; registering again only refreshes its heartbeat."""

    @abc.abstractmethod
    async def heartbeat(self, worker: str, now: datetime) -> bool:
        """Refresh the worker's heartbeat; False if it is not registered (it was reaped)."""

    @abc.abstractmethod
    async def list_workers(self) -> list[WorkerRow]:
        """Every registered sending instance, by id."""

    @abc.abstractmethod
    async def reap_workers(
        self, dead: Sequence[str], *, orphaned_before: datetime, now: datetime
    ) -> int:
        """Forget dead workers; their ``sending`` deliveries become ``unknown`` for good.

        Also closes as unknown the ``sending`` deliveries claimed before
        ``orphaned_before`` by a worker that is not registered at all. Returns how many
        deliveries became unknown.
        """

    @abc.abstractmethod
    async def reserve_send_time(self, channel: str, seconds: float, now: float) -> float:
        """Reserve ``seconds`` (not negative) of the channel's sending time, shared by all.

        Returns when the reserved window starts: the later of ``now`` and the end of the last
        window anyone reserved (Unix seconds, as ``now``). Windows never overlap.
        """

    @abc.abstractmethod
    async def pause_sending(self, channel: str, until: float) -> None:
        """Hold the channel's sending time up to ``until`` (Unix seconds), for everyone."""

    @abc.abstractmethod
    async def prune_deliveries(self, *, before: datetime) -> int:
        """Delete delivery rows last changed before ``before``; returns how many."""
