"""How a preview, a delivery report and the topic stats read to an organizer."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from babel.dates import format_date, format_timedelta

from bot.broadcast.drafts import FALLBACK_LOCALE
from bot.broadcast.outcomes import Report, WeekCount
from bot.broadcast.preview import Preview
from bot.broadcast.words import Words
from bot.channels.capabilities import Capabilities
from bot.content.i18n import babel_locale
from bot.handoff.stats import TicketCounts
from bot.organizer import texts as T
from bot.storage.base import (
    BroadcastStatus,
)


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
    lines.extend(_window_lines(preview, words))
    if preview.missing:
        lines.append("")
        lines.append(
            words(
                T.MISSING_FALLBACK,
                languages=", ".join(words.language(loc) for loc in preview.missing),
            )
        )
    return "\n".join(lines)


def _window_lines(preview: Preview, words: Words) -> list[str]:
    """For each channel with a reply window: free-form, template and left out, with costs."""
    lines: list[str] = []
    for channel, split in sorted(preview.windows.items()):
        caps = preview.channels.get(channel)
        hours = f"{caps.reply_window_hours:g}" if caps and caps.reply_window_hours else "24"
        name = _channel_name(channel, preview.channels)
        lines.append("")
        free, template = sum(split.free_form.values()), sum(split.template.values())
        lines.append(
            words(
                T.WINDOW_FREE_FORM,
                channel=name,
                hours=hours,
                count=words.number(free),
                cost=words.money(split.free_form_cost),
            )
        )
        lines.append(
            words(
                T.WINDOW_TEMPLATE,
                channel=name,
                hours=hours,
                count=words.number(template),
                cost=words.money(split.template_cost),
            )
        )
        if split.left_out:
            lines.append(
                words(
                    T.WINDOW_LEFT_OUT,
                    channel=name,
                    hours=hours,
                    languages=", ".join(words.language(loc) for loc in sorted(split.left_out)),
                    count=words.number(sum(split.left_out.values())),
                )
            )
    return lines


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


def report_counts(report: Report) -> dict[str, Any]:
    """A report's counts as plain data: ``kyrbot broadcast status --json`` and the console."""
    b = report.broadcast
    return {
        "id": b.id,
        "status": b.status,
        "total": report.total,
        "done": report.done,
        **report.summary(),
        "channels": {ch: report.summary(ch) for ch in sorted(report.by_channel)},
        "by_status": report.by_channel,
    }


def format_ticket_counts(counts: TicketCounts, words: Words, *, weeks: int) -> str:
    """One line on the chats with volunteers: opened, answered, median wait for an answer."""
    median = counts.median_first_answer
    said = (
        format_timedelta(median, threshold=1.5, locale=babel_locale(words.locale))
        if median is not None
        else words(T.STATS_NO_MEDIAN)
    )
    return words(
        T.STATS_TICKETS,
        weeks=weeks,
        opened=words.number(counts.opened),
        answered=words.number(counts.answered),
        median=said,
    )
