"""Reading a Twilio webhook only when Twilio signed it: one guard for SMS, WhatsApp and voice.

The ``X-Twilio-Signature`` is checked against ``server.public_url`` + the request path and
query + every form field (never the Host header, so a TLS proxy in front does not break it).
"""

from __future__ import annotations

import logging
from typing import Final, cast

from aiohttp import web
from multidict import MultiDictProxy
from twilio.request_validator import RequestValidator

from bot.channels.sms.webhook import FORM_TYPE, SIGNATURE_HEADER, repeated_key, signature_ok

logger = logging.getLogger(__name__)

NO_PUBLIC_URL: Final = (
    "server.public_url is not set: Twilio webhooks cannot be verified, so every request to "
    "%s is refused with 403"
)


class SignedWebhooks:
    """Gives a webhook's form when Twilio signed it, or the 4xx response to answer instead.

    Args:
        public_url: ``server.public_url`` (``None``: nothing can be verified; all refused).
        auth_token: ``twilio.auth_token``, the signing key.
        max_body_bytes: ``server.max_body_bytes``.
        paths: the paths served, named in the log when ``public_url`` is missing.
    """

    def __init__(
        self,
        public_url: str | None,
        auth_token: str,
        *,
        max_body_bytes: int,
        paths: tuple[str, ...],
    ) -> None:
        self.public_url = public_url.rstrip("/") if public_url else None
        self._validator = RequestValidator(auth_token)
        self._max_body_bytes = max_body_bytes
        self._paths = paths
        self._said_no_public_url = False

    def say_no_public_url(self) -> None:
        """Log, once, that without ``server.public_url`` every webhook is refused."""
        if not self._said_no_public_url:
            self._said_no_public_url = True
            logger.error(NO_PUBLIC_URL, " and ".join(self._paths))

    async def form(self, request: web.Request) -> MultiDictProxy[str] | web.Response:
        """The request's form if Twilio signed it; otherwise the error response to give."""
        if self.public_url is None:
            self.say_no_public_url()
            return web.Response(status=403)
        if request.content_length is not None and request.content_length > self._max_body_bytes:
            return web.Response(status=413)
        if request.content_type != FORM_TYPE:  # Twilio only ever posts plain forms
            return web.Response(status=400)
        try:
            raw = await request.post()
        except web.HTTPRequestEntityTooLarge:
            return web.Response(status=413)
        except (ValueError, LookupError):  # undecodable bytes, an unknown charset...
            return web.Response(status=400)
        form = cast("MultiDictProxy[str]", raw)  # a urlencoded form holds only strings
        signature = request.headers.get(SIGNATURE_HEADER)
        url = self.public_url + request.raw_path
        if not signature or not signature_ok(self._validator, url, form, signature):
            logger.warning("refused a %s webhook with a missing or wrong signature", request.path)
            return web.Response(status=403)
        if repeated_key(form):  # signed over both values, so acting on one would be a guess
            logger.warning("refused a %s webhook that repeats a form field", request.path)
            return web.Response(status=400)
        return form
