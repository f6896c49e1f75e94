"""Test doubles for the SMS channel: a fake Twilio REST server, signing, a recording sink.

* :class:`FakeTwilioServer` serves ``POST /2010-04-01/Accounts/{sid}/Messages.json`` on
  127.0.0.1 for the real twilio client, records every request (and what it answered), and
  answers from a script of :class:`FakeResponse` (default: 201 with a message resource):
  21610, 429, 500, slow, lost...; per number too, and 21610 for every number in ``opted_out``.
* :class:`SmsHarness` runs the bot's real web server with the SMS routes and POSTs signed
  webhooks to it over HTTP, as Twilio does; :class:`RecordingSink` stands in for the
  conversation service.

Credentials here are obviously fake on purpose.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import time
import xml.etree.ElementTree as ET
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web
from twilio.request_validator import RequestValidator

from bot.channels.base import ChannelCallbacks
from bot.channels.sms.adapter import SmsChannel
from bot.config import Config, parse_config
from bot.messages import Address, Choice, DeliveryReport, Inbound, Reply
from bot.web import WebServer, build_web_app
from tests.fakes.callbacks import callbacks_of

FAKE_ACCOUNT_SID = "ACtest-account"
FAKE_AUTH_TOKEN = "test-auth-token-not-secret"
FAKE_FROM_NUMBER = "+15550000000"
FAKE_SERVICE_SID = "MGtest-service"


def sign(url: str, form: Mapping[str, str], *, token: str = FAKE_AUTH_TOKEN) -> str:
    """The ``X-Twilio-Signature`` Twilio would send for ``form`` posted to ``url``."""
    return str(RequestValidator(token).compute_signature(url, dict(form)))


@dataclass
class FakeResponse:
    """One scripted answer: HTTP status, JSON body (``None``: a message resource) and delay."""

    status: int = 201
    body: dict[str, Any] | str | None = None
    delay: float = 0.0
    lost: bool = False
    """Accept the message, then close the connection without answering: the client cannot
    know it went out (as after a timeout), however fast or slow the machine is."""


def twilio_error(code: int, *, status: int = 400, message: str = "error") -> FakeResponse:
    """A legacy-format Twilio error answer, as the REST API sends it."""
    return FakeResponse(
        status=status,
        body={
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        },
    )


@dataclass
class RecordedRequest:
    """What the client sent: the account in the path, the form fields and the basic auth."""

    account_sid: str
    form: dict[str, str]
    auth: tuple[str, str] | None
    status: int | None = None
    """The HTTP status answered (set once the answer is decided; 201: the message is out)."""
    sid: str | None = None
    """The message SID answered, for a 201."""
    at: float = field(default_factory=time.monotonic)
    """When the request arrived (by the server's ``clock``)."""


@dataclass
class FakeTwilioServer:
    """The fake REST server. ``await start()``; point ``twilio.api_base_url`` at ``base_url``."""

    requests: list[RecordedRequest] = field(default_factory=list)
    script: deque[FakeResponse] = field(default_factory=deque)
    opted_out: set[str] = field(default_factory=set)
    """Numbers that replied STOP: every message to them gets 21610, as Twilio does."""
    per_number: dict[str, deque[FakeResponse]] = field(default_factory=dict)
    """Scripted answers for one 'To' number, used before the shared script."""
    clock: Callable[[], float] = time.monotonic
    """What stamps each request (``at``); a test on a fake timer passes its clock."""
    whatsapp_window: set[str] | None = None
    """When set, the ``whatsapp:`` numbers inside their 24-hour window: a free-form ``Body``
    to any other WhatsApp number gets 63016, as Twilio answers."""
    approved_templates: set[str] = field(default_factory=set)
    """Content SIDs approved for WhatsApp; a ``ContentSid`` not among them gets 63027."""
    _runner: web.AppRunner | None = None
    _port: int = 0
    _counter: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _released: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    def enqueue(self, *responses: FakeResponse) -> None:
        """Answer the next requests with ``responses``, in order; then the default again."""
        self.script.extend(responses)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/2010-04-01/Accounts/{sid}/Messages.json", self._messages)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self._port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        self._released.set()  # lets slow answers finish at once
        if self._runner is not None:
            await self._runner.cleanup()

    async def _messages(self, request: web.Request) -> web.Response:
        form = {k: str(v) for k, v in (await request.post()).items()}
        recorded = RecordedRequest(
            account_sid=request.match_info["sid"],
            form=form,
            auth=_basic_auth(request.headers.get("Authorization")),
            at=self.clock(),
        )
        self.requests.append(recorded)
        to = form.get("To", "")
        whatsapp_refusal = self._whatsapp_refusal(form)
        if to in self.opted_out:
            answer = twilio_error(21610, message="Attempt to send to unsubscribed recipient")
        elif whatsapp_refusal is not None:
            answer = whatsapp_refusal
        elif self.per_number.get(to):
            answer = self.per_number[to].popleft()
        else:
            answer = self.script.popleft() if self.script else FakeResponse()
        recorded.status = answer.status
        body = answer.body
        if body is None:
            body = self._message_resource(request.match_info["sid"], form)
            recorded.sid = str(body["sid"])
        if answer.delay:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._released.wait(), answer.delay)
        text = body if isinstance(body, str) else json.dumps(body)
        if answer.lost:
            assert request.transport is not None
            request.transport.close()  # accepted, but the client never hears so
        return web.Response(status=answer.status, text=text, content_type="application/json")

    def _whatsapp_refusal(self, form: Mapping[str, str]) -> FakeResponse | None:
        """What Twilio refuses on WhatsApp: Body outside the window, a bad template."""
        if not form.get("To", "").startswith("whatsapp:"):
            return None
        sid = form.get("ContentSid")
        if sid is not None:
            if "Body" in form:  # a template goes without Body, or not at all
                return twilio_error(63016, message="Outside messaging window")
            if self.approved_templates and sid not in self.approved_templates:
                return twilio_error(63027, message="Template does not exist")
            try:
                variables = json.loads(form.get("ContentVariables") or "{}")
            except ValueError:
                variables = None
            if not isinstance(variables, dict):
                return twilio_error(21656, message="The ContentVariables Parameter is invalid")
            return None
        if self.whatsapp_window is not None and form["To"] not in self.whatsapp_window:
            return twilio_error(63016, message="Outside messaging window")
        return None

    def _message_resource(self, account_sid: str, form: Mapping[str, str]) -> dict[str, Any]:
        return {
            "sid": f"SMfake{next(self._counter):06d}",
            "account_sid": account_sid,
            "to": form.get("To"),
            "from": form.get("From"),
            "messaging_service_sid": form.get("MessagingServiceSid"),
            "body": form.get("Body"),
            "status": "accepted" if "MessagingServiceSid" in form else "queued",
            "num_segments": "1",
            "direction": "outbound-api",
            "api_version": "2010-04-01",
            "error_code": None,
            "error_message": None,
        }


def _basic_auth(header: str | None) -> tuple[str, str] | None:
    if not header or not header.startswith("Basic "):
        return None
    user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    return user, password


# -- the SMS side of the bot, served for real, with a recording sink -------------------------

PUBLIC_URL = "https://kyrbot.example.org"
"""What Twilio would call; deliberately not the 127.0.0.1 address the test server binds."""


def sms_config(
    *,
    public_url: str | None = PUBLIC_URL,
    api_base_url: str = "http://127.0.0.1:9",
    provider_handles_opt_out: bool = True,
    replies: int = 20,
    window_minutes: int = 10,
    fold_accents: Mapping[str, bool] | None = None,
    messaging_service: bool = False,
    segment_budget: int = 5,
) -> Config:
    """A config for the SMS channel with fake credentials and a REST URL on 127.0.0.1."""
    twilio: dict[str, Any] = {
        "account_sid": FAKE_ACCOUNT_SID,
        "auth_token": FAKE_AUTH_TOKEN,
        "api_base_url": api_base_url,
        "provider_handles_opt_out": provider_handles_opt_out,
    }
    if messaging_service:
        twilio["messaging_service_sid"] = FAKE_SERVICE_SID
    else:
        twilio["from_number"] = FAKE_FROM_NUMBER
    return parse_config(
        {
            "server": {"public_url": public_url},
            "twilio": twilio,
            "sms": {
                "segment_budget": segment_budget,
                "fold_accents": dict(fold_accents or {}),
                "reply_budget": {"replies": replies, "window_minutes": window_minutes},
            },
        }
    )


Responder = Callable[[Inbound], Sequence[Reply]]


def echo(inbound: Inbound) -> Sequence[Reply]:
    """A trivial engine stand-in: repeats what it got, with two choices."""
    return (
        Reply(
            text=f"{inbound.kind.value}:{inbound.command or ''}:{inbound.text}",
            choices=(Choice("a", "One"), Choice("b", "Two")),
            nav=(Choice("c:menu", "Menu"), Choice("c:lang", "Español")),
        ),
    )


@dataclass
class RecordingSink:
    """Stands in for the conversation: records every callback and answers with ``respond``.

    Like the real conversation service, it answers a repeated ``message_id`` with no replies.
    :attr:`callbacks` is what a channel is started with.
    """

    respond: Responder = echo
    fail: bool = False
    inbounds: list[Inbound] = field(default_factory=list)
    unreachable: list[tuple[Address, bool]] = field(default_factory=list)
    deliveries: list[tuple[str, str, str, str | None]] = field(default_factory=list)
    _seen: set[str] = field(default_factory=set)

    async def handle(self, inbound: Inbound) -> Sequence[Reply]:
        self.inbounds.append(inbound)
        if self.fail:
            raise RuntimeError("secret internal detail")
        if inbound.message_id is not None:
            if inbound.message_id in self._seen:
                return ()
            self._seen.add(inbound.message_id)
        return self.respond(inbound)

    async def contact_unreachable(self, address: Address, *, opted_out: bool) -> None:
        self.unreachable.append((address, opted_out))

    async def delivery_report(self, report: DeliveryReport) -> None:
        self.deliveries.append(
            (report.channel, report.provider_id, report.status, report.error_code)
        )

    @property
    def callbacks(self) -> ChannelCallbacks:
        return callbacks_of(self)


@dataclass
class WebhookAnswer:
    """What Twilio got back from a webhook: status, content type, and the TwiML messages."""

    status: int
    content_type: str
    text: str

    @property
    def messages(self) -> list[str]:
        """The ``<Message>`` texts, i.e. what the person receives; ``[]`` for silence."""
        root = ET.fromstring(self.text)
        assert root.tag == "Response"
        return [element.text or "" for element in root.iter("Message")]


class FakeClock:
    """Monotonic seconds that only move when a test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


_sids = itertools.count(1)


def new_message_sid() -> str:
    """A fresh, obviously fake MessageSid."""
    return f"SMtest{next(_sids):08d}"


class SmsHarness:
    """The real web server with the SMS routes on 127.0.0.1, plus an HTTP client to call it."""

    def __init__(
        self,
        config: Config,
        sink: RecordingSink | ChannelCallbacks | None = None,
        *,
        clock: FakeClock | None = None,
        start_channel: bool = True,
        request_timeout: float = 15.0,
    ) -> None:
        self.config = config
        if isinstance(sink, ChannelCallbacks):
            self.callbacks = sink
            self.sink = RecordingSink()  # unused: the callbacks go elsewhere
        else:
            self.sink = sink if sink is not None else RecordingSink()
            self.callbacks = self.sink.callbacks
        self.clock = clock if clock is not None else FakeClock()
        self.channel = SmsChannel(config, clock=self.clock, request_timeout=request_timeout)
        app = build_web_app(self.channel.routes(), max_body_bytes=config.server.max_body_bytes)
        self.server = WebServer(app, host="127.0.0.1", port=0)
        self._start_channel = start_channel
        self.http: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> SmsHarness:
        await self.server.start()
        if self._start_channel:
            await self.channel.start(self.callbacks)
        self.http = aiohttp.ClientSession()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.http is not None:
            await self.http.close()
        await self.channel.stop()
        await self.server.stop()

    def local_url(self, path_qs: str) -> str:
        return f"http://127.0.0.1:{self.server.port}{path_qs}"

    async def post(
        self,
        path_qs: str,
        form: Mapping[str, str] | None = None,
        *,
        signed_url: str | None = None,
        signature: str | None = None,
        sign_request: bool = True,
        data: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> WebhookAnswer:
        """POST to the server the way Twilio does: form-encoded and signed over the public URL.

        ``signed_url`` overrides the URL the signature is computed over (default: the
        configured public URL + ``path_qs``); ``signature`` overrides the header itself.
        """
        assert self.http is not None
        all_headers = dict(headers or {})
        if sign_request:
            if signature is None:
                public = self.config.server.public_url or PUBLIC_URL
                signature = sign(signed_url or public + path_qs, form or {})
            all_headers["X-Twilio-Signature"] = signature
        body: Any = data if data is not None else dict(form or {})
        if data is not None:
            all_headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        async with self.http.post(
            self.local_url(path_qs), data=body, headers=all_headers
        ) as response:
            return WebhookAnswer(
                status=response.status,
                content_type=response.content_type,
                text=await response.text(),
            )

    async def sms(
        self,
        body: str,
        *,
        sender: str = "+15551230001",
        message_sid: str | None = None,
        **extra: str,
    ) -> WebhookAnswer:
        """Deliver one incoming SMS as Twilio would, and return what Twilio got back."""
        form = {
            "MessageSid": message_sid or new_message_sid(),
            "AccountSid": FAKE_ACCOUNT_SID,
            "From": sender,
            "To": FAKE_FROM_NUMBER,
            "Body": body,
            "NumMedia": "0",
            "NumSegments": "1",
            **extra,
        }
        return await self.post("/twilio/sms", form)
