"""What the console's script asks the server while a page is open: estimates and progress.

``POST /console/estimate`` gives, for one language's text as typed, its SMS encoding,
segments and estimated cost, and how each channel would show it: computed by each
channel's own cost model (the SMS one is :mod:`bot.channels.sms.capabilities`, on
:mod:`bot.sms_text`, the arithmetic ``kyrbot check`` and the broadcast preview use), so the
script never counts anything itself. ``GET /console/broadcasts/ID/progress`` gives the
same counts as ``kyrbot broadcast status --json`` and the report's text.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from bot.broadcast.service import BroadcastService
from bot.channels.capabilities import SendUnit
from bot.errors import BroadcastError
from bot.organizer.reports import format_report, report_counts
from bot.organizer.web import texts as T
from bot.organizer.web.guard import Guard, Visit
from bot.routes import Route
from bot.sms_text import MAX_MESSAGE_CHARS
from bot.storage.base import BroadcastStatus

_MAX_ESTIMATE_BODY = 16 * 1024


@dataclass(frozen=True, slots=True)
class LiveNumbers:
    """The estimate and progress endpoints.

    Attributes:
        service: the broadcast service (its channels' cost models, its reports).
        guard: lets only organizers in (the estimate is a POST: it carries the CSRF header).
    """

    service: BroadcastService
    guard: Guard
    shown_channels: tuple[str, ...] = ()
    """The channels whose rendering is shown (the running ones); empty: all the service has."""

    def routes(self) -> list[Route]:
        """The routes these endpoints answer."""
        g = self.guard.guarded
        return [
            Route("POST", "/console/estimate", g(self.estimate)),
            Route("GET", r"/console/broadcasts/{id:\d+}/progress", g(self.progress)),
        ]

    async def estimate(self, request: web.Request, visit: Visit) -> web.StreamResponse:
        """One text's SMS numbers and its rendering on every channel, in the reader's words."""
        if (request.content_length or 0) > _MAX_ESTIMATE_BODY:
            return web.json_response({"error": "too large"}, status=413)
        try:
            data = json.loads(await request.text())
            locale = str(data["locale"])
            text = str(data["text"])
        except (ValueError, KeyError, TypeError):
            return web.json_response({"error": "expected {locale, text}"}, status=400)
        if locale not in self.service.locales:
            return web.json_response({"error": "unknown language"}, status=400)
        words = visit.words
        value = text.strip()
        answer: dict[str, Any] = {"locale": locale, "characters": len(value), "renderings": []}
        if not value:
            answer["summary"] = words(T.ESTIMATE_EMPTY)
            return web.json_response(answer)
        if len(value) > MAX_MESSAGE_CHARS:
            answer["summary"] = words(
                T.ESTIMATE_TOO_LONG,
                characters=words.number(len(value)),
                limit=words.number(MAX_MESSAGE_CHARS),
            )
            answer["too_long"] = True
            return web.json_response(answer)
        for name, capabilities in sorted(self.service.channels.items()):
            if self.shown_channels and name not in self.shown_channels:
                continue
            estimate = capabilities.costs.estimate(value, locale)
            if capabilities.send_unit is SendUnit.SEGMENTS and "segments" not in answer:
                answer["encoding"] = estimate.encoding or ""
                answer["segments"] = int(estimate.units)
                answer["cost"] = estimate.price
                answer["summary"] = words(
                    T.ESTIMATE,
                    encoding=estimate.encoding or "",
                    segments=words.number(int(estimate.units)),
                    characters=words.number(len(value)),
                    cost=words.money(estimate.price),
                )
            display = capabilities.display_name or name
            label = (
                words(T.AS_SMS)
                if capabilities.send_unit is SendUnit.SEGMENTS
                else words(T.AS_CHANNEL, channel=display)
            )
            answer["renderings"].append(
                {"channel": name, "label": label, "text": "\n\n".join(estimate.bodies)}
            )
        answer.setdefault("summary", "")
        return web.json_response(answer)

    async def progress(self, request: web.Request, visit: Visit) -> web.StreamResponse:
        """A broadcast's counts (as ``kyrbot broadcast status --json``) and its report text."""
        try:
            report = await self.service.report(int(request.match_info["id"]))
        except BroadcastError:
            raise web.HTTPNotFound() from None
        counts = report_counts(report)
        total = report.total
        counts["percent"] = round(100 * report.done / total) if total else 0
        counts["finished"] = report.broadcast.status != BroadcastStatus.SENDING
        counts["report_text"] = format_report(report, visit.words)
        return web.json_response(counts, headers={"Cache-Control": "no-store"})
