"""Where a broadcast's deliveries stand, what a provider's late report means, topic counts."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from bot.broadcast.drafts import utcnow
from bot.channels.capabilities import Capabilities
from bot.channels.pacing import RetryPolicy
from bot.errors import OutcomeUnknown, RecipientUnreachable, SendError
from bot.messages import DeliveryReport
from bot.privacy import address_hash
from bot.storage.base import (
    Broadcast,
    ClaimedDelivery,
    DeliveryOutcome,
    DeliveryStatus,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Report:
    """Where a broadcast's deliveries stand, per channel and status."""

    broadcast: Broadcast
    by_channel: dict[str, dict[str, int]]
    expected: int | None = None
    """How many recipients there will be, while delivery rows are still being written."""
    channels: Mapping[str, Capabilities] = field(default_factory=dict)
    """What each channel can do (display names, delivery reports)."""

    def count(self, *statuses: str, channel: str | None = None) -> int:
        """Deliveries in any of ``statuses`` (on one channel, or all)."""
        channels = [channel] if channel is not None else list(self.by_channel)
        return sum(self.by_channel.get(ch, {}).get(s, 0) for ch in channels for s in statuses)

    @property
    def total(self) -> int:
        """Recipients (delivery rows; ``expected`` while they are still being written)."""
        rows = sum(sum(by_status.values()) for by_status in self.by_channel.values())
        return max(rows, self.expected or 0)

    @property
    def waiting(self) -> int:
        """Deliveries not attempted or in flight."""
        return self.count(*DeliveryStatus.OPEN) + max(0, self.total - self._rows)

    @property
    def done(self) -> int:
        """Deliveries with a final outcome."""
        return self.total - self.waiting

    @property
    def _rows(self) -> int:
        return sum(sum(by_status.values()) for by_status in self.by_channel.values())

    def summary(self, channel: str | None = None) -> dict[str, int]:
        """The counts in the organizer's categories.

        Sent (delivered included), delivered, failed, opted out, unknown, skipped,
        cancelled, waiting.
        """
        return {
            "sent": self.count(DeliveryStatus.SENT, DeliveryStatus.DELIVERED, channel=channel),
            "delivered": self.count(DeliveryStatus.DELIVERED, channel=channel),
            "failed": self.count(DeliveryStatus.FAILED, channel=channel),
            "opted_out": self.count(DeliveryStatus.OPTED_OUT, channel=channel),
            "unknown": self.count(DeliveryStatus.UNKNOWN, channel=channel),
            "skipped": self.count(DeliveryStatus.SKIPPED, channel=channel),
            "cancelled": self.count(DeliveryStatus.CANCELLED, channel=channel),
            "waiting": self.count(*DeliveryStatus.OPEN, channel=channel),
        }


@dataclass(frozen=True, slots=True)
class WeekCount:
    """How often a topic was opened in one week (Monday), language and channel."""

    week: date
    node: str
    locale: str
    channel: str
    count: int


def report_outcome(report: DeliveryReport) -> tuple[str, str | None, bool] | None:
    """What a provider's late report means: (delivery status, error, opted out), or None."""
    status, error_code = report.status.lower(), report.error_code
    if status in ("delivered", "read"):
        return DeliveryStatus.DELIVERED, None, False
    if status in ("undelivered", "failed"):
        error = f"{status} {error_code}" if error_code else status
        if report.opted_out:
            return DeliveryStatus.OPTED_OUT, error, True
        return DeliveryStatus.FAILED, error, False
    return None


def failure_outcome(
    item: ClaimedDelivery,
    exc: SendError,
    retry: RetryPolicy,
    *,
    now: Callable[[], datetime] = utcnow,
    retry_for: float | None = None,
) -> DeliveryOutcome:
    """The outcome of a failed send: retry later, unknown, opted out, or failed.

    A provider's pause was already applied by the channel's ``send()``.

    Args:
        item: the delivery that was tried.
        exc: how it failed.
        retry: when it may be tried again.
        now: the clock a retry's time is counted from (timezone-aware UTC).
        retry_for: seconds after the first attempt a retry may still go (None: no limit).
    """
    error = f"{type(exc).__name__} {exc.code}" if exc.code else type(exc).__name__
    who = address_hash(item.address)
    if exc.retryable:
        delay = retry.delay(item.attempts, exc)
        retry_at = now() + timedelta(seconds=delay or 0.0)
        first = item.first_attempt_at or now()
        if delay is None or (
            retry_for is not None and retry_at > first + timedelta(seconds=retry_for)
        ):
            logger.warning("Giving up on %s after %d attempts (%s)", who, item.attempts, error)
            return DeliveryOutcome(item.id, DeliveryStatus.FAILED, error=f"gave up: {error}")
        return DeliveryOutcome(item.id, DeliveryStatus.PENDING, error=error, retry_at=retry_at)
    if isinstance(exc, OutcomeUnknown):
        logger.info("Broadcast message to %s: outcome unknown (%s)", who, error)
        return DeliveryOutcome(item.id, DeliveryStatus.UNKNOWN, error=error)
    if isinstance(exc, RecipientUnreachable):
        if exc.opted_out:
            return DeliveryOutcome(
                item.id,
                DeliveryStatus.OPTED_OUT,
                error=error,
                contact_id=item.contact_id,
                mark_contact="opted_out",
            )
        return DeliveryOutcome(
            item.id,
            DeliveryStatus.OPTED_OUT if exc.blocked else DeliveryStatus.FAILED,
            error=error,
            contact_id=item.contact_id,
            mark_contact="unreachable",
        )
    logger.info("Broadcast message to %s refused: %s", who, error)
    return DeliveryOutcome(item.id, DeliveryStatus.FAILED, error=error)
