"""The WhatsApp channel: Twilio's signed WhatsApp webhooks in, TwiML replies and REST sends out.

Inbound: ``POST /twilio/whatsapp`` (signed like SMS, :mod:`bot.channels.twilio.signed`), and
messages from ``whatsapp:`` senders that reach ``/twilio/sms`` (the SMS channel hands them
over). The form becomes an :class:`Inbound` (:mod:`.webhook`); the replies go back as TwiML
in the response, which Twilio sends inside the person's 24-hour window. Outbound
(:meth:`WhatsAppChannel.send`): Twilio's REST API with ``whatsapp:`` addresses, free-form text
or, for a :class:`~bot.channels.whatsapp.window.TemplateReply`, the approved template
(``ContentSid`` and ``ContentVariables``). Delivery reports: ``POST /twilio/whatsapp/status``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import ClassVar

from aiohttp import web
from multidict import MultiDictProxy

from bot.channels.base import Channel, ChannelCallbacks, DeliveryAttempt
from bot.channels.pacing import LOOP_TIMER, Timer
from bot.channels.sms.send import TwilioRest, map_send_error
from bot.channels.sms.webhook import twiml
from bot.channels.twilio.numbers import whatsapp_address
from bot.channels.twilio.signed import SignedWebhooks
from bot.channels.twilio.status import report_status
from bot.channels.whatsapp.capabilities import WHATSAPP_CAPABILITIES, whatsapp_capabilities
from bot.channels.whatsapp.errors import BLOCKED_CODES, whatsapp_send_error
from bot.channels.whatsapp.render import render_whatsapp_parts
from bot.channels.whatsapp.webhook import WHATSAPP_PATH, WHATSAPP_STATUS_PATH, parse_whatsapp
from bot.channels.whatsapp.window import TemplateReply, broadcast_form
from bot.channels.whatsapp.words import NOTICE
from bot.config import Config
from bot.errors import ChannelUnavailable, ConfigError, MalformedWebhook, SendError
from bot.messages import Address, Reply
from bot.privacy import address_hash
from bot.routes import Route

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TemplatePart:
    """One template message: the approved Content SID and its variables as JSON text."""

    content_sid: str
    variables: str


class WhatsAppChannel(Channel):
    """Twilio WhatsApp: signed webhooks with TwiML replies, REST sends, delivery callbacks.

    Lifecycle as :class:`~bot.channels.sms.adapter.SmsChannel`. Webhooks that arrive before
    ``start`` are answered 503.

    Args:
        config: the whole configuration (uses ``twilio``, ``twilio.whatsapp`` and ``server``).
        notices: per locale, the short notice a template carries when its variable is
            ``notice`` (:mod:`.words`); default: the English one.
        request_timeout: seconds a REST send may take in all.
        now: the current time for ``Inbound.received_at`` (tests pass a fake).
        timer: for pacing sends (tests pass a fake).

    Raises:
        ConfigError: credentials, or both ``twilio.whatsapp.from_number`` and
            ``messaging_service_sid``, are missing.
    """

    name: ClassVar[str] = "whatsapp"
    capabilities = WHATSAPP_CAPABILITIES

    def __init__(
        self,
        config: Config,
        *,
        notices: Mapping[str, str] | None = None,
        request_timeout: float = 15.0,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        timer: Timer = LOOP_TIMER,
    ) -> None:
        twilio = config.twilio
        settings = twilio.whatsapp
        if not twilio.account_sid or not twilio.auth_token:
            raise ConfigError("twilio.account_sid and twilio.auth_token must be set for WhatsApp")
        if not settings.from_number and not settings.messaging_service_sid:
            raise ConfigError(
                "set twilio.whatsapp.from_number (or messaging_service_sid) to use WhatsApp"
            )
        super().__init__(whatsapp_capabilities(config), timer=timer)
        self._from = whatsapp_address(settings.from_number) if settings.from_number else None
        self._service_sid = settings.messaging_service_sid
        self._default_region = twilio.default_region
        self._webhooks = SignedWebhooks(
            config.server.public_url,
            twilio.auth_token,
            max_body_bytes=config.server.max_body_bytes,
            paths=(WHATSAPP_PATH, WHATSAPP_STATUS_PATH),
        )
        self._rest = TwilioRest(
            twilio.account_sid,
            twilio.auth_token,
            api_base_url=twilio.api_base_url,
            request_timeout=request_timeout,
        )
        self._now = now
        self._templates = dict(settings.templates)
        self._window_hours = settings.window_hours
        self._notices = dict(notices or {}) or {"en": NOTICE.msgid}

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self, callbacks: ChannelCallbacks) -> None:
        """Keep ``callbacks`` and create the async Twilio REST client (needs a running loop)."""
        self._callbacks = callbacks
        await self.open()

    async def open(self) -> None:
        """Create the REST client, to send without receiving."""
        self._rest.open()
        if self._webhooks.public_url is None:
            self._webhooks.say_no_public_url()

    async def stop(self) -> None:
        """Close the REST client's connections. Safe to call twice."""
        await self._rest.close()

    def routes(self) -> Sequence[Route]:
        """``POST /twilio/whatsapp`` (messages) and ``POST /twilio/whatsapp/status``."""
        return (
            Route("POST", WHATSAPP_PATH, self._handle_request),
            Route("POST", WHATSAPP_STATUS_PATH, self._handle_status),
        )

    # -- sending (see Channel.send) ----------------------------------------------------------

    def broadcast_reply(
        self, reply: Reply, *, last_inbound_at: datetime | None, now: datetime
    ) -> Reply | None:
        """Free-form inside the 24-hour window; the locale's template outside; else None."""
        return broadcast_form(
            reply,
            last_inbound_at,
            now,
            self._templates,
            self._notices,
            hours=self._window_hours,
        )

    async def _prepare(self, address: Address) -> None:
        if not self._rest.ready:
            raise ChannelUnavailable("the WhatsApp channel is not started")

    def _render(self, reply: Reply) -> Sequence[str | TemplatePart]:
        """Free-form bodies (at most 1,600 characters each), or the one template message."""
        if isinstance(reply, TemplateReply):
            variables = json.dumps({"1": reply.variable}, ensure_ascii=False)
            return (TemplatePart(reply.content_sid, variables),)
        return render_whatsapp_parts(reply)

    async def _deliver(
        self, address: Address, part: str | TemplatePart, attempt: DeliveryAttempt
    ) -> str:
        params: dict[str, str] = {"to": whatsapp_address(address.id)}
        if self._service_sid:
            params["messaging_service_sid"] = self._service_sid
        if self._from:
            params["from_"] = self._from
        if isinstance(part, TemplatePart):
            # A template goes without Body: Twilio refuses a Body outside the window (63016).
            params["content_sid"] = part.content_sid
            params["content_variables"] = part.variables
        else:
            params["body"] = part
        public = self._webhooks.public_url
        if public:
            params["status_callback"] = public + WHATSAPP_STATUS_PATH
        return await self._rest.create(attempt, params)

    def _map_error(self, error: Exception, attempt: DeliveryAttempt) -> SendError | None:
        return map_send_error(error, attempt, whatsapp_send_error)

    # -- inbound -----------------------------------------------------------------------------

    async def _handle_request(self, request: web.Request) -> web.StreamResponse:
        form = await self._webhooks.form(request)
        if isinstance(form, web.Response):
            return form
        return await self.handle_form(form)

    async def handle_form(self, form: MultiDictProxy[str]) -> web.StreamResponse:
        """Answer one signed WhatsApp message form (also the SMS route's ``whatsapp:`` ones)."""
        try:
            inbound = parse_whatsapp(
                form, received_at=self._now(), default_region=self._default_region
            )
        except MalformedWebhook:
            return web.Response(status=400)
        callbacks = self._callbacks
        if callbacks is None:
            return web.Response(status=503)
        try:
            replies = await callbacks.on_inbound(inbound)
        except Exception:
            logger.exception(
                "WhatsApp from %s: the conversation service failed", address_hash(inbound.address)
            )
            return web.Response(status=500)
        bodies = [body for reply in replies for body in render_whatsapp_parts(reply)]
        return web.Response(text=twiml(bodies), content_type="text/xml")

    async def _handle_status(self, request: web.Request) -> web.StreamResponse:
        form = await self._webhooks.form(request)
        if isinstance(form, web.Response):
            return form
        return await report_status(
            form,
            channel=self.name,
            label=self.label,
            opted_out_codes=BLOCKED_CODES,
            callbacks=self._callbacks,
        )


__all__ = ["WHATSAPP_PATH", "WHATSAPP_STATUS_PATH", "WhatsAppChannel"]
