"""Broadcasts: authoring, preview, rate-limited resumable fan-out, and delivery tracking.

Two halves, both on the :class:`~bot.storage.base.Storage` broadcast methods:

* :class:`BroadcastService` is what organizers (Telegram console, command line) and the rest
  of the bot call: validate and save texts per language, preview recipients and SMS cost,
  start and cancel, report, the archive of sent updates for the ``updates`` topic, Twilio's
  delivery reports, and weekly topic counts. Every organizer step goes to the audit log.
* :class:`BroadcastRunner` sends. For each broadcast being sent it writes one delivery row per
  subscriber (in batches), then, one lane per channel, claims a few due deliveries at a time,
  sends them with the channel's ``send()`` paced through a shared
  :class:`~bot.channels.pacing.RateLimiter` (the channel's rate, in its units), and records
  each outcome. Every delivery's state is in the database, so any instance can carry
  on after a crash; a delivery that was in flight in a process that died is reported
  ``unknown`` and never sent again. See ``docs/BROADCASTS.md`` for the whole workflow.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import socket
import uuid
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Final

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_datetime
from babel.numbers import format_currency, format_decimal, format_percent

from bot.broadcast import texts as T
from bot.channels import registry
from bot.channels.base import Channel
from bot.channels.capabilities import Capabilities, CostEstimate, SendUnit
from bot.channels.pacing import (
    LOOP_TIMER,
    RateLimiter,
    RetryPolicy,
    SendClock,
    SharedSendClock,
    Timer,
)
from bot.config import Config
from bot.content.i18n import SOURCE_LOCALE, Translator, babel_locale
from bot.content.strings import Text
from bot.errors import (
    BotError,
    OutcomeUnknown,
    RecipientUnreachable,
    SendError,
    SendWithdrawn,
)
from bot.messages import DeliveryReport, Reply
from bot.privacy import address_hash
from bot.sms_text import MAX_MESSAGE_CHARS
from bot.storage.base import (
    Broadcast,
    BroadcastStatus,
    ClaimedDelivery,
    DeliveryOutcome,
    DeliveryStatus,
    Storage,
)

logger = logging.getLogger(__name__)

FALLBACK_LOCALE: Final = SOURCE_LOCALE
"""The language a recipient gets when theirs has no text (only if the organizer allowed it)."""

CLI_ACTOR_PREFIX: Final = "cli:"
TELEGRAM_ACTOR_PREFIX: Final = "telegram:"
SYSTEM_ACTOR: Final = "system"
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


class BroadcastError(BotError):
    """An organizer's request was refused; ``text`` and ``values`` say why, translatably.

    Values named ``language``/``languages`` (locale codes) and ``status`` are shown as words
    in the reader's language by :meth:`render`; ``str()`` gives the English message.
    """

    def __init__(self, text: Text, **values: object) -> None:
        self.text = text
        self.values = values
        super().__init__(self.render(Words()))

    def render(self, words: Words) -> str:
        """The message in ``words``' language."""
        shown: dict[str, object] = {}
        for name, value in self.values.items():
            if name == "language" and isinstance(value, str):
                shown[name] = words.language(value)
            elif name == "languages" and isinstance(value, list | tuple):
                shown[name] = ", ".join(words.language(str(v)) for v in value)
            elif name == "status" and isinstance(value, str):
                shown[name] = words.status(value)
            elif isinstance(value, int) and name != "id":
                shown[name] = words.number(value)
            else:
                shown[name] = value
        return words(self.text, **shown)


def _fill(template: str, values: Mapping[str, object]) -> str:
    try:
        return template.format(**values)
    except (KeyError, IndexError, ValueError):
        return template


# -- words in the organizer's language ----------------------------------------------------------


class Words:
    """Organizer strings, numbers and dates in one locale.

    Args:
        translator: the catalogs; ``None`` gives the English source texts.
        locale: the organizer's locale.
    """

    def __init__(self, translator: Translator | None = None, locale: str = SOURCE_LOCALE) -> None:
        self.translator = translator
        self.locale = locale
        self._babel = babel_locale(locale)

    def __call__(self, text: Text, **values: object) -> str:
        """``text`` translated, placeholders filled (English if the translation is broken)."""
        template = (
            self.translator.text(self.locale, text) if self.translator is not None else text.msgid
        )
        try:
            return template.format(**values)
        except (KeyError, IndexError, ValueError):
            return _fill(text.msgid, values)

    def language(self, code: str, *, capital: bool = False) -> str:
        """A language's name in this locale ("Spanish"; "español", or "Español" with
        ``capital`` at the start of a line).
        """
        try:
            name = Locale.parse(code.replace("-", "_")).get_display_name(self._babel)
        except (UnknownLocaleError, ValueError, TypeError):
            name = None
        name = name or code
        return name[:1].upper() + name[1:] if capital else name

    def number(self, value: float) -> str:
        """A count with this locale's digit grouping."""
        return str(format_decimal(value, locale=self._babel))

    def money(self, amount: float) -> str:
        """An amount in US dollars (Twilio bills in USD), every significant digit kept."""
        return str(
            format_currency(amount, "USD", locale=self._babel, decimal_quantization=False)
            if amount and amount < 0.01
            else format_currency(amount, "USD", locale=self._babel)
        )

    def percent(self, fraction: float) -> str:
        """``0.34`` as "34%"."""
        return str(format_percent(fraction, locale=self._babel))

    def when(self, moment: datetime) -> str:
        """A date and time in the server's local time zone, in this locale."""
        return str(format_datetime(moment.astimezone(), format="medium", locale=self._babel))

    def status(self, status: str) -> str:
        """A broadcast status as words."""
        text = T.STATUS_NAMES.get(status)
        return self(text) if text is not None else status


# -- texts, validation, SMS arithmetic ----------------------------------------------------------


def text_locales(config_locales: Sequence[str], texts: Mapping[str, str]) -> dict[str, str]:
    """For each configured locale, the locale of the text its readers get."""
    return {loc: (loc if loc in texts else FALLBACK_LOCALE) for loc in config_locales}


def validate_texts(
    texts: Mapping[str, str], *, locales: Sequence[str], allow_fallback: bool
) -> dict[str, str]:
    """The texts, stripped and checked against the configured languages.

    Raises:
        BroadcastError: a text is for an unconfigured language, empty or longer than one SMS
            message (1,600 characters); English is missing; or another configured language
            is missing and the English fallback was not explicitly allowed.
    """
    clean: dict[str, str] = {}
    for locale, text in texts.items():
        if locale not in locales:
            raise BroadcastError(
                T.ERROR_UNKNOWN_LANGUAGE, language=locale, languages=list(locales)
            )
        value = (text or "").strip()
        if not value:
            raise BroadcastError(T.ERROR_EMPTY, language=locale)
        if len(value) > MAX_MESSAGE_CHARS:
            raise BroadcastError(
                T.ERROR_TOO_LONG, language=locale, length=len(value), limit=MAX_MESSAGE_CHARS
            )
        clean[locale] = value
    if FALLBACK_LOCALE not in clean:
        raise BroadcastError(T.ERROR_NO_ENGLISH)
    missing = [loc for loc in locales if loc not in clean]
    if missing and not allow_fallback:
        raise BroadcastError(T.ERROR_MISSING, languages=missing)
    return {loc: clean[loc] for loc in locales if loc in clean}


@dataclass(frozen=True, slots=True)
class SmsForm:
    """One text as an SMS: the bodies as they arrive, their encoding and segment count."""

    bodies: tuple[str, ...]
    encoding: str
    segments: int

    @property
    def text(self) -> str:
        """The bodies as one text (one body unless it is over 1,600 characters)."""
        return "\n\n".join(self.bodies)


def sms_form(estimate: CostEstimate) -> SmsForm:
    """How a text is sent by SMS, from the SMS channel's estimate for it."""
    return SmsForm(estimate.bodies, estimate.encoding or "", int(estimate.units))


# -- preview -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SmsCost:
    """What one language's text costs by SMS, as configured and with the folding flipped."""

    locale: str
    form: SmsForm
    folded: bool
    """Whether ``sms.fold_accents`` is on for this language."""
    other: SmsForm
    """The same text with accent folding the other way."""


@dataclass(frozen=True, slots=True)
class Preview:
    """What sending a broadcast would do: who gets which text, and what SMS costs."""

    broadcast: Broadcast
    audience: dict[str, dict[str, int]]
    """Channel -> recipients' language -> how many (counted, never listed)."""
    text_locale: dict[str, str]
    """Recipients' language -> the language of the text they get."""
    sms: dict[str, SmsCost]
    """Text language -> its cost on :attr:`segment_channel`."""
    price_per_segment: float
    telegram_texts: dict[str, str] = field(default_factory=dict)
    channels: Mapping[str, Capabilities] = field(default_factory=dict)
    """What each channel can do (display names, units)."""
    segment_channel: str | None = None
    """The channel counted and priced in SMS segments, whose costs :attr:`sms` holds."""

    @property
    def sms_audience(self) -> dict[str, int]:
        """Recipients' language -> how many, on :attr:`segment_channel`."""
        return self.audience.get(self.segment_channel or "", {})

    @property
    def total(self) -> int:
        """Everyone who would get it."""
        return sum(sum(by_locale.values()) for by_locale in self.audience.values())

    @property
    def missing(self) -> list[str]:
        """Configured languages with no text of their own (their readers get English)."""
        return [loc for loc, target in self.text_locale.items() if target != loc]

    def sms_segments(self, *, flipped: bool = False) -> int:
        """Segments for every SMS recipient, as configured (or with folding flipped)."""
        total = 0
        for locale, count in self.sms_audience.items():
            cost = self.sms[self.text_locale.get(locale, FALLBACK_LOCALE)]
            total += count * (cost.other.segments if flipped else cost.form.segments)
        return total

    def sms_cost(self, *, flipped: bool = False) -> float:
        """Estimated SMS cost in USD (``sms.price_per_segment`` per segment)."""
        return self.sms_segments(flipped=flipped) * self.price_per_segment


# -- reports -----------------------------------------------------------------------------------


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
        """The organizer's categories: sent (incl. delivered), delivered, failed, opted out,
        unknown, skipped, cancelled, waiting.
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


def _channel_name(channel: str, channels: Mapping[str, Capabilities]) -> str:
    capabilities = channels.get(channel)
    return capabilities.display_name if capabilities and capabilities.display_name else channel


def format_preview_summary(preview: Preview, words: Words) -> str:
    """The preview's numbers: recipients per channel and language, SMS encoding and cost."""
    b = preview.broadcast
    lines = [
        words(T.PREVIEW_TITLE, id=b.id),
        words(T.RECIPIENTS, count=words.number(preview.total)),
    ]
    names = preview.channels
    for channel in sorted(preview.audience, key=lambda ch: _channel_name(ch, names)):
        counts = []
        for locale, count in sorted(preview.audience[channel].items()):
            name = words.language(locale, capital=True)
            if preview.text_locale.get(locale, locale) != locale:
                name = words(T.GETS_ENGLISH, language=name)
            counts.append(f"{name} {words.number(count)}")
        lines.append(
            "• "
            + words(
                T.CHANNEL_LINE, channel=_channel_name(channel, names), counts=", ".join(counts)
            )
        )
    sms_locales = {preview.text_locale.get(loc, FALLBACK_LOCALE) for loc in preview.sms_audience}
    if sms_locales:
        lines.append("")
        for locale in sorted(sms_locales):
            cost = preview.sms[locale]
            line = words(
                T.SMS_LINE,
                language=words.language(locale),
                encoding=cost.form.encoding,
                segments=cost.form.segments,
            )
            if (cost.other.encoding, cost.other.segments) != (
                cost.form.encoding,
                cost.form.segments,
            ):
                alternative = (
                    T.SMS_ACCENTS_ALTERNATIVE if cost.folded else T.SMS_FOLDED_ALTERNATIVE
                )
                line += (
                    " ("
                    + words(
                        alternative, encoding=cost.other.encoding, segments=cost.other.segments
                    )
                    + ")"
                )
            lines.append(line)
        lines.append(
            words(
                T.SMS_COST,
                segments=words.number(preview.sms_segments()),
                price=words.money(preview.price_per_segment),
                cost=words.money(preview.sms_cost()),
            )
        )
        if preview.sms_segments(flipped=True) != preview.sms_segments():
            any_folded = any(preview.sms[loc].folded for loc in sms_locales)
            lines.append(
                words(
                    T.SMS_COST_ACCENTS if any_folded else T.SMS_COST_FOLDED,
                    segments=words.number(preview.sms_segments(flipped=True)),
                    cost=words.money(preview.sms_cost(flipped=True)),
                )
            )
    if preview.missing:
        lines.append("")
        lines.append(
            words(
                T.MISSING_FALLBACK,
                languages=", ".join(words.language(loc) for loc in preview.missing),
            )
        )
    return "\n".join(lines)


def preview_texts(preview: Preview, words: Words) -> list[str]:
    """Each language's text as it will arrive: on Telegram, and by SMS where that differs."""
    parts = []
    for locale, text in preview.broadcast.texts.items():
        label = words(T.AS_IT_ARRIVES, language=words.language(locale, capital=True))
        parts.append(f"{label}\n\n{text}")
        cost = preview.sms.get(locale)
        if cost is not None and preview.sms_audience and cost.form.text != text:
            label = words(T.AS_IT_ARRIVES_SMS, language=words.language(locale, capital=True))
            parts.append(f"{label}\n\n{cost.form.text}")
    return parts


def format_preview(preview: Preview, words: Words) -> str:
    """The whole preview as one text (for the command line)."""
    blocks = [format_preview_summary(preview, words), *preview_texts(preview, words)]
    return "\n\n".join(blocks)


def format_report(report: Report, words: Words) -> str:
    """A broadcast's progress or final report, per channel and in all."""
    b = report.broadcast
    if b.status == BroadcastStatus.SENDING:
        total = report.total
        fraction = report.done / total if total else 0.0
        title = words(
            T.PROGRESS,
            id=b.id,
            done=words.number(report.done),
            total=words.number(total),
            percent=words.percent(fraction),
        )
        if not b.materialized and not report.by_channel:
            title = words(T.PREPARING, id=b.id)
    elif b.status == BroadcastStatus.CANCELLED:
        title = words(T.REPORT_CANCELLED, id=b.id)
    elif b.status == BroadcastStatus.DRAFT:
        return words(T.REPORT_DRAFT, id=b.id)
    else:
        title = words(T.REPORT_TITLE, id=b.id)
    lines = [title]
    if b.started_at is not None:
        lines.append(words(T.SENT_AT, when=words.when(b.started_at)))
    names = report.channels
    for channel in sorted(report.by_channel, key=lambda ch: _channel_name(ch, names)):
        numbers = {k: words.number(v) for k, v in report.summary(channel).items()}
        reports = channel in names and names[channel].delivery_reports
        template = T.REPORT_CHANNEL if reports else T.REPORT_CHANNEL_NO_DLR
        lines.append("• " + words(template, channel=_channel_name(channel, names), **numbers))
    summary = report.summary()
    if len(report.by_channel) > 1:
        lines.append(words(T.REPORT_TOTAL, **{k: words.number(v) for k, v in summary.items()}))
    if summary["skipped"] or summary["cancelled"]:
        lines.append(
            words(
                T.REPORT_NOT_SENT,
                skipped=words.number(summary["skipped"]),
                cancelled=words.number(summary["cancelled"]),
            )
        )
    if report.waiting and b.status != BroadcastStatus.SENDING:
        lines.append(words(T.REPORT_WAITING, waiting=words.number(report.waiting)))
    if summary["unknown"]:
        lines.append(words(T.REPORT_UNKNOWN_NOTE))
    return "\n".join(lines)


# -- statistics --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WeekCount:
    """How often a topic was opened in one week (Monday), language and channel."""

    week: date
    node: str
    locale: str
    channel: str
    count: int


def format_stats(
    rows: Sequence[WeekCount],
    words: Words,
    *,
    weeks: int,
    channels: Mapping[str, Capabilities] | None = None,
) -> str:
    """Weekly topic counts, newest week first, biggest topics first.

    ``channels`` gives the channels' display names (default: the raw names).
    """
    names = channels or {}
    if not rows:
        return words(T.STATS_NONE, weeks=weeks)
    lines = [words(T.STATS_TITLE)]
    by_week: dict[date, list[WeekCount]] = defaultdict(list)
    for row in rows:
        by_week[row.week].append(row)
    for week in sorted(by_week, reverse=True):
        items = by_week[week]
        total = sum(r.count for r in items)
        when = format_date(week, format="medium", locale=babel_locale(words.locale))
        lines.append("")
        lines.append(words(T.STATS_WEEK, date=when, total=words.number(total)))
        for r in sorted(items, key=lambda r: (-r.count, r.node, r.locale, r.channel)):
            lines.append(
                f"  {words.number(r.count):>6}  {r.node}  {r.locale}  "
                f"{_channel_name(r.channel, names)}"
            )
    return "\n".join(lines)


# -- the service -------------------------------------------------------------------------------

_REPORT_RETRY_DELAYS: Final = (0.5, 2.0, 5.0)
"""A delivery report that overtook its send's record is tried again after these delays."""
_MAX_REPORT_RETRIES: Final = 10_000


class BroadcastService:
    """Organizer actions on broadcasts, the updates archive, and delivery reports.

    Args:
        storage: an open storage.
        config: uses ``locales``, ``default_locale``.
        channels: what each channel can do, for previews and reports (default: every
            channel the bot has, under ``config``: :func:`bot.channels.registry.describe`).
        now: the clock (timezone-aware UTC).
    """

    def __init__(
        self,
        storage: Storage,
        config: Config,
        *,
        channels: Mapping[str, Capabilities] | None = None,
        now: Callable[[], datetime] = utcnow,
    ) -> None:
        self.storage = storage
        self.config = config
        self.channels = dict(channels) if channels is not None else registry.describe(config)
        """What each channel can do: display names, delivery reports, costs."""
        self._now = now
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
            raise BroadcastError(T.ERROR_NOT_FOUND, id=broadcast_id)
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
        return Preview(
            broadcast=broadcast,
            audience=dict(audience),
            text_locale=mapping,
            sms=sms,
            price_per_segment=price_per_segment,
            telegram_texts=dict(broadcast.texts),
            channels=self.channels,
            segment_channel=segment_channel,
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
            raise BroadcastError(
                T.ERROR_ALREADY_FINISHED, id=broadcast_id, status=broadcast.status
            )
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
        raise BroadcastError(T.ERROR_NOT_DRAFT, id=broadcast_id, status=broadcast.status)

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
        outcome = _report_outcome(report)
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
            await asyncio.sleep(delay)
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


def _report_outcome(report: DeliveryReport) -> tuple[str, str | None, bool] | None:
    status, error_code = report.status.lower(), report.error_code
    if status in ("delivered", "read"):
        return DeliveryStatus.DELIVERED, None, False
    if status in ("undelivered", "failed"):
        error = f"{status} {error_code}" if error_code else status
        if report.opted_out:
            return DeliveryStatus.OPTED_OUT, error, True
        return DeliveryStatus.FAILED, error, False
    return None


# -- the runner --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RunnerSettings:
    """How a :class:`BroadcastRunner` paces and retries. The defaults suit production."""

    in_flight: int = 4
    """Sends in progress at once per channel: small, so replies to people are never starved."""
    max_batch: int = 100
    """Most deliveries claimed at once per channel."""
    claim_seconds: float = 0.2
    """Claim about this much sending time at once (at 1 SMS segment/s: one message). Small,
    because claimed deliveries that a crash cuts off count as unknown."""
    max_attempts: int = 5
    """Tries per delivery for retryable errors (rate limited, provider unavailable)."""
    backoff: float = 2.0
    """Seconds before the first retry; doubled for each further attempt (with jitter)."""
    max_backoff: float = 300.0
    heartbeat: float = 1.0
    """Seconds between this instance's heartbeats."""
    worker_timeout: float = 15.0
    """An instance silent this long is dead: its in-flight deliveries become unknown."""
    poll: float = 1.0
    """Seconds between looks for broadcasts to send (and retries falling due)."""
    materialize_batch: int = 1000
    """Delivery rows written per transaction."""
    rate_window: float = 0.25
    """Sending time reserved from the shared clock at once."""

    @property
    def retry(self) -> RetryPolicy:
        """The retry policy these settings give (:class:`~bot.channels.pacing.RetryPolicy`)."""
        return RetryPolicy(
            max_attempts=self.max_attempts, backoff=self.backoff, max_backoff=self.max_backoff
        )


_RELEASE: Final = object()
"""A claimed delivery that was never attempted (shutting down): give it back."""
_STATUS_CHECK_SECONDS: Final = 0.5
"""How stale the runner's view of "is this broadcast still being sent?" may be."""


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"  # a zombie is dead
    except (OSError, IndexError):
        return True


class BroadcastRunner:
    """Sends broadcasts that are ``sending``: this process's share, safely alongside others.

    Args:
        storage: an open storage (shared with the rest of the process).
        channels: the started channels by name; broadcasts go out through their ``send()``,
            at each channel's :attr:`~bot.channels.base.Capabilities.send_rate`, a message
            costing what the channel's :meth:`~bot.channels.base.Channel.estimate` says.
        config: ``locales`` and ``default_locale``.
        rates: override the rate per channel (``None``: no limit), e.g. for benchmarks.
        send_clock: where sending time comes from; default shared through the database.
        settings: pacing and retry tunables.
        worker_id: this instance's id in the database (default: random).
        timer: where pacing reads the time and waits (tests pass a fake).
    """

    def __init__(
        self,
        storage: Storage,
        channels: Mapping[str, Channel],
        config: Config,
        *,
        rates: Mapping[str, float | None] | None = None,
        send_clock: SendClock | None = None,
        settings: RunnerSettings | None = None,
        worker_id: str | None = None,
        timer: Timer = LOOP_TIMER,
    ) -> None:
        self.storage = storage
        self.channels = dict(channels)
        self.config = config
        self.settings = settings or RunnerSettings()
        self.worker_id = (
            worker_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        )
        self._host = socket.gethostname()
        clock = send_clock or SharedSendClock(storage)
        chosen: dict[str, float | None] = {
            name: channel.capabilities.send_rate for name, channel in self.channels.items()
        }
        chosen.update(rates or {})
        self.limiters = {
            name: RateLimiter(
                name, chosen.get(name), clock, window=self.settings.rate_window, timer=timer
            )
            for name in self.channels
        }
        self._in_flight = {name: asyncio.Semaphore(self.settings.in_flight) for name in channels}
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._registered = False
        self._beat_task: asyncio.Task[None] | None = None
        self._main: asyncio.Task[None] | None = None
        self._warned: set[tuple[int, str]] = set()
        self.on_finished: list[Callable[[int], Awaitable[None]]] = []
        """Called with a broadcast's id when this runner finishes it."""
        self.sent = 0
        """Messages this runner handed to a provider successfully."""
        self._unrecorded: list[DeliveryOutcome] = []
        self._unreleased: list[int] = []
        self._flush_lock = asyncio.Lock()
        self._status_checked: dict[int, tuple[float, bool]] = {}
        self._status_lock = asyncio.Lock()

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> asyncio.Task[None]:
        """Run :meth:`run_forever` as a task (what ``kyrbot serve`` does)."""
        if self._main is None:
            self._main = asyncio.get_running_loop().create_task(self.run_forever())
        return self._main

    def wake(self) -> None:
        """Look for work now (a broadcast was just started in this process)."""
        self._wake.set()

    async def stop(self, *, grace: float = 10.0) -> None:
        """Stop claiming; let sends in flight finish (up to ``grace`` seconds); give back
        claimed deliveries that were not attempted; deregister.
        """
        self._stopping.set()
        self._wake.set()
        task = self._main
        if task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(task), grace)
        except TimeoutError:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        except asyncio.CancelledError:
            pass
        except Exception:
            logger.exception("The broadcast runner ended with an error")

    async def run_forever(self) -> None:
        """Send every broadcast that is being sent, now and whenever one starts, until stopped.

        Unfinished broadcasts (from before a restart) are picked up at once.
        """
        try:
            while not self._stopping.is_set():
                try:
                    await self._register()
                    for broadcast_id in await self.storage.unfinished_broadcasts():
                        if self._stopping.is_set():
                            break
                        await self.run_once(broadcast_id)
                except Exception:
                    logger.exception("Broadcast runner failed; trying again shortly")
                self._wake.clear()
                await self._sleep(self.settings.poll, wake=True)
        finally:
            await self._deregister()

    async def send_to_end(self, broadcast_id: int, *, poll: float | None = None) -> None:
        """Send one broadcast until it is finished or cancelled (``kyrbot broadcast send``).

        Another instance may share the work; this returns once nothing is left for anyone.
        """
        await self._register()
        try:
            while not self._stopping.is_set():
                await self.run_once(broadcast_id)
                broadcast = await self.storage.get_broadcast(broadcast_id)
                if broadcast is None or broadcast.status != BroadcastStatus.SENDING:
                    return
                await self._sleep(poll if poll is not None else self.settings.poll)
        finally:
            await self._deregister()

    async def run_once(self, broadcast_id: int) -> None:
        """Do this instance's part of one broadcast now: write its delivery rows, send what
        is due on our channels, and finish it if nothing is left.
        """
        await self._flush_outcomes()
        broadcast = await self.storage.get_broadcast(broadcast_id)
        if broadcast is None or broadcast.status != BroadcastStatus.SENDING:
            return
        if not broadcast.materialized:
            await self._materialize(broadcast)
        await asyncio.gather(*(self._lane(broadcast, name) for name in self.channels))
        await self.reap()
        if await self.storage.finish_broadcast(broadcast_id, utcnow()):
            await self._finished(broadcast_id)
        else:
            await self._warn_unserved(broadcast_id)

    # -- instances ---------------------------------------------------------------------------

    async def _register(self) -> None:
        if self._registered:
            return
        await self.storage.register_worker(
            self.worker_id, host=self._host, pid=os.getpid(), now=utcnow()
        )
        self._registered = True
        await self.reap()
        self._beat_task = asyncio.get_running_loop().create_task(self._beat())

    async def _deregister(self) -> None:
        if not self._registered:
            return
        self._registered = False
        if self._beat_task is not None:
            self._beat_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._beat_task
            self._beat_task = None
        try:
            # Anything still "sending" was cut off mid-send: unknown, never sent again.
            lost = await self.storage.reap_workers(
                [self.worker_id], orphaned_before=_EPOCH, now=utcnow()
            )
        except Exception:
            logger.exception("Could not deregister the broadcast sender")
            return
        if lost:
            logger.warning("%d broadcast messages were cut off mid-send: reported unknown", lost)

    async def _beat(self) -> None:
        beats = 0
        while True:
            await asyncio.sleep(self.settings.heartbeat)
            beats += 1
            try:
                if not await self.storage.heartbeat(self.worker_id, utcnow()):
                    logger.warning("This broadcast sender was presumed dead; registering again")
                    await self.storage.register_worker(
                        self.worker_id, host=self._host, pid=os.getpid(), now=utcnow()
                    )
                if beats % 5 == 0:
                    await self.reap()
            except Exception:
                logger.exception("Broadcast sender heartbeat failed")

    async def reap(self) -> int:
        """Close as ``unknown`` the in-flight deliveries of instances that died.

        An instance is dead when its heartbeat is older than ``worker_timeout``, or at once
        when it ran on this host and its process is gone (a restart after a crash).
        """
        now = utcnow()
        cutoff = now - timedelta(seconds=self.settings.worker_timeout)
        dead = [
            w.id
            for w in await self.storage.list_workers()
            if w.id != self.worker_id
            and (w.heartbeat_at < cutoff or (w.host == self._host and not _pid_alive(w.pid)))
        ]
        lost = await self.storage.reap_workers(dead, orphaned_before=cutoff, now=now)
        if dead:
            logger.info("Forgot %d stopped broadcast sender(s)", len(dead))
        if lost:
            logger.warning(
                "%d broadcast messages were in flight in a stopped sender: reported unknown, "
                "not sent again",
                lost,
            )
        return lost

    # -- one broadcast -----------------------------------------------------------------------

    async def _materialize(self, broadcast: Broadcast) -> None:
        mapping = text_locales(self.config.locales, broadcast.texts)
        written = 0
        while not self._stopping.is_set():
            n = await self.storage.materialize_deliveries(
                broadcast.id,
                locales=mapping,
                default_locale=self.config.default_locale,
                batch_size=self.settings.materialize_batch,
                now=utcnow(),
            )
            if not n:
                break
            written += n
            await asyncio.sleep(0)  # let replies in between batches
        if written:
            logger.info("Broadcast #%d: %d recipients queued", broadcast.id, written)

    async def _lane(self, broadcast: Broadcast, name: str) -> None:
        channel = self.channels[name]
        limiter = self.limiters[name]
        replies = {loc: Reply(text=text, locale=loc) for loc, text in broadcast.texts.items()}
        costs = {loc: channel.estimate(text, loc).units for loc, text in broadcast.texts.items()}
        if limiter.rate is None:
            batch = self.settings.max_batch
        else:
            per_message = max(costs.values(), default=1.0)
            batch = math.ceil(limiter.rate * self.settings.claim_seconds / per_message)
            batch = max(1, min(self.settings.max_batch, batch))
        while not self._stopping.is_set():
            claimed = await self.storage.claim_deliveries(
                broadcast.id, channel=name, worker=self.worker_id, limit=batch, now=utcnow()
            )
            if not claimed:
                due = await self.storage.next_pending_at(broadcast.id, channel=name)
                if due is None:
                    return
                wait = (due - utcnow()).total_seconds()
                await self._sleep(min(max(wait, 0.01), self.settings.poll))
                continue
            results = await asyncio.gather(
                *(self._deliver(broadcast.id, channel, limiter, item, replies) for item in claimed)
            )
            outcomes = [r for r in results if isinstance(r, DeliveryOutcome)]
            released = [item.id for item, r in zip(claimed, results, strict=True) if r is _RELEASE]
            await self._record(outcomes, released)

    async def _deliver(
        self,
        broadcast_id: int,
        channel: Channel,
        limiter: RateLimiter,
        item: ClaimedDelivery,
        replies: Mapping[str, Reply],
    ) -> DeliveryOutcome | object:
        async with self._in_flight[channel.name]:
            if self._stopping.is_set():
                return _RELEASE
            if not await self._still_sending(broadcast_id):
                return DeliveryOutcome(item.id, DeliveryStatus.CANCELLED)
            locale = item.locale if item.locale in replies else FALLBACK_LOCALE
            gate = _Gate(limiter, lambda: self._go(broadcast_id))
            try:
                provider_id = await channel.send(item.address, replies[locale], pacer=gate)
            except SendWithdrawn:
                if self._stopping.is_set():
                    return _RELEASE
                return DeliveryOutcome(item.id, DeliveryStatus.CANCELLED)
            except SendError as exc:
                return self._failed(item, exc)
            except Exception as exc:
                # A bug, not a provider answer: whether it left is unknown, so never resend.
                logger.error(
                    "Sending a broadcast message to %s failed unexpectedly: %s",
                    address_hash(item.address),
                    type(exc).__name__,
                )
                return DeliveryOutcome(item.id, DeliveryStatus.UNKNOWN, error=type(exc).__name__)
        self.sent += 1
        return DeliveryOutcome(item.id, DeliveryStatus.SENT, provider_id=provider_id)

    async def _go(self, broadcast_id: int) -> bool:
        """Whether a message that waited its turn may still go (not stopping, not cancelled)."""
        return not self._stopping.is_set() and await self._still_sending(broadcast_id)

    async def _still_sending(self, broadcast_id: int) -> bool:
        """Whether the broadcast is still being sent (not cancelled), at most 0.5 s stale."""
        loop = asyncio.get_running_loop()
        async with self._status_lock:
            checked_at, sending = self._status_checked.get(broadcast_id, (-1e9, True))
            if loop.time() - checked_at >= _STATUS_CHECK_SECONDS:
                broadcast = await self.storage.get_broadcast(broadcast_id)
                sending = broadcast is not None and broadcast.status == BroadcastStatus.SENDING
                self._status_checked[broadcast_id] = (loop.time(), sending)
            return sending

    def _failed(self, item: ClaimedDelivery, exc: SendError) -> DeliveryOutcome:
        """The outcome of a failed send: retry later, unknown, opted out, or failed.

        A provider's pause was already applied by the channel's ``send()``.
        """
        error = f"{type(exc).__name__} {exc.code}" if exc.code else type(exc).__name__
        who = address_hash(item.address)
        if exc.retryable:
            delay = self.settings.retry.delay(item.attempts, exc)
            if delay is None:
                logger.info("Giving up on %s after %d attempts (%s)", who, item.attempts, error)
                return DeliveryOutcome(item.id, DeliveryStatus.FAILED, error=f"gave up: {error}")
            retry_at = utcnow() + timedelta(seconds=delay)
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

    async def _record(self, outcomes: list[DeliveryOutcome], released: list[int]) -> None:
        """Write outcomes; on a database failure keep them, to write before the next batch.

        Meanwhile the rows stay "sending" under this instance: never claimed again, and
        reported unknown if this process dies before it can write them.
        """
        self._unrecorded.extend(outcomes)
        self._unreleased.extend(released)
        await self._flush_outcomes()

    async def _flush_outcomes(self) -> None:
        async with self._flush_lock:
            outcomes, self._unrecorded = self._unrecorded, []
            released, self._unreleased = self._unreleased, []
            try:
                await self.storage.record_deliveries(self.worker_id, outcomes, utcnow())
            except Exception:
                logger.exception("Could not record %d broadcast outcomes yet", len(outcomes))
                self._unrecorded[:0] = outcomes
                self._unreleased[:0] = released
                raise
            try:
                await self.storage.release_deliveries(self.worker_id, released, utcnow())
            except Exception:
                self._unreleased[:0] = released
                raise

    async def _finished(self, broadcast_id: int) -> None:
        tally: Counter[str] = Counter()
        for row in await self.storage.delivery_tally(broadcast_id):
            tally[row.status] += row.count
        await self.storage.add_audit(
            actor=SYSTEM_ACTOR,
            action="finish",
            detail={"broadcast": broadcast_id, **dict(sorted(tally.items()))},
            now=utcnow(),
        )
        logger.info("Broadcast #%d finished: %s", broadcast_id, dict(sorted(tally.items())))
        for callback in list(self.on_finished):
            try:
                await callback(broadcast_id)
            except Exception:
                logger.exception("A broadcast-finished listener failed")

    async def _warn_unserved(self, broadcast_id: int) -> None:
        for row in await self.storage.delivery_tally(broadcast_id):
            key = (broadcast_id, row.channel)
            if (
                row.status == DeliveryStatus.PENDING
                and row.channel not in self.channels
                and key not in self._warned
            ):
                self._warned.add(key)
                logger.warning(
                    "Broadcast #%d: %d deliveries wait for the %s channel, which this instance "
                    "does not have configured",
                    broadcast_id,
                    row.count,
                    row.channel,
                )

    async def _sleep(self, seconds: float, *, wake: bool = False) -> None:
        waits = [asyncio.ensure_future(self._stopping.wait())]
        if wake:
            waits.append(asyncio.ensure_future(self._wake.wait()))
        try:
            await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waits:
                waiter.cancel()


class _Gate:
    """The runner's :class:`~bot.channels.pacing.Pacer`: the shared limiter, then a last look.

    After each wait for sending time it checks whether the message may still go, and raises
    :class:`~bot.errors.SendWithdrawn` from :meth:`acquire` when the broadcast was cancelled
    or the runner is stopping meanwhile: the claim is then given back or cancelled, and
    nothing is sent.
    """

    def __init__(self, limiter: RateLimiter, go: Callable[[], Awaitable[bool]]) -> None:
        self._limiter = limiter
        self._go = go

    async def acquire(self, cost: float = 1.0) -> None:
        """Wait for sending time, then check the message is still wanted."""
        await self._limiter.acquire(cost)
        if not await self._go():
            raise SendWithdrawn("the broadcast was cancelled or its sender is stopping")

    async def pause(self, seconds: float) -> None:
        """Hold the channel's broadcast sends (shared) for ``seconds``."""
        await self._limiter.pause(seconds)


def organizer_actor(telegram_user_id: int | None = None, login: str | None = None) -> str:
    """The audit-log name of an organizer: ``telegram:<id>`` or ``cli:<login>``."""
    if telegram_user_id is not None:
        return f"{TELEGRAM_ACTOR_PREFIX}{telegram_user_id}"
    return f"{CLI_ACTOR_PREFIX}{login or 'unknown'}"


def channels_by_name(channels: Iterable[Channel]) -> dict[str, Channel]:
    """``{channel.name: channel}``, for :class:`BroadcastRunner`."""
    return {channel.name: channel for channel in channels}
