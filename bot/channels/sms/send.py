"""Sending SMS through Twilio's REST API (the async client), and mapping Twilio's errors.

The client's aiohttp session carries a trace hook that marks the
:class:`~bot.channels.base.DeliveryAttempt` being made once its request headers are on the
wire: a failure before that means nothing was sent (:class:`~bot.errors.ChannelUnavailable`),
after it the message may have gone out (:class:`~bot.errors.OutcomeUnknown`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, Final

import aiohttp
from twilio.base.exceptions import TwilioException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client

from bot.channels.base import DeliveryAttempt
from bot.errors import (
    ChannelUnavailable,
    OutcomeUnknown,
    PermanentSendError,
    RateLimited,
    RecipientUnreachable,
    SendError,
)
from bot.messages import Address
from bot.privacy import address_hash

logger = logging.getLogger(__name__)

OPTED_OUT_CODES: Final = frozenset({"21610"})
"""Twilio: the recipient replied STOP; nothing can be sent until they reply START."""
UNREACHABLE_CODES: Final = frozenset({"21211", "21614"})
"""Twilio: the 'To' number is invalid (21211) or cannot receive SMS (21614)."""
RATE_LIMIT_CODES: Final = frozenset({"20429"})
"""Twilio: too many concurrent REST requests; safe to retry after backing off."""

# The REST call being made in this task; aiohttp's trace hooks run in the caller's context.
_ATTEMPT: ContextVar[DeliveryAttempt | None] = ContextVar("sms_send_attempt", default=None)


async def _mark_request_sent(_session: object, _context: object, _params: object) -> None:
    attempt = _ATTEMPT.get()
    if attempt is not None:
        attempt.sent = True


class TwilioRest:
    """The async Twilio REST client, made on :meth:`open` (it needs a running loop).

    Args:
        account_sid: ``twilio.account_sid``.
        auth_token: ``twilio.auth_token``.
        api_base_url: ``twilio.api_base_url`` (another REST server, for tests), or None.
        request_timeout: seconds one REST call may take in all.
    """

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        *,
        api_base_url: str | None,
        request_timeout: float,
    ) -> None:
        self._account_sid = account_sid
        self._auth_token = auth_token
        self._api_base_url = api_base_url.rstrip("/") if api_base_url else None
        self._timeout = request_timeout
        self._http: Any = None
        self._client: Any = None

    @property
    def ready(self) -> bool:
        """Whether :meth:`open` made the client."""
        return self._client is not None

    def open(self) -> None:
        """Make the client, if not made yet."""
        if self._client is not None:
            return
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

    async def close(self) -> None:
        """Close the client's connections. Safe to call twice."""
        http, self._http, self._client = self._http, None, None
        if http is not None:
            await http.close()

    async def create(self, attempt: DeliveryAttempt, params: dict[str, str]) -> str:
        """``POST Messages.json`` with ``params``; returns the message SID.

        Raises:
            OutcomeUnknown: the answer carried no SID.
            Exception: what the client raised (see :func:`map_send_error`).
        """
        token = _ATTEMPT.set(attempt)
        try:
            # twilio's async client sets no timeout of its own, so the whole call gets one.
            async with asyncio.timeout(self._timeout):
                message = await self._client.messages.create_async(**params)
        finally:
            _ATTEMPT.reset(token)
        sid = getattr(message, "sid", None)
        if not sid:
            raise OutcomeUnknown("Twilio's answer carried no message SID")
        logger.debug("SMS to %s accepted as %s", address_hash(attempt.address), sid)
        return str(sid)


def message_params(
    address: Address,
    body: str,
    *,
    from_number: str | None,
    messaging_service_sid: str | None,
    status_callback: str | None,
) -> dict[str, str]:
    """The ``create`` parameters for one message: recipient, sender and status callback."""
    params: dict[str, str] = {"to": address.id, "body": body}
    if messaging_service_sid:
        params["messaging_service_sid"] = messaging_service_sid
    elif from_number:
        params["from_"] = from_number
    if status_callback is not None:
        params["status_callback"] = status_callback
    return params


def map_send_error(
    error: Exception,
    attempt: DeliveryAttempt,
    classify: Callable[[TwilioException], SendError] | None = None,
) -> SendError | None:
    """The send error for what the REST call raised (logged without the number); None: a bug.

    ``classify`` maps Twilio's error codes (default :func:`send_error_from_twilio`; the
    WhatsApp channel passes its own, which knows the 63xxx codes).
    """
    who = address_hash(attempt.address)
    if isinstance(error, TwilioException):
        mapped = (classify or send_error_from_twilio)(error)
        logger.info("SMS to %s refused: %s (code %s)", who, type(mapped).__name__, mapped.code)
        return mapped
    if isinstance(error, ValueError):  # Twilio's answer was not the JSON it should be
        if not attempt.sent:
            return PermanentSendError(f"the request could not be made: {error}")
        logger.warning("SMS to %s: outcome unknown (unreadable answer)", who)
        return OutcomeUnknown("sent, but Twilio's answer was unreadable")
    if isinstance(error, TimeoutError | aiohttp.ClientError):
        reason = type(error).__name__
        if not attempt.sent:
            logger.info("SMS to %s not sent: cannot reach Twilio (%s)", who, reason)
            return ChannelUnavailable(f"cannot reach Twilio: {reason}")
        logger.warning("SMS to %s: outcome unknown (%s)", who, reason)
        return OutcomeUnknown(f"sent, but no usable answer from Twilio: {reason}")
    return None


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
