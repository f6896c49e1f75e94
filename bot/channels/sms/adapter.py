"""The SMS channel: Twilio's signed webhooks in, TwiML replies and REST sends out.

Inbound (``POST /twilio/sms``): the ``X-Twilio-Signature`` is checked against
``server.public_url`` + the request path and query + every form field (never the Host
header, so a TLS proxy in front does not break it); the form becomes an :class:`Inbound`
(compliance keywords become commands, media becomes ``MEDIA``); the sink's replies go back as
TwiML in the response. Outbound (:meth:`SmsChannel.send`): Twilio's REST API through the async
client, with provider errors turned into :mod:`bot.errors` send errors. Delivery reports
(``POST /twilio/status``, signed) go to the sink.

The adapter decides nothing about the conversation. It does two things at the channel's
edge: it stays silent after Twilio's own answer to an English opt-out word
(``twilio.provider_handles_opt_out``), and it keeps a per-number reply budget
(``sms.reply_budget``) so a loop with another bot cannot run up costs. Over budget nothing
is answered and ordinary messages are not passed on at all; opt-out and opt-in words still
reach the sink, so they are recorded.
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import logging
import re
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, Final, cast
from xml.sax.saxutils import escape

import aiohttp
from aiohttp import web
from multidict import MultiDictProxy
from twilio.base.exceptions import TwilioException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from bot.channels.base import Capabilities, Channel, InboundSink, Route
from bot.channels.sms.keywords import KeywordAction, KeywordMatch, classify
from bot.channels.sms.render import render_sms_parts
from bot.config import Config
from bot.errors import (
    ChannelUnavailable,
    ConfigError,
    OutcomeUnknown,
    PermanentSendError,
    RateLimited,
    RecipientUnreachable,
    SendError,
)
from bot.messages import Address, Inbound, InboundKind, Reply
from bot.privacy import address_hash
from bot.sms_text import MAX_MESSAGE_CHARS, segment_info

logger = logging.getLogger(__name__)

SMS_PATH: Final = "/twilio/sms"
STATUS_PATH: Final = "/twilio/status"
SIGNATURE_HEADER: Final = "X-Twilio-Signature"

OPTED_OUT_CODES: Final = frozenset({"21610"})
"""Twilio: the recipient replied STOP; nothing can be sent until they reply START."""
UNREACHABLE_CODES: Final = frozenset({"21211", "21614"})
"""Twilio: the 'To' number is invalid (21211) or cannot receive SMS (21614)."""
RATE_LIMIT_CODES: Final = frozenset({"20429"})
"""Twilio: too many concurrent REST requests; safe to retry after backing off."""

_FORM_TYPE: Final = "application/x-www-form-urlencoded"
_XML_DECLARATION: Final = '<?xml version="1.0" encoding="UTF-8"?>'
# Characters XML 1.0 cannot carry at all (form feed, a GSM-7 extension character, among them).
_XML_ILLEGAL: Final = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


@dataclass(slots=True)
class _Attempt:
    """One REST call in flight: whether its request has gone out on the wire yet."""

    sent: bool = False


# The REST call being made in this task; aiohttp's trace hooks run in the caller's context.
_ATTEMPT: ContextVar[_Attempt | None] = ContextVar("sms_send_attempt", default=None)


async def _mark_request_sent(_session: object, _context: object, _params: object) -> None:
    attempt = _ATTEMPT.get()
    if attempt is not None:
        attempt.sent = True


class MalformedWebhook(ValueError):
    """A signed webhook lacks a field the adapter needs (answered with 400)."""


@dataclass(frozen=True, slots=True)
class ParsedSms:
    """An incoming SMS translated for the engine, plus the keyword it was, if any.

    Attributes:
        inbound: the event for the sink.
        keyword: the compliance keyword the whole message matched, or ``None``.
    """

    inbound: Inbound
    keyword: KeywordMatch | None


def parse_sms(form: Mapping[str, str], *, received_at: datetime) -> ParsedSms:
    """Translate Twilio's incoming-message form into an :class:`Inbound`.

    * A whole-message compliance keyword becomes ``COMMAND`` with ``command`` set to
      ``"opt_out"``, ``"opt_in"``, ``"opt_in_if_opted_out"`` (YES) or ``"help"``, and
      ``text`` the message as sent (stripped).
    * Media with no text (``NumMedia`` > 0, empty ``Body``) becomes ``MEDIA``.
    * Anything else is ``TEXT`` with the body unchanged.

    Args:
        form: the webhook's form fields (``From``, ``Body``, ``MessageSid``, ``NumMedia``...).
        received_at: when the webhook arrived (timezone-aware).

    Returns:
        The inbound event and the matched keyword.

    Raises:
        MalformedWebhook: ``From`` is missing or empty, or ``Body`` is missing.
    """
    sender = form.get("From")
    body = form.get("Body")
    if not sender or body is None:
        raise MalformedWebhook("From and Body are required")
    address = Address(channel="sms", id=sender)
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


class ReplyBudget:
    """A sliding-window count of replies per sender key, kept in memory.

    Keys are keyed hashes (:func:`bot.privacy.address_hash`), never numbers. Idle keys are
    pruned as the table grows, so memory stays proportional to recently active senders.
    """

    _PRUNE_EVERY: ClassVar[int] = 1024

    def __init__(
        self, *, replies: int, window_seconds: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        """Allow ``replies`` replies per key in any ``window_seconds``, timed by ``clock``."""
        self._limit = replies
        self._window = window_seconds
        self._clock = clock
        self._sent: dict[str, deque[float]] = {}
        self._warned: dict[str, float] = {}
        self._spends = 0

    def exhausted(self, key: str) -> bool:
        """Whether ``key`` has used its whole budget in the current window."""
        times = self._sent.get(key)
        if times is None:
            return False
        self._expire(times, self._clock())
        return len(times) >= self._limit

    def spend(self, key: str) -> None:
        """Record one reply to ``key``."""
        now = self._clock()
        times = self._sent.setdefault(key, deque())
        self._expire(times, now)
        times.append(now)
        self._spends += 1
        if self._spends % self._PRUNE_EVERY == 0:
            self._prune(now)

    def first_refusal(self, key: str) -> bool:
        """True once per window for an exhausted ``key``: the moment worth a log line."""
        now = self._clock()
        last = self._warned.get(key)
        if last is not None and now - last < self._window:
            return False
        self._warned[key] = now
        return True

    def _expire(self, times: deque[float], now: float) -> None:
        horizon = now - self._window
        while times and times[0] <= horizon:
            times.popleft()

    def _prune(self, now: float) -> None:
        horizon = now - self._window
        self._sent = {k: v for k, v in self._sent.items() if v and v[-1] > horizon}
        self._warned = {k: t for k, t in self._warned.items() if t > horizon}


class SmsChannel(Channel):
    """Twilio SMS: signed webhooks with TwiML replies, REST sends, delivery callbacks.

    Lifecycle: construct from the config, mount :meth:`routes` on the web server, then
    ``await start(sink)`` inside the running loop, :meth:`send` as needed, ``await stop()``.
    Webhooks that arrive before ``start`` are answered 503.
    """

    name: ClassVar[str] = "sms"
    capabilities: ClassVar[Capabilities] = Capabilities(
        buttons=False, max_text_length=MAX_MESSAGE_CHARS, delivery_reports=True
    )

    def __init__(
        self,
        config: Config,
        *,
        request_timeout: float = 15.0,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        """Build the channel; nothing is started and no network is touched.

        Args:
            config: the whole configuration (uses ``twilio``, ``sms`` and ``server``).
            request_timeout: seconds a REST send may take in all. When it runs out before the
                request went out, the send failed (``ChannelUnavailable``); after, its outcome
                is unknown (``OutcomeUnknown``).
            clock: monotonic seconds, for the reply budget (tests pass a fake).
            now: the current time for ``Inbound.received_at`` (tests pass a fake).

        Raises:
            ConfigError: ``twilio.account_sid`` or ``twilio.auth_token`` is not set.
        """
        twilio = config.twilio
        if not twilio.account_sid or not twilio.auth_token:
            raise ConfigError(
                "twilio.account_sid and twilio.auth_token must be set to use the SMS channel"
            )
        self._account_sid = twilio.account_sid
        self._auth_token = twilio.auth_token
        self._from_number = twilio.from_number
        self._messaging_service_sid = twilio.messaging_service_sid
        self._api_base_url = twilio.api_base_url.rstrip("/") if twilio.api_base_url else None
        self._provider_handles_opt_out = twilio.provider_handles_opt_out
        self._public_url = (
            config.server.public_url.rstrip("/") if config.server.public_url else None
        )
        self._max_body_bytes = config.server.max_body_bytes
        self._fold: dict[str, bool] = dict(config.sms.fold_accents)
        self._segment_budget = config.sms.segment_budget
        self._validator = RequestValidator(self._auth_token)
        self._budget = ReplyBudget(
            replies=config.sms.reply_budget.replies,
            window_seconds=config.sms.reply_budget.window_minutes * 60.0,
            clock=clock,
        )
        self._request_timeout = request_timeout
        self._now = now
        self._sink: InboundSink | None = None
        self._http: Any = None
        self._client: Any = None
        self._said_no_public_url = False
        self._over_budget_nodes: set[str] = set()

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self, sink: InboundSink) -> None:
        """Store ``sink`` and create the async Twilio REST client (needs a running loop)."""
        self._sink = sink
        if self._client is None:
            trace = aiohttp.TraceConfig()
            trace.on_request_headers_sent.append(_mark_request_sent)
            http = AsyncTwilioHttpClient(trace_configs=[trace])
            client = Client(self._account_sid, self._auth_token, http_client=http)
            if self._api_base_url is not None:
                client.api.base_url = self._api_base_url
                # TWILIO_EDGE / TWILIO_REGION would rewrite the host name and break the URL.
                client.edge = None
                client.region = None
            self._http, self._client = http, client
        if self._public_url is None:
            self._say_no_public_url()
        if not self._from_number and not self._messaging_service_sid:
            logger.warning(
                "SMS channel: neither twilio.from_number nor twilio.messaging_service_sid is "
                "set; webhook replies work, sending outside a webhook (broadcasts) will fail"
            )

    async def stop(self) -> None:
        """Close the REST client's connections. Safe to call twice."""
        http, self._http, self._client = self._http, None, None
        if http is not None:
            await http.close()

    def routes(self) -> Sequence[Route]:
        """``POST /twilio/sms`` (incoming messages) and ``POST /twilio/status`` (delivery)."""
        return (
            Route("POST", SMS_PATH, self._handle_sms),
            Route("POST", STATUS_PATH, self._handle_status),
        )

    # -- outbound ----------------------------------------------------------------------------

    async def send(self, address: Address, reply: Reply) -> str:
        """Send ``reply`` through Twilio's REST API and return the message SID.

        A reply longer than 1,600 characters goes as several messages; the first SID is
        returned. Twilio reports delivery later on ``/twilio/status`` when
        ``server.public_url`` is set.

        Args:
            address: an ``sms`` address (E.164 number).
            reply: the translated reply.

        Returns:
            The SID of the (first) message Twilio accepted.

        Raises:
            RecipientUnreachable: opted out (21610, ``opted_out=True``; also reported to the
                sink) or an invalid or non-SMS number (21211, 21614).
            RateLimited: Twilio said too many requests (20429 / HTTP 429).
            ChannelUnavailable: Twilio answered 5xx, or could not be reached at all.
            OutcomeUnknown: the request was sent but no answer came in time, or only some
                parts of a long reply were accepted.
            PermanentSendError: anything else Twilio rejected, or no sender is configured.
        """
        if self._client is None or self._sink is None:
            raise ChannelUnavailable("the SMS channel is not started")
        if not self._from_number and not self._messaging_service_sid:
            raise PermanentSendError(
                "set twilio.from_number or twilio.messaging_service_sid to send SMS"
            )
        parts = render_sms_parts(reply, fold_accents=self._fold_for(reply.locale))
        if not parts:
            raise PermanentSendError("the reply has no text")
        sids: list[str] = []
        for body in parts:
            try:
                sids.append(await self._create(address, body))
            except SendError as exc:
                if isinstance(exc, RecipientUnreachable) and exc.opted_out:
                    await self._sink.contact_unreachable(address, opted_out=True)
                if not sids:
                    raise
                raise OutcomeUnknown(
                    f"only {len(sids)} of {len(parts)} parts were accepted", code=exc.code
                ) from exc
        return sids[0]

    async def _create(self, address: Address, body: str) -> str:
        params: dict[str, str] = {"to": address.id, "body": body}
        if self._messaging_service_sid:
            params["messaging_service_sid"] = self._messaging_service_sid
        else:
            assert self._from_number is not None  # checked by send()
            params["from_"] = self._from_number
        if self._public_url is not None:
            params["status_callback"] = self._public_url + STATUS_PATH
        who = address_hash(address)
        attempt = _Attempt()
        token = _ATTEMPT.set(attempt)
        try:
            # twilio's async client sets no timeout of its own, so the whole call gets one.
            async with asyncio.timeout(self._request_timeout):
                message = await self._client.messages.create_async(**params)
        except TwilioException as exc:
            error = send_error_from_twilio(exc)
            logger.info("SMS to %s refused: %s (code %s)", who, type(error).__name__, error.code)
            raise error from exc
        except ValueError as exc:  # Twilio's answer was not the JSON it should be
            if not attempt.sent:
                raise PermanentSendError(f"the request could not be made: {exc}") from exc
            logger.warning("SMS to %s: outcome unknown (unreadable answer)", who)
            raise OutcomeUnknown("sent, but Twilio's answer was unreadable") from exc
        except (TimeoutError, aiohttp.ClientError) as exc:
            reason = type(exc).__name__
            if not attempt.sent:
                logger.info("SMS to %s not sent: cannot reach Twilio (%s)", who, reason)
                raise ChannelUnavailable(f"cannot reach Twilio: {reason}") from exc
            logger.warning("SMS to %s: outcome unknown (%s)", who, reason)
            raise OutcomeUnknown(f"sent, but no usable answer from Twilio: {reason}") from exc
        finally:
            _ATTEMPT.reset(token)
        sid = getattr(message, "sid", None)
        if not sid:
            raise OutcomeUnknown("Twilio's answer carried no message SID")
        logger.debug("SMS to %s accepted as %s", who, sid)
        return str(sid)

    # -- inbound -----------------------------------------------------------------------------

    async def _handle_sms(self, request: web.Request) -> web.StreamResponse:
        form = await self._signed_form(request)
        if isinstance(form, web.Response):
            return form
        try:
            parsed = parse_sms(form, received_at=self._now())
        except MalformedWebhook:
            return _status(400)
        sink = self._sink
        if sink is None:
            return _status(503)
        inbound = parsed.inbound
        key = address_hash(inbound.address)
        over_budget = self._budget.exhausted(key)
        if over_budget:
            if self._budget.first_refusal(key):
                logger.warning("SMS reply budget used up for %s; staying silent", key)
            if parsed.keyword is None or parsed.keyword.action is KeywordAction.HELP:
                return _twiml_response(())
            # Opt-out and opt-in are still recorded; only the answer is withheld.
        try:
            replies = await sink.handle(inbound)
        except Exception:
            logger.exception("SMS from %s: the conversation service failed", key)
            return _status(500)
        if over_budget or not replies:
            return _twiml_response(())
        if (
            parsed.keyword is not None
            and parsed.keyword.provider_answered
            and self._provider_handles_opt_out
        ):
            # Twilio has answered this opt-out word itself and blocks anything we would add.
            return _twiml_response(())
        bodies = self._render(replies)
        if bodies:
            self._budget.spend(key)
        return _twiml_response(bodies)

    async def _handle_status(self, request: web.Request) -> web.StreamResponse:
        form = await self._signed_form(request)
        if isinstance(form, web.Response):
            return form
        sid = form.get("MessageSid") or form.get("SmsSid")
        status = form.get("MessageStatus") or form.get("SmsStatus")
        if not sid or not status:
            return _status(400)
        sink = self._sink
        if sink is None:
            return _status(503)
        error_code = form.get("ErrorCode") or None
        try:
            await sink.delivery_status(self.name, sid, status, error_code)
        except Exception:
            logger.exception("SMS delivery status for %s could not be recorded", sid)
            return _status(500)
        return web.Response(status=204)

    async def _signed_form(self, request: web.Request) -> MultiDictProxy[str] | web.Response:
        """The request's form if Twilio signed it; otherwise the error response to give."""
        if self._public_url is None:
            self._say_no_public_url()
            return _status(403)
        if request.content_length is not None and request.content_length > self._max_body_bytes:
            return _status(413)
        if request.content_type != _FORM_TYPE:  # Twilio only ever posts plain forms
            return _status(400)
        try:
            raw = await request.post()
        except web.HTTPRequestEntityTooLarge:
            return _status(413)
        except (ValueError, LookupError):  # undecodable bytes, an unknown charset...
            return _status(400)
        form = cast("MultiDictProxy[str]", raw)  # a urlencoded form holds only strings
        signature = request.headers.get(SIGNATURE_HEADER)
        url = self._public_url + request.raw_path
        if not signature or not self._signature_ok(url, form, signature):
            logger.warning("refused a %s webhook with a missing or wrong signature", request.path)
            return _status(403)
        return form

    def _signature_ok(self, url: str, form: MultiDictProxy[str], signature: str) -> bool:
        # The URL exactly as configured is what Twilio signs in practice: one HMAC, compared
        # in constant time. The validator also tries the URL with and without a default port.
        expected = self._validator.compute_signature(url, form)
        if hmac.compare_digest(expected.encode(), signature.encode()):
            return True
        return bool(self._validator.validate(url, form, signature))

    def _render(self, replies: Sequence[Reply]) -> list[str]:
        bodies: list[str] = []
        for reply in replies:
            parts, segments = _rendered(reply, self._fold_for(reply.locale))
            node = reply.node or "?"
            if segments > self._segment_budget and node not in self._over_budget_nodes:
                self._over_budget_nodes.add(node)
                logger.warning(
                    "SMS reply for %s (%s) takes %d segments, over sms.segment_budget %d",
                    node,
                    reply.locale,
                    segments,
                    self._segment_budget,
                )
            bodies.extend(parts)
        return bodies

    def _fold_for(self, locale: str) -> bool:
        if locale in self._fold:
            return self._fold[locale]
        return self._fold.get(re.split(r"[_-]", locale, maxsplit=1)[0], False)

    def _say_no_public_url(self) -> None:
        if not self._said_no_public_url:
            self._said_no_public_url = True
            logger.error(
                "server.public_url is not set: Twilio webhooks cannot be verified, so every "
                "request to %s and %s is refused with 403",
                SMS_PATH,
                STATUS_PATH,
            )


def send_error_from_twilio(exc: TwilioException) -> SendError:
    """Turn a Twilio REST error into the matching :class:`bot.errors.SendError`.

    Args:
        exc: a ``TwilioRestException`` or ``TwilioServiceException`` (both carry ``code``
            and ``status``).

    Returns:
        ``RecipientUnreachable`` (``opted_out`` for 21610; 21211, 21614), ``RateLimited``
        (20429 or HTTP 429), ``ChannelUnavailable`` (HTTP 5xx) or ``PermanentSendError``.
    """
    raw_code = getattr(exc, "code", None)
    code = str(raw_code) if raw_code is not None else None
    status = getattr(exc, "status", None)
    status = status if isinstance(status, int) else None
    message = f"Twilio error {code} (HTTP {status})"
    if code in OPTED_OUT_CODES:
        return RecipientUnreachable(message, opted_out=True, code=code)
    if code in UNREACHABLE_CODES:
        return RecipientUnreachable(message, code=code)
    if code in RATE_LIMIT_CODES or status == 429:
        return RateLimited(message, code=code)
    if status is not None and status >= 500:
        return ChannelUnavailable(message, code=code)
    return PermanentSendError(message, code=code)


@functools.lru_cache(maxsize=512)
def _rendered(reply: Reply, fold_accents: bool) -> tuple[tuple[str, ...], int]:
    """The SMS bodies for ``reply`` and their segments in all.

    Replies repeat (every page is the same text for everyone reading it in one language), and
    laying one out costs several whole-text segment counts, so results are kept. A reply's
    ``node`` is not part of its equality, and rendering does not read it.
    """
    parts = tuple(render_sms_parts(reply, fold_accents=fold_accents))
    return parts, sum(segment_info(part).segments for part in parts)


def _status(status: int) -> web.Response:
    return web.Response(status=status)


def _twiml_response(bodies: Sequence[str]) -> web.Response:
    return web.Response(text=twiml(bodies), content_type="text/xml")


__all__ = [
    "SMS_PATH",
    "STATUS_PATH",
    "MalformedWebhook",
    "ParsedSms",
    "ReplyBudget",
    "SmsChannel",
    "parse_sms",
    "send_error_from_twilio",
    "twiml",
]
