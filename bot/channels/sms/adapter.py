"""The SMS channel: Twilio's signed webhooks in, TwiML replies and REST sends out.

Inbound (``POST /twilio/sms``): the ``X-Twilio-Signature`` is checked against
``server.public_url`` + the request path and query + every form field (never the Host
header, so a TLS proxy in front does not break it); the form becomes an :class:`Inbound`
(:mod:`.webhook`: compliance keywords become commands, media becomes ``MEDIA``); the
conversation's replies go back as TwiML in the response. Outbound (:meth:`SmsChannel.send`):
Twilio's REST API (:mod:`.send`). Delivery reports (``POST /twilio/status``, signed) go to
``on_delivery_report``.

The adapter decides nothing about the conversation. It does two things at the channel's
edge: it stays silent after Twilio's own answer to an English opt-out word
(``twilio.provider_handles_opt_out``), and it keeps a per-number reply budget
(``sms.reply_budget``, :mod:`.budget`) so a loop with another bot cannot run up costs. Over
budget nothing is answered and ordinary messages are not passed on at all; opt-out and
opt-in words still reach the conversation, so they are recorded.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import ClassVar

from aiohttp import web
from multidict import MultiDictProxy

from bot.channels.base import Channel, ChannelCallbacks, DeliveryAttempt
from bot.channels.pacing import LOOP_TIMER, Timer
from bot.channels.sms.budget import ReplyBudget
from bot.channels.sms.capabilities import SMS_CAPABILITIES, fold_for, measure, sms_capabilities
from bot.channels.sms.keywords import KeywordAction
from bot.channels.sms.render import render_sms_parts
from bot.channels.sms.send import OPTED_OUT_CODES, TwilioRest, map_send_error, message_params
from bot.channels.sms.webhook import SMS_PATH, STATUS_PATH, parse_sms, twiml
from bot.channels.twilio.numbers import is_whatsapp
from bot.channels.twilio.signed import SignedWebhooks
from bot.channels.twilio.status import report_status
from bot.config import Config
from bot.errors import (
    ChannelUnavailable,
    ConfigError,
    MalformedWebhook,
    PermanentSendError,
    SendError,
    StorageError,
)
from bot.messages import Address, Reply
from bot.privacy import address_hash
from bot.routes import Route

logger = logging.getLogger(__name__)

FormHandler = Callable[[MultiDictProxy[str]], Awaitable[web.StreamResponse]]
"""Answers a signed Twilio form (another channel's messages that reach this route)."""


class SmsChannel(Channel):
    """Twilio SMS: signed webhooks with TwiML replies, REST sends, delivery callbacks.

    Lifecycle: construct from the config, mount :meth:`routes` on the web server, then
    ``await start(callbacks)`` inside the running loop (or ``await open()`` to only send),
    :meth:`send` as needed, ``await stop()``. Webhooks that arrive before ``start`` are
    answered 503.

    Args:
        config: the whole configuration (uses ``twilio``, ``sms`` and ``server``).
        request_timeout: seconds a REST send may take in all. When it runs out before the
            request went out, the send failed (``ChannelUnavailable``); after, its outcome
            is unknown (``OutcomeUnknown``).
        clock: monotonic seconds, for the reply budget (tests pass a fake).
        now: the current time for ``Inbound.received_at`` (tests pass a fake).
        timer: for pacing sends (tests pass a fake).

    Raises:
        ConfigError: ``twilio.account_sid`` or ``twilio.auth_token`` is not set.
    """

    name: ClassVar[str] = "sms"
    capabilities = SMS_CAPABILITIES

    def __init__(
        self,
        config: Config,
        *,
        request_timeout: float = 15.0,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        timer: Timer = LOOP_TIMER,
    ) -> None:
        twilio = config.twilio
        if not twilio.account_sid or not twilio.auth_token:
            raise ConfigError(
                "twilio.account_sid and twilio.auth_token must be set to use the SMS channel"
            )
        super().__init__(sms_capabilities(config), timer=timer)
        self._from_number = twilio.from_number
        self._messaging_service_sid = twilio.messaging_service_sid
        self._provider_handles_opt_out = twilio.provider_handles_opt_out
        self._webhooks = SignedWebhooks(
            config.server.public_url,
            twilio.auth_token,
            max_body_bytes=config.server.max_body_bytes,
            paths=(SMS_PATH, STATUS_PATH),
        )
        self._public_url = self._webhooks.public_url
        self._default_region = twilio.default_region
        self._plain_http = config.server.public_url_is_plain_http()
        self._whatsapp: FormHandler | None = None
        self._fold: dict[str, bool] = dict(config.sms.fold_accents)
        self._segment_budget = config.sms.segment_budget
        self._budget = ReplyBudget(
            replies=config.sms.reply_budget.replies,
            window_seconds=config.sms.reply_budget.window_minutes * 60.0,
            clock=clock,
        )
        self._rest = TwilioRest(
            twilio.account_sid,
            twilio.auth_token,
            api_base_url=twilio.api_base_url,
            request_timeout=request_timeout,
        )
        self._now = now
        self._over_budget_nodes: set[str] = set()

    def hand_whatsapp_to(self, handler: FormHandler) -> None:
        """Pass signed forms from ``whatsapp:`` senders to ``handler`` (the WhatsApp channel).

        Until one is set such messages get no answer: they are not SMS, and answering them as
        SMS would make a WhatsApp user an SMS contact.
        """
        self._whatsapp = handler

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self, callbacks: ChannelCallbacks) -> None:
        """Keep ``callbacks`` and create the async Twilio REST client (needs a running loop)."""
        self._callbacks = callbacks
        await self.open()

    async def open(self) -> None:
        """Create the REST client, to send without receiving."""
        self._rest.open()
        if self._public_url is None:
            self._webhooks.say_no_public_url()
        elif self._plain_http:
            logger.warning(
                "server.public_url is http://, not https://: Twilio signs the exact address "
                "it posts to, so webhooks sent to the https address will not match their "
                "signatures and are refused with 403 (and plain http carries messages "
                "unencrypted); set the https address"
            )
        if not self._from_number and not self._messaging_service_sid:
            logger.warning(
                "SMS channel: neither twilio.from_number nor twilio.messaging_service_sid is "
                "set; webhook replies work, sending outside a webhook (broadcasts) will fail"
            )

    async def stop(self) -> None:
        """Close the REST client's connections. Safe to call twice."""
        await self._rest.close()

    def routes(self) -> Sequence[Route]:
        """``POST /twilio/sms`` (incoming messages) and ``POST /twilio/status`` (delivery)."""
        return (
            Route("POST", SMS_PATH, self._handle_sms),
            Route("POST", STATUS_PATH, self._handle_status),
        )

    # -- sending (see Channel.send) ----------------------------------------------------------

    async def _prepare(self, address: Address) -> None:
        """Refuse before anything is rendered when the channel cannot send at all.

        Raises:
            ChannelUnavailable: not started (or opened).
            PermanentSendError: no ``twilio.from_number`` or ``twilio.messaging_service_sid``.
        """
        if not self._rest.ready:
            raise ChannelUnavailable("the SMS channel is not started")
        if not self._from_number and not self._messaging_service_sid:
            raise PermanentSendError(
                "set twilio.from_number or twilio.messaging_service_sid to send SMS"
            )

    def _render(self, reply: Reply) -> Sequence[str]:
        """The SMS bodies (at most 1,600 characters each) that show ``reply``."""
        return _rendered(reply, fold_for(self._fold, reply.locale))[0]

    def _units(self, parts: Sequence[str]) -> float:
        """SMS segments in all: what ``twilio.segments_per_second`` counts."""
        return float(measure(parts)[1])

    async def _deliver(self, address: Address, part: str, attempt: DeliveryAttempt) -> str:
        """Create one message; Twilio reports on it later at ``/twilio/status``."""
        status_callback = self._public_url + STATUS_PATH if self._public_url else None
        params = message_params(
            address,
            part,
            from_number=self._from_number,
            messaging_service_sid=self._messaging_service_sid,
            status_callback=status_callback,
        )
        return await self._rest.create(attempt, params)

    def _map_error(self, error: Exception, attempt: DeliveryAttempt) -> SendError | None:
        """Twilio's REST errors and transport failures as send errors (see :mod:`.send`)."""
        return map_send_error(error, attempt)

    # -- inbound -----------------------------------------------------------------------------

    async def _handle_sms(self, request: web.Request) -> web.StreamResponse:
        form = await self._webhooks.form(request)
        if isinstance(form, web.Response):
            return form
        if is_whatsapp(form.get("From") or ""):
            if self._whatsapp is None:
                logger.warning("a WhatsApp message reached %s; twilio.whatsapp is off", SMS_PATH)
                return _twiml_response(())
            return await self._whatsapp(form)
        try:
            parsed = parse_sms(form, received_at=self._now(), default_region=self._default_region)
        except MalformedWebhook:
            return _status(400)
        callbacks = self._callbacks
        if callbacks is None or not callbacks.accepting():
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
            replies = await callbacks.on_inbound(inbound)
        except StorageError:
            return _status(503)  # not stored, so not acknowledged (logged where it failed)
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
        bodies = self._reply_bodies(replies)
        if bodies:
            self._budget.spend(key)
        return _twiml_response(bodies)

    async def _handle_status(self, request: web.Request) -> web.StreamResponse:
        form = await self._webhooks.form(request)
        if isinstance(form, web.Response):
            return form
        return await report_status(
            form,
            channel=self.name,
            label=self.label,
            opted_out_codes=OPTED_OUT_CODES,
            callbacks=self._callbacks,
        )

    def _reply_bodies(self, replies: Sequence[Reply]) -> list[str]:
        bodies: list[str] = []
        for reply in replies:
            parts, segments = _rendered(reply, fold_for(self._fold, reply.locale))
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


@functools.lru_cache(maxsize=512)
def _rendered(reply: Reply, fold_accents: bool) -> tuple[tuple[str, ...], int]:
    """The SMS bodies for ``reply`` and their segments in all.

    Replies repeat (every page is the same text for everyone reading it in one language), and
    laying one out costs several whole-text segment counts, so results are kept. A reply's
    ``node`` is not part of its equality, and rendering does not read it.
    """
    parts = tuple(render_sms_parts(reply, fold_accents=fold_accents))
    return parts, measure(parts)[1]


def _status(status: int) -> web.Response:
    return web.Response(status=status)


def _twiml_response(bodies: Sequence[str]) -> web.Response:
    return web.Response(text=twiml(bodies), content_type="text/xml")


__all__ = ["SMS_PATH", "STATUS_PATH", "SmsChannel"]
