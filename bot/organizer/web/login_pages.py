"""The login link's page, the POST that logs in, and logging out.

Opening a link (``GET /console/login/TOKEN``) only shows a button: a link preview or a
prefetch cannot use the link up. The button POSTs the token; a good one gives a session
cookie, anything else the plain refusal.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from bot.organizer.web import texts as T
from bot.organizer.web.guard import Guard, Visit
from bot.organizer.web.logins import LOGIN_PATH, Logins
from bot.organizer.web.pages import Pages
from bot.routes import Route


@dataclass(frozen=True, slots=True)
class LoginPages:
    """Logging in with a link, and out.

    Attributes:
        logins: links and sessions.
        guard: the session cookie.
        pages: renders the templates.
    """

    logins: Logins
    guard: Guard
    pages: Pages

    def routes(self) -> list[Route]:
        """The routes these pages answer."""
        return [
            Route("GET", LOGIN_PATH + "{token}", self.link),
            Route("POST", "/console/login", self.log_in),
            Route("POST", "/console/logout", self.guard.guarded(self.log_out)),
        ]

    async def link(self, request: web.Request) -> web.StreamResponse:
        """The page a link opens: a button to log in (the link stays unused until pressed)."""
        words = self.pages.words(request)
        token = request.match_info["token"]
        if not token or len(token) > 128:
            return self.pages.refusal(words)
        return self.pages.render("login.html", words, token=token)

    async def log_in(self, request: web.Request) -> web.StreamResponse:
        """Use the link's token: a session cookie and the console, or the plain refusal."""
        words = self.pages.words(request)
        form = await request.post()
        token = form.get("token")
        result = await self.logins.log_in(token if isinstance(token, str) else "")
        if result is None:
            return self.pages.refusal(words)
        _organizer, session = result
        response = web.Response(status=303, headers={"Location": "/console/broadcasts"})
        self.guard.set_session(response, session, request)
        return response

    async def log_out(self, request: web.Request, visit: Visit) -> web.StreamResponse:
        """End the session and clear the cookie."""
        await self.logins.log_out(visit.session, visit.organizer)
        response = self.pages.message(visit.words, visit.words(T.LOGGED_OUT), status=200)
        self.guard.clear_session(response)
        return response
