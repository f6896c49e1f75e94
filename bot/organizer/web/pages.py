"""Rendering console pages: Jinja2 templates, the reader's language, and safe headers.

Templates live under ``templates/`` in this package, static files under ``static/`` (both
installed as package data). Every text a template shows comes through :class:`Words`
(the catalogs), never as English in the template. Pages forbid framing and any script or
style not served from here (Content-Security-Policy), and are never cached.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from importlib import resources
from typing import Any, Final

import jinja2
from aiohttp import web

from bot.broadcast.words import Words
from bot.content.i18n import Translator
from bot.organizer.web import texts as T

SECURITY_HEADERS: Final[Mapping[str, str]] = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
"""On every console response: no framing, no third-party anything, no caching, no referrer."""

_STATIC_TYPES: Final = {".css": "text/css", ".js": "text/javascript", ".svg": "image/svg+xml"}


class Pages:
    """Renders templates in the reader's language.

    Args:
        translator: returns the current catalogs (content can be reloaded).
        default_locale: the language when the browser asks for none the bot has.
    """

    def __init__(self, translator: Callable[[], Translator], default_locale: str) -> None:
        self._translator = translator
        self._default_locale = default_locale
        self._env = jinja2.Environment(
            loader=jinja2.PackageLoader("bot.organizer.web", "templates"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self._static: dict[str, tuple[bytes, str]] = {}

    def words(self, request: web.Request) -> Words:
        """The console's words in the language the browser prefers (Accept-Language)."""
        translator = self._translator()
        header = request.headers.get("Accept-Language", "")
        for part in header.split(","):
            tag = part.split(";", 1)[0].strip()
            locale = translator.negotiate(tag) if tag else None
            if locale is not None:
                return Words(translator, locale)
        return Words(translator, self._default_locale)

    def render(self, name: str, words: Words, *, status: int = 200, **values: Any) -> web.Response:
        """The template ``name`` filled with ``values``, ``w`` (words) and ``T`` (texts)."""
        template = self._env.get_template(name)
        values.setdefault("organizer", None)
        values.setdefault("csrf", "")
        body = template.render(w=words, T=T, lang=words.locale.replace("_", "-"), **values)
        return web.Response(
            text=body, status=status, content_type="text/html", headers=SECURITY_HEADERS
        )

    def refusal(self, words: Words, *, status: int = 403) -> web.Response:
        """The plain refusal page: the same for every reason, and nothing else."""
        title, message = words(T.REFUSED_TITLE), words(T.REFUSED)
        return self.render("message.html", words, status=status, title=title, message=message)

    def message(self, words: Words, text: str, *, status: int) -> web.Response:
        """A page with one sentence (bad requests, missing pages, logged out)."""
        title = words(T.TITLE)
        return self.render("message.html", words, status=status, title=title, message=text)

    def static(self, name: str) -> web.Response:
        """A file from ``static/`` (only names that exist there), cached by the browser."""
        cached = self._static.get(name)
        if cached is None:
            suffix = name[name.rfind(".") :] if "." in name else ""
            kind = _STATIC_TYPES.get(suffix)
            if kind is None or "/" in name or name.startswith("."):
                raise web.HTTPNotFound()
            source = resources.files("bot.organizer.web").joinpath("static", name)
            if not source.is_file():
                raise web.HTTPNotFound()
            cached = (source.read_bytes(), kind)
            self._static[name] = cached
        body, kind = cached
        headers = {**SECURITY_HEADERS, "Cache-Control": "max-age=3600"}
        return web.Response(body=body, content_type=kind, headers=headers)
