"""Test doubles for WhatsApp and voice: the real web server with those routes, signed posts.

:class:`TwilioHarness` serves the SMS, WhatsApp and voice routes of the real adapters on
127.0.0.1 (wired as :func:`bot.channels.registry.build_channels` wires them) and POSTs signed
webhooks to them as Twilio does. Numbers are fictional 555-01xx numbers.
"""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp

from bot.channels.base import ChannelCallbacks
from bot.channels.sms.adapter import SmsChannel
from bot.channels.voice.adapter import VoiceChannel
from bot.channels.whatsapp.adapter import WhatsAppChannel
from bot.config import Config, parse_config
from bot.web import WebServer, build_web_app
from tests.fakes.twilio_server import (
    FAKE_ACCOUNT_SID,
    FAKE_AUTH_TOKEN,
    FAKE_FROM_NUMBER,
    PUBLIC_URL,
    sign,
)
from tests.support.paths import ROOT

WHATSAPP_SENDER = "+15550100100"
TEMPLATE_ES = "HX" + "e5" * 16
HOTLINE = "+14145550142"


def twilio_config(
    api_base_url: str = "http://127.0.0.1:9",
    *,
    templates: Mapping[str, Any] | None = None,
    hotline: str = HOTLINE,
    **twilio: Any,
) -> Config:
    """SMS, WhatsApp and voice on one fake account, content from this checkout."""
    return parse_config(
        {
            "content": {
                "dialogs_dir": str(ROOT / "dialogs"),
                "locales_dir": str(ROOT / "locales"),
            },
            "server": {"public_url": PUBLIC_URL},
            "organization": {"hotline": hotline},
            "twilio": {
                "account_sid": FAKE_ACCOUNT_SID,
                "auth_token": FAKE_AUTH_TOKEN,
                "from_number": FAKE_FROM_NUMBER,
                "api_base_url": api_base_url,
                "whatsapp": {
                    "from_number": WHATSAPP_SENDER,
                    "templates": dict(
                        templates
                        if templates is not None
                        else {"es": {"content_sid": TEMPLATE_ES, "variable": "notice"}}
                    ),
                },
                "voice": {"enabled": True},
                **twilio,
            },
        }
    )


@dataclass
class Answer:
    """What Twilio got back from a webhook."""

    status: int
    text: str

    @property
    def root(self) -> ET.Element:
        return ET.fromstring(self.text.split("?>", 1)[1])

    @property
    def messages(self) -> list[str]:
        """The ``<Message>`` texts (what a WhatsApp user receives)."""
        return [element.text or "" for element in self.root.iter("Message")]

    @property
    def said(self) -> list[str]:
        """Everything ``<Say>`` reads, in order (inside the Gather too)."""
        return [element.text or "" for element in self.root.iter("Say")]

    @property
    def gather(self) -> ET.Element:
        [element] = self.root.iter("Gather")
        return element

    @property
    def dialed(self) -> list[str]:
        return [element.text or "" for element in self.root.iter("Dial")]


_sids = itertools.count(1)


class TwilioHarness:
    """The real web server with the SMS, WhatsApp and voice routes, and a signed client."""

    def __init__(
        self,
        config: Config,
        callbacks: ChannelCallbacks,
        *,
        words: Mapping[str, Mapping[str, str]],
        now: Any = None,
    ) -> None:
        self.config = config
        self.callbacks = callbacks
        clock = now or (lambda: datetime.now(UTC))
        self.sms = SmsChannel(config, now=clock)
        self.whatsapp = WhatsAppChannel(config, now=clock)
        self.sms.hand_whatsapp_to(self.whatsapp.handle_form)
        self.voice = VoiceChannel(config, words=words, now=clock)
        routes = [*self.sms.routes(), *self.whatsapp.routes(), *self.voice.routes()]
        self.server = WebServer(
            build_web_app(routes, max_body_bytes=config.server.max_body_bytes),
            host="127.0.0.1",
            port=0,
        )
        self.http: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> TwilioHarness:
        await self.server.start()
        for channel in (self.sms, self.whatsapp, self.voice):
            await channel.start(self.callbacks)
        self.http = aiohttp.ClientSession()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.http is not None:
            await self.http.close()
        for channel in (self.sms, self.whatsapp, self.voice):
            await channel.stop()
        await self.server.stop()

    async def post(self, path_qs: str, form: Mapping[str, str]) -> Answer:
        """POST ``form`` as Twilio does: signed over the public URL, path and query."""
        assert self.http is not None
        headers = {"X-Twilio-Signature": sign(PUBLIC_URL + path_qs, form)}
        url = f"http://127.0.0.1:{self.server.port}{path_qs}"
        async with self.http.post(url, data=dict(form), headers=headers) as response:
            return Answer(response.status, await response.text())

    async def whatsapp_message(
        self, body: str, *, sender: str, path: str = "/twilio/whatsapp", **extra: str
    ) -> Answer:
        form = {
            "MessageSid": f"SMwa{next(_sids):08d}",
            "AccountSid": FAKE_ACCOUNT_SID,
            "From": f"whatsapp:{sender}",
            "To": f"whatsapp:{WHATSAPP_SENDER}",
            "Body": body,
            "NumMedia": "0",
            **extra,
        }
        return await self.post(path, form)

    def call_form(self, caller: str, call_sid: str, **extra: str) -> dict[str, str]:
        return {
            "CallSid": call_sid,
            "AccountSid": FAKE_ACCOUNT_SID,
            "From": caller,
            "To": FAKE_FROM_NUMBER,
            "CallStatus": "in-progress",
            "Direction": "inbound",
            **extra,
        }

    async def call(self, caller: str, call_sid: str) -> Answer:
        return await self.post("/twilio/voice", self.call_form(caller, call_sid))

    async def press(self, previous: Answer, caller: str, call_sid: str, **fields: str) -> Answer:
        """Answer the last Gather: post to its action URL with ``Digits`` or ``SpeechResult``."""
        action = previous.gather.get("action") or ""
        assert action.startswith(PUBLIC_URL)
        return await self.post(
            action[len(PUBLIC_URL) :], self.call_form(caller, call_sid, **fields)
        )
