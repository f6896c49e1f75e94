"""Twilio's delivery-status callbacks as :class:`~bot.messages.DeliveryReport` (SMS, WhatsApp)."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from aiohttp import web

from bot.channels.base import ChannelCallbacks
from bot.messages import DeliveryReport

logger = logging.getLogger(__name__)


async def report_status(
    form: Mapping[str, str],
    *,
    channel: str,
    label: str,
    opted_out_codes: frozenset[str],
    callbacks: ChannelCallbacks | None,
) -> web.Response:
    """Pass one signed status callback to ``on_delivery_report``; the response to give Twilio.

    Args:
        form: the callback's fields (``MessageSid``, ``MessageStatus``, ``ErrorCode``...).
        channel: the channel that sent the message.
        label: the channel's name for the log.
        opted_out_codes: error codes that mean the person opted out or blocked the sender.
        callbacks: the channel's callbacks; ``None`` before it started (answered 503).
    """
    sid = form.get("MessageSid") or form.get("SmsSid")
    status = form.get("MessageStatus") or form.get("SmsStatus")
    if not sid or not status:
        return web.Response(status=400)
    if callbacks is None:
        return web.Response(status=503)
    code = form.get("ErrorCode") or None
    report = DeliveryReport(channel, sid, status, code, opted_out=code in opted_out_codes)
    try:
        await callbacks.on_delivery_report(report)
    except Exception:
        logger.exception("%s delivery status for %s could not be recorded", label, sid)
        return web.Response(status=500)
    return web.Response(status=204)
