"""The broadcast service: what organizers and the rest of the bot ask of broadcasts.

Validate and save texts per language, preview recipients and cost, start and cancel, report,
the archive of sent updates for the ``updates`` topic, providers' delivery reports, and weekly
topic counts. Every organizer step goes to the audit log. See ``docs/BROADCASTS.md``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta
from typing import Final

from bot.broadcast import refusals as R
from bot.broadcast.drafts import FALLBACK_LOCALE, text_locales, utcnow, validate_texts
from bot.broadcast.outcomes import Report, WeekCount, report_outcome
from bot.broadcast.preview import Preview, SmsCost, WindowSplit, sms_form
from bot.broadcast.words import refusal
from bot.channels import registry
from bot.channels.capabilities import Capabilities, SendUnit
from bot.channels.pacing import LOOP_TIMER, Timer
from bot.config import Config
from bot.messages import DeliveryReport
from bot.storage.base import (
    Broadcast,
    BroadcastStatus,
    Storage,
)

logger = logging.getLogger(__name__)

CLI_ACTOR_PREFIX: Final = "cli:"


TELEGRAM_ACTOR_PREFIX: Final = "telegram:"


SYSTEM_ACTOR: Final = "system"


class BroadcastService:
    """Organizer actions on broadcasts, the updates archive, and delivery reports.

    Args:
        storage: an open storage.
        config: uses ``locales``, ``default_locale``.
        channels: what each channel can do, for previews and reports (default: every
            channel the bot has, under ``config``: :func:`bot.channels.registry.describe`).
        now: the clock (timezone-aware UTC).
        timer: where an early delivery report waits before it is tried again (tests pass
            a fake).
    """

    def __init__(
        self,
        storage: Storage,
        config: Config,
        *,
        channels: Mapping[str, Capabilities] | None = None,
        now: Callable[[], datetime] = utcnow,
        timer: Timer = LOOP_TIMER,
    ) -> None:
        self.storage = storage
        self.config = config
        self.channels = dict(channels) if channels is not None else registry.describe(config)
        """What each channel can do: display names, delivery reports, costs."""
        self._now = now
        self._timer = timer
        self._report_retries: set[asyncio.Task[None]] = set()

    @property
    def locales(self) -> list[str]:
        """The configured languages, in order."""
        return list(self.config.locales)

    # -- authoring ---------------------------------------------------------------------------

    async def create(
        self, actor: str, texts: Mapping[str, str], *, allow_fallback: bool = False
    ) -> Broadcast:
        """Validate and save a draft.

        Raises:
            BroadcastError: see :func:`validate_texts`.
        """
        clean = validate_texts(texts, locales=self.locales, allow_fallback=allow_fallback)
        now = self._now()
        broadcast = await self.storage.create_broadcast(
            author=actor, texts=clean, allow_fallback=allow_fallback, now=now
        )
        await self._audit(actor, "create", broadcast, now)
        logger.info("Broadcast #%d created by %s", broadcast.id, actor)
        return broadcast

    async def edit(
        self, actor: str, broadcast_id: int, texts: Mapping[str, str], *, allow_fallback: bool
    ) -> Broadcast:
        """Replace a draft's texts.

        Raises:
            BroadcastError: invalid texts, or no such draft.
        """
        clean = validate_texts(texts, locales=self.locales, allow_fallback=allow_fallback)
        edited = await self.storage.edit_broadcast(
            broadcast_id, texts=clean, allow_fallback=allow_fallback
        )
        if edited is None:
            await self._refuse_not_draft(broadcast_id)
            raise AssertionError("unreachable")  # pragma: no cover
        await self._audit(actor, "edit", edited, self._now())
        return edited

    async def get(self, broadcast_id: int) -> Broadcast:
        """The broadcast, or BroadcastError if there is none."""
        broadcast = await self.storage.get_broadcast(broadcast_id)
        if broadcast is None:
            raise refusal(R.ERROR_NOT_FOUND, id=broadcast_id)
        return broadcast

    async def recent(self, *, limit: int = 20) -> list[Broadcast]:
        """The most recent broadcasts, newest first."""
        return await self.storage.list_broadcasts(limit=limit)

    async def preview(self, broadcast_id: int, *, actor: str | None = None) -> Preview:
        """Who would get it (counted per channel and language) and what SMS would cost."""
        broadcast = await self.get(broadcast_id)
        preview = await self.build_preview(broadcast)
        if actor is not None:
            await self.storage.add_audit(
                actor=actor,
                action="preview",
                detail={
                    "broadcast": broadcast.id,
                    "recipients": {ch: sum(v.values()) for ch, v in preview.audience.items()},
                    "sms_segments": preview.sms_segments(),
                },
                now=self._now(),
            )
        return preview

    async def build_preview(self, broadcast: Broadcast) -> Preview:
        """The preview of ``broadcast`` without an audit entry."""
        configured = self.locales
        mapping = text_locales(configured, broadcast.texts)
        audience: dict[str, dict[str, int]] = defaultdict(dict)
        for row in await self.storage.count_audience():
            locale = row.locale if row.locale in configured else self.config.default_locale
            by_locale = audience[row.channel]
            by_locale[locale] = by_locale.get(locale, 0) + row.count
        segment_channel = next(
            (n for n, c in self.channels.items() if c.send_unit is SendUnit.SEGMENTS), None
        )
        sms: dict[str, SmsCost] = {}
        price_per_segment = 0.0
        if segment_channel is not None:
            costs = self.channels[segment_channel].costs
            for locale, text in broadcast.texts.items():
                estimate = costs.estimate(text, locale)
                price_per_segment = estimate.unit_price
                sms[locale] = SmsCost(
                    locale=locale,
                    form=sms_form(estimate),
                    folded=estimate.folded,
                    other=sms_form(estimate.alternative or estimate),
                )
        windows = {
            name: await self._window_split(name, caps, broadcast, mapping)
            for name, caps in self.channels.items()
            if caps.reply_window_hours is not None and name in audience
        }
        return Preview(
            windows=windows,
            broadcast=broadcast,
            audience=dict(audience),
            text_locale=mapping,
            sms=sms,
            price_per_segment=price_per_segment,
            telegram_texts=dict(broadcast.texts),
            channels=self.channels,
            segment_channel=segment_channel,
        )

    async def _window_split(
        self,
        channel: str,
        caps: Capabilities,
        broadcast: Broadcast,
        mapping: Mapping[str, str],
    ) -> WindowSplit:
        """Who on ``channel`` is inside its reply window now, and what each form costs."""
        assert caps.reply_window_hours is not None
        since = self._now() - timedelta(hours=caps.reply_window_hours)
        split: dict[str, dict[str, int]] = {"free": {}, "template": {}, "left": {}}
        costs = {"free": 0.0, "template": 0.0}
        for row in await self.storage.count_audience(recent_since=since):
            if row.channel != channel:
                continue
            locale = row.locale if row.locale in self.locales else self.config.default_locale
            text_locale = mapping.get(locale, FALLBACK_LOCALE)
            estimate = caps.costs.estimate(broadcast.texts.get(text_locale, ""), text_locale)
            outside = row.count - row.recent
            kind = "template" if text_locale in caps.window_templates else "left"
            for key, count in (("free", row.recent), (kind, outside)):
                if count:
                    split[key][locale] = split[key].get(locale, 0) + count
            costs["free"] += row.recent * estimate.price
            if kind == "template":
                costs["template"] += outside * (estimate.alternative or estimate).price
        return WindowSplit(
            split["free"],
            split["template"],
            split["left"],
            free_form_cost=costs["free"],
            template_cost=costs["template"],
        )

    async def start(self, actor: str, broadcast_id: int) -> Broadcast:
        """Send a draft: from now on a runner (this process or ``kyrbot serve``) sends it.

        Raises:
            BroadcastError: no such broadcast, not a draft, or its texts no longer fit the
                configured languages.
        """
        broadcast = await self.get(broadcast_id)
        if broadcast.status != BroadcastStatus.DRAFT:
            await self._refuse_not_draft(broadcast_id)
        validate_texts(
            broadcast.texts, locales=self.locales, allow_fallback=broadcast.allow_fallback
        )
        now = self._now()
        if not await self.storage.start_broadcast(broadcast_id, now):
            await self._refuse_not_draft(broadcast_id)
        started = await self.get(broadcast_id)
        audience: Counter[str] = Counter()
        for row in await self.storage.count_audience():
            audience[row.channel] += row.count
        await self.storage.add_audit(
            actor=actor,
            action="send",
            detail={"broadcast": broadcast_id, "recipients": dict(sorted(audience.items()))},
            now=now,
        )
        logger.info("Broadcast #%d started by %s", broadcast_id, actor)
        return started

    async def cancel(self, actor: str, broadcast_id: int) -> Report:
        """Cancel a draft, or stop a broadcast being sent (deliveries not yet claimed).

        Raises:
            BroadcastError: no such broadcast, or it is already done or cancelled.
        """
        broadcast = await self.get(broadcast_id)
        if not await self.storage.cancel_broadcast(broadcast_id, self._now()):
            raise refusal(R.ERROR_ALREADY_FINISHED, id=broadcast_id, status=broadcast.status)
        report = await self.report(broadcast_id)
        await self.storage.add_audit(
            actor=actor,
            action="cancel",
            detail={"broadcast": broadcast_id, "was": broadcast.status, **report.summary()},
            now=self._now(),
        )
        logger.info("Broadcast #%d cancelled by %s", broadcast_id, actor)
        return report

    async def report(self, broadcast_id: int) -> Report:
        """Deliveries per channel and status (counts only)."""
        broadcast = await self.get(broadcast_id)
        by_channel: dict[str, dict[str, int]] = defaultdict(dict)
        for row in await self.storage.delivery_tally(broadcast_id):
            by_channel[row.channel][row.status] = row.count
        expected = None
        if broadcast.status == BroadcastStatus.SENDING and not broadcast.materialized:
            expected = sum(row.count for row in await self.storage.count_audience())
        return Report(broadcast, dict(by_channel), expected, self.channels)

    async def _refuse_not_draft(self, broadcast_id: int) -> None:
        broadcast = await self.get(broadcast_id)
        raise refusal(R.ERROR_NOT_DRAFT, id=broadcast_id, status=broadcast.status)

    async def _audit(self, actor: str, action: str, broadcast: Broadcast, now: datetime) -> None:
        await self.storage.add_audit(
            actor=actor,
            action=action,
            detail={
                "broadcast": broadcast.id,
                "locales": sorted(broadcast.texts),
                "characters": {loc: len(text) for loc, text in broadcast.texts.items()},
                "allow_fallback": broadcast.allow_fallback,
            },
            now=now,
        )

    # -- the archive -------------------------------------------------------------------------

    async def updates(self) -> list[tuple[date, dict[str, str]]]:
        """Sent updates, newest first, as (date, {locale: text}): the ``updates`` topic.

        Dated in the server's local time zone (a broadcast sent in the evening in Milwaukee
        carries that day's date, not the next day's UTC date).
        """
        sent = await self.storage.sent_broadcasts(limit=5)
        return [((b.started_at or b.created_at).astimezone().date(), dict(b.texts)) for b in sent]

    # -- delivery reports --------------------------------------------------------------------

    async def on_delivery_report(self, report: DeliveryReport) -> None:
        """Apply a provider's delivery report (Twilio status callback) to its delivery.

        ``delivered``/``read`` -> delivered; ``undelivered``/``failed`` -> failed (opted out
        when the report says so, and the contact is marked). Intermediate statuses are
        ignored. A report about a send whose own record is not written yet is tried again a
        few times.
        """
        outcome = report_outcome(report)
        if outcome is None:
            return
        new_status, error, opted_out = outcome
        provider_id = report.provider_id
        if await self._apply_report(provider_id, new_status, error, opted_out):
            return
        if len(self._report_retries) >= _MAX_REPORT_RETRIES:
            logger.warning(
                "Too many early delivery reports waiting; dropped one for %s", report.channel
            )
            return
        task = asyncio.get_running_loop().create_task(
            self._retry_report(provider_id, new_status, error, opted_out)
        )
        self._report_retries.add(task)
        task.add_done_callback(self._report_retries.discard)

    async def _apply_report(
        self, provider_id: str, status: str, error: str | None, opted_out: bool
    ) -> bool:
        return await self.storage.apply_delivery_report(
            provider_id, status=status, error=error, opted_out=opted_out, now=self._now()
        )

    async def _retry_report(
        self, provider_id: str, status: str, error: str | None, opted_out: bool
    ) -> None:
        for delay in _REPORT_RETRY_DELAYS:
            await self._timer.sleep(delay)
            try:
                if await self._apply_report(provider_id, status, error, opted_out):
                    return
            except Exception:
                logger.exception("Recording a delivery report failed")
                return
        logger.debug("A delivery report matched no broadcast delivery (a reply, probably)")

    async def close(self) -> None:
        """Stop waiting to retry early delivery reports."""
        for task in list(self._report_retries):
            task.cancel()
        for task in list(self._report_retries):
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # -- statistics --------------------------------------------------------------------------

    async def weekly_stats(self, *, weeks: int = 8, today: date | None = None) -> list[WeekCount]:
        """Topic counters summed per week (starting Monday), language and channel."""
        today = today or self._now().date()
        this_monday = today - timedelta(days=today.weekday())
        since = this_monday - timedelta(weeks=weeks - 1)
        totals: Counter[tuple[date, str, str, str]] = Counter()
        for row in await self.storage.topic_counts(since=since, until=today):
            week = row.day - timedelta(days=row.day.weekday())
            totals[(week, row.node, row.locale, row.channel)] += row.count
        return [WeekCount(*key, count) for key, count in sorted(totals.items())]


_REPORT_RETRY_DELAYS: Final = (0.5, 2.0, 5.0)
"""A delivery report that overtook its send's record is tried again after these delays."""


_MAX_REPORT_RETRIES: Final = 10_000


def organizer_actor(telegram_user_id: int | None = None, login: str | None = None) -> str:
    """The audit-log name of an organizer: ``telegram:<id>`` or ``cli:<login>``."""
    if telegram_user_id is not None:
        return f"{TELEGRAM_ACTOR_PREFIX}{telegram_user_id}"
    return f"{CLI_ACTOR_PREFIX}{login or 'unknown'}"
