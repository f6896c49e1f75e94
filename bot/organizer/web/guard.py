"""Who is asking: the session cookie, the CSRF check on every POST, and the refusal.

Every console page but the login link's goes through :func:`guarded`: without a live
session of an allow-listed organizer the answer is the plain refusal page (403) and
nothing else; a POST also needs the session's CSRF token (a form field, or the
``X-CSRF-Token`` header for the page's own requests).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final

from aiohttp import web

from bot.broadcast.words import Words
from bot.organizer.web import csrf
from bot.organizer.web.csrf import Csrf
from bot.organizer.web.logins import Logins
from bot.organizer.web.pages import Pages
from bot.routes import Handler

COOKIE: Final = "kyrbot_console"
"""The session cookie's name."""


@dataclass(frozen=True, slots=True)
class Visit:
    """An organizer's request: who, in which language, and the token their forms carry."""

    organizer: int
    session: str
    words: Words
    csrf: str


VisitHandler = Callable[[web.Request, Visit], Awaitable[web.StreamResponse]]


@dataclass(frozen=True, slots=True)
class Guard:
    """Lets only logged-in organizers through to a page.

    Attributes:
        logins: the sessions.
        csrf: the CSRF tokens.
        pages: for the refusal page and the reader's language.
        secure_cookies: mark the cookie ``Secure`` (the console is reached over https).
    """

    logins: Logins
    csrf: Csrf
    pages: Pages
    secure_cookies: bool

    def guarded(self, handler: VisitHandler) -> Handler:
        """``handler`` behind the session check (and the CSRF check on POST)."""

        async def check(request: web.Request) -> web.StreamResponse:
            words = self.pages.words(request)
            session = request.cookies.get(COOKIE)
            organizer = await self.logins.session(session)
            if organizer is None or session is None:
                return self.pages.refusal(words)
            if request.method == "POST":
                given = request.headers.get(csrf.HEADER)
                if given is None:
                    form = await request.post()
                    value = form.get(csrf.FIELD)
                    given = value if isinstance(value, str) else None
                if not self.csrf.valid(session, given):
                    return self.pages.refusal(words)
            visit = Visit(organizer, session, words, self.csrf.token(session))
            return await handler(request, visit)

        return check

    def set_session(
        self, response: web.StreamResponse, session: str, request: web.Request
    ) -> None:
        """Give the browser its session cookie (HttpOnly, SameSite=Strict, Secure on https)."""
        response.set_cookie(
            COOKIE,
            session,
            path="/console",
            httponly=True,
            samesite="Strict",
            secure=self.secure_cookies or request.secure,
        )

    def clear_session(self, response: web.StreamResponse) -> None:
        """Remove the session cookie."""
        response.del_cookie(COOKIE, path="/console")
