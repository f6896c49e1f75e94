"""Twilio's WhatsApp webhook as an event: the sender, opt-out words, media and locations.

Pure, so every rule about what comes in is tested without a server. WhatsApp has no carrier
STOP: every opt-out word (STOP, BAJA, PARAR...) and opt-in word reaches the conversation as a
command and the bot answers it itself. A photo, voice note, sticker, contact card or shared
location becomes ``MEDIA`` (the conversation answers it in text).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Final

from bot.channels.sms.keywords import classify
from bot.channels.twilio.numbers import sender_id
from bot.channels.whatsapp.capabilities import CHANNEL
from bot.errors import MalformedWebhook
from bot.messages import Address, Inbound, InboundKind

WHATSAPP_PATH: Final = "/twilio/whatsapp"
WHATSAPP_STATUS_PATH: Final = "/twilio/whatsapp/status"
_NOT_TEXT: Final = frozenset({"location", "contacts", "image", "video", "audio", "sticker"})
"""``MessageType`` values that carry something the bot cannot read."""


def parse_whatsapp(
    form: Mapping[str, str], *, received_at: datetime, default_region: str
) -> Inbound:
    """Translate Twilio's incoming WhatsApp form into an :class:`Inbound`.

    Args:
        form: the webhook's fields (``From=whatsapp:+1...``, ``Body``, ``MessageSid``,
            ``MessageType``, ``NumMedia``, ``Latitude``...).
        received_at: when the webhook arrived (timezone-aware).
        default_region: ``twilio.default_region`` for a number without ``+``.

    Raises:
        MalformedWebhook: ``From`` is missing or empty.
    """
    sender = form.get("From")
    if not sender or not sender.strip():
        raise MalformedWebhook("From is required")
    address = Address(channel=CHANNEL, id=sender_id(sender, default_region))
    message_id = form.get("MessageSid") or form.get("SmsSid") or None
    body = form.get("Body") or ""
    try:
        num_media = int(form.get("NumMedia") or "0")
    except ValueError:
        num_media = 0
    message_type = (form.get("MessageType") or "").lower()
    not_text = message_type in _NOT_TEXT or "Latitude" in form or num_media > 0
    if not_text and not body.strip():
        return Inbound(address, "", received_at, message_id, kind=InboundKind.MEDIA)
    keyword = classify(body)
    if keyword is not None:
        return Inbound(
            address,
            body.strip(),
            received_at,
            message_id,
            kind=InboundKind.COMMAND,
            command=keyword.action.value,
        )
    return Inbound(address, body, received_at, message_id)
