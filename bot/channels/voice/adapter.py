"""The voice channel: Twilio's signed call webhooks in, TwiML that reads pages and listens out.

``POST /twilio/voice`` (a call comes in) asks for the language unless the caller is known,
then reads the page and its choices inside ``<Gather input="dtmf speech">``; the Gather posts
to ``POST /twilio/voice/gather``. Keys: 1-9 the choices, 0 the menu, * repeats, # the other
language; speech goes to the conversation as typed text would (so urgency words work). A page
in ``twilio.voice.dial_pages`` dials ``organization.hotline`` when it is a phone number.

No call is recorded and no transcript is kept: ``SpeechResult`` is passed to the conversation
and is never logged (the log names a caller only by :func:`~bot.privacy.address_hash`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import ClassVar, Final
from urllib.parse import urlencode

from aiohttp import web
from multidict import MultiDictProxy

from bot.channels.base import Channel, ChannelCallbacks, DeliveryAttempt
from bot.channels.twilio.numbers import sender_id
from bot.channels.twilio.signed import SignedWebhooks
from bot.channels.voice.capabilities import VOICE_CAPABILITIES
from bot.channels.voice.render import LANGUAGE_KEY, REPEAT_KEY, Spoken, speak
from bot.channels.voice.twiml import VoiceSettings, answer, goodbye
from bot.config import Config
from bot.errors import ConfigError, PermanentSendError, SendError
from bot.messages import Address, Inbound, InboundKind, Reply
from bot.phone_numbers import to_e164
from bot.privacy import address_hash
from bot.routes import Route

logger = logging.getLogger(__name__)

VOICE_PATH: Final = "/twilio/voice"
GATHER_PATH: Final = "/twilio/voice/gather"


class VoiceChannel(Channel):
    """Twilio Voice: signed call webhooks answered with TwiML; it never sends on its own.

    Args:
        config: the whole configuration (``twilio``, ``twilio.voice``, ``server``,
            ``organization.hotline``).
        words: what calls say besides pages, per locale (:func:`.words.translated`).
        now: the current time for ``Inbound.received_at`` (tests pass a fake).

    Raises:
        ConfigError: ``twilio.auth_token`` is not set (webhooks could not be verified).
    """

    name: ClassVar[str] = "voice"
    capabilities = VOICE_CAPABILITIES

    def __init__(
        self,
        config: Config,
        *,
        words: Mapping[str, Mapping[str, str]],
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        twilio = config.twilio
        if not twilio.auth_token:
            raise ConfigError("twilio.auth_token must be set to answer calls")
        super().__init__()
        voice = twilio.voice
        self._webhooks = SignedWebhooks(
            config.server.public_url,
            twilio.auth_token,
            max_body_bytes=config.server.max_body_bytes,
            paths=(VOICE_PATH, GATHER_PATH),
        )
        self._settings = VoiceSettings(
            voice.voices, voice.speech_languages, timeout=voice.gather_timeout
        )
        self._words = words
        self._default_locale = config.default_locale
        self._default_region = twilio.default_region
        self._dial_pages = frozenset(voice.dial_pages)
        self._hotline = to_e164(config.organization.hotline, twilio.default_region)
        self._now = now

    async def start(self, callbacks: ChannelCallbacks) -> None:
        """Keep ``callbacks``; calls are answered from then on."""
        self._callbacks = callbacks
        if self._webhooks.public_url is None:
            self._webhooks.say_no_public_url()

    async def stop(self) -> None:
        """Nothing to release."""
        self._callbacks = None

    def routes(self) -> Sequence[Route]:
        """``POST /twilio/voice`` (incoming call) and ``POST /twilio/voice/gather``."""
        return (
            Route("POST", VOICE_PATH, self._handle_call),
            Route("POST", GATHER_PATH, self._handle_gather),
        )

    # -- sending: a call cannot be started from a broadcast ----------------------------------

    def _render(self, reply: Reply) -> Sequence[Reply]:
        return (reply,)

    async def _deliver(self, address: Address, part: Reply, attempt: DeliveryAttempt) -> str:
        raise PermanentSendError("the voice channel only answers calls; it cannot send")

    def _map_error(self, error: Exception, attempt: DeliveryAttempt) -> SendError | None:
        return None

    # -- calls -------------------------------------------------------------------------------

    def _caller(self, form: MultiDictProxy[str]) -> Address | None:
        call = form.get("CallSid")
        raw = form.get("From") or ""
        if not call:
            return None
        number = to_e164(sender_id(raw, self._default_region), self._default_region)
        # A withheld or non-phone caller ("anonymous", "client:...") gets this call alone.
        return Address(self.name, number or f"call:{call}")

    async def _signed_call(
        self, request: web.Request
    ) -> tuple[MultiDictProxy[str], Address] | web.Response:
        """The signed form and the caller, or the 4xx response to give."""
        form = await self._webhooks.form(request)
        if isinstance(form, web.Response):
            return form
        address = self._caller(form)
        if address is None:
            return web.Response(status=400)
        return form, address

    async def _handle_call(self, request: web.Request) -> web.StreamResponse:
        signed = await self._signed_call(request)
        if isinstance(signed, web.Response):
            return signed
        _form, address = signed
        inbound = Inbound(address, "", self._now(), kind=InboundKind.COMMAND, command="start")
        return await self._converse(inbound, quiet=0)

    async def _handle_gather(self, request: web.Request) -> web.StreamResponse:
        signed = await self._signed_call(request)
        if isinstance(signed, web.Response):
            return signed
        form, address = signed
        digits = (form.get("Digits") or "").strip()
        speech = (form.get("SpeechResult") or "").strip()
        now = self._now()
        try:
            quiet = int(request.query.get("quiet", "0"))
        except ValueError:
            quiet = 0
        other = request.query.get("lang", "")
        if digits == LANGUAGE_KEY and other.isalpha():
            inbound = Inbound(address, "", now, choice_id=f"l:{other}")
        elif digits and digits != REPEAT_KEY:
            inbound = Inbound(address, digits, now)
        elif speech and not digits:
            inbound = Inbound(address, speech, now)
        else:
            # * or silence: the current page again (the conversation shows it for no text).
            silent = not digits
            if silent and quiet >= 1:
                locale = request.query.get("locale") or self._default_locale
                words = self._words.get(locale, {})
                text = goodbye(Spoken(locale, words.get("goodbye", "")), self._settings)
                return web.Response(text=text, content_type="text/xml")
            inbound = Inbound(address, "", now)
            return await self._converse(inbound, quiet=quiet + 1 if silent else 0, silent=silent)
        return await self._converse(inbound, quiet=0)

    async def _converse(
        self, inbound: Inbound, *, quiet: int, silent: bool = False
    ) -> web.StreamResponse:
        callbacks = self._callbacks
        if callbacks is None:
            return web.Response(status=503)
        try:
            replies = await callbacks.on_inbound(inbound)
        except Exception:
            logger.exception(
                "Call from %s: the conversation failed", address_hash(inbound.address)
            )
            return web.Response(status=500)
        speech = speak(replies, self._words, default_locale=self._default_locale)
        words = self._words.get(speech.locale, {})
        before = (Spoken(speech.locale, words.get("no_answer", "")),) if silent else ()
        dial: str | None = None
        dialing: Spoken | None = None
        if any(node in self._dial_pages for node in speech.nodes):
            if self._hotline is not None:
                dial = self._hotline
                dialing = Spoken(speech.locale, words.get("dialing", ""))
            else:
                before = (*before, Spoken(speech.locale, words.get("no_hotline", "")))
        query = {"quiet": str(quiet), "locale": speech.locale}
        if speech.language_choice:
            # Plain letters only: the URL is signed as Twilio calls it, so nothing to escape.
            query["lang"] = speech.language_choice.removeprefix("l:")
        action = f"{self._webhooks.public_url or ''}{GATHER_PATH}?{urlencode(query)}"
        text = answer(
            speech,
            action=action,
            settings=self._settings,
            before=tuple(s for s in before if s.text),
            dial=dial,
            dialing=dialing,
        )
        return web.Response(text=text, content_type="text/xml")


__all__ = ["GATHER_PATH", "VOICE_PATH", "VoiceChannel"]
