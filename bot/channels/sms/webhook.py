"""Twilio's SMS webhooks as data: the signature check, the form as an event, the TwiML answer.

Pure apart from the signature's HMAC, so every rule about what comes in or goes out is tested
without a server; :mod:`bot.channels.sms.adapter` serves the routes.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final
from xml.sax.saxutils import escape

from multidict import MultiDictProxy
from twilio.request_validator import RequestValidator

from bot.channels.sms.capabilities import CHANNEL
from bot.channels.sms.keywords import KeywordMatch, classify
from bot.errors import MalformedWebhook
from bot.messages import Address, Inbound, InboundKind
from bot.phone_numbers import to_e164

SMS_PATH: Final = "/twilio/sms"
STATUS_PATH: Final = "/twilio/status"
SIGNATURE_HEADER: Final = "X-Twilio-Signature"
FORM_TYPE: Final = "application/x-www-form-urlencoded"

_SENDER: Final = re.compile(r"[^\x00-\x1f\x7f]{1,64}")
"""What a ``From`` can be: a phone number, a short code or ``whatsapp:+1...``; never control
characters, never more than a few dozen characters."""
_XML_DECLARATION: Final = '<?xml version="1.0" encoding="UTF-8"?>'
# Characters XML 1.0 cannot carry at all (form feed, a GSM-7 extension character, among them).
_XML_ILLEGAL: Final = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


@dataclass(frozen=True, slots=True)
class ParsedSms:
    """An incoming SMS translated for the engine, plus the keyword it was, if any.

    Attributes:
        inbound: the event for the conversation.
        keyword: the compliance keyword the whole message matched, or ``None``.
    """

    inbound: Inbound
    keyword: KeywordMatch | None


def parse_sms(
    form: Mapping[str, str], *, received_at: datetime, default_region: str = "US"
) -> ParsedSms:
    """Translate Twilio's incoming-message form into an :class:`Inbound`.

    * A whole-message compliance keyword becomes ``COMMAND`` with ``command`` set to
      ``"opt_out"``, ``"opt_in"``, ``"opt_in_if_opted_out"`` (YES) or ``"help"``, and
      ``text`` the message as sent (stripped).
    * Media with no text (``NumMedia`` > 0, empty ``Body``) becomes ``MEDIA``.
    * Anything else is ``TEXT`` with the body unchanged. A form without ``Body`` (an MMS
      with only a picture may come so) counts as an empty message.

    Args:
        form: the webhook's form fields (``From``, ``Body``, ``MessageSid``, ``NumMedia``...).
        received_at: when the webhook arrived (timezone-aware).
        default_region: the country of a number without ``+`` (``twilio.default_region``);
            the sender is stored in E.164 (:mod:`bot.phone_numbers`), or as given when it is
            no phone number.

    Returns:
        The inbound event and the matched keyword.

    Raises:
        MalformedWebhook: ``From`` is missing, empty, or not a sender's address.
    """
    sender = form.get("From")
    body = form.get("Body") or ""  # an MMS may carry no Body: an empty message, not an error
    if not sender or not _SENDER.fullmatch(sender):
        raise MalformedWebhook("From must be the sender's address")
    address = Address(channel=CHANNEL, id=to_e164(sender, default_region) or sender)
    message_id = form.get("MessageSid") or form.get("SmsSid") or None
    try:
        num_media = int(form.get("NumMedia") or "0")
    except ValueError:
        num_media = 0
    if num_media > 0 and not body.strip():
        inbound = Inbound(
            address=address,
            text="",
            received_at=received_at,
            message_id=message_id,
            kind=InboundKind.MEDIA,
        )
        return ParsedSms(inbound=inbound, keyword=None)
    keyword = classify(body)
    if keyword is not None:
        inbound = Inbound(
            address=address,
            text=body.strip(),
            received_at=received_at,
            message_id=message_id,
            kind=InboundKind.COMMAND,
            command=keyword.action.value,
        )
        return ParsedSms(inbound=inbound, keyword=keyword)
    inbound = Inbound(address=address, text=body, received_at=received_at, message_id=message_id)
    return ParsedSms(inbound=inbound, keyword=None)


def twiml(bodies: Sequence[str]) -> str:
    """A TwiML messaging response with one ``<Message>`` per body.

    Args:
        bodies: message texts, each at most 1,600 characters; none gives an empty response,
            which tells Twilio not to reply.

    Returns:
        The XML document.
    """
    if not bodies:
        return f"{_XML_DECLARATION}<Response/>"
    messages = "".join(
        f"<Message>{escape(_XML_ILLEGAL.sub('', body))}</Message>" for body in bodies
    )
    return f"{_XML_DECLARATION}<Response>{messages}</Response>"


def repeated_key(form: MultiDictProxy[str]) -> bool:
    """Whether a field appears twice in ``form``.

    Twilio never repeats a field. Its signature covers every value of a repeated one, but a
    handler reading the form would act on only the first, so such a form is refused.
    """
    return len(set(form.keys())) != len(form)


def signature_ok(
    validator: RequestValidator, url: str, form: MultiDictProxy[str], signature: str
) -> bool:
    """Whether ``signature`` is Twilio's for ``form`` posted to ``url``.

    The URL exactly as configured is what Twilio signs in practice: one HMAC, compared in
    constant time. The validator also tries the URL with and without a default port.
    """
    expected = validator.compute_signature(url, form)
    if hmac.compare_digest(expected.encode(), signature.encode()):
        return True
    return bool(validator.validate(url, form, signature))
