"""The console's broadcast pages: the list, writing a draft, its preview, send and cancel.

Everything goes through :class:`~bot.broadcast.service.BroadcastService`, the same service
``kyrbot broadcast`` and the Telegram console use, so the checks, the audit log and every
number (recipients, segments, cost, progress) are theirs; the wording of the preview and
of reports is :mod:`bot.organizer.reports`'.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from aiohttp import web

from bot.broadcast.drafts import FALLBACK_LOCALE
from bot.broadcast.service import BroadcastService, organizer_actor
from bot.broadcast.words import render_refusal
from bot.errors import BroadcastError
from bot.organizer.reports import format_preview_summary, format_report, preview_texts
from bot.organizer.web import texts as T
from bot.organizer.web.guard import Guard, Visit
from bot.organizer.web.pages import Pages
from bot.routes import Route
from bot.sms_text import MAX_MESSAGE_CHARS
from bot.storage.base import Broadcast, BroadcastStatus

_LIST_LIMIT = 50


@dataclass(frozen=True, slots=True)
class BroadcastPages:
    """The broadcast pages.

    Attributes:
        service: the broadcast service.
        guard: lets only organizers in.
        pages: renders the templates.
        wake: called after a broadcast starts, so this process's runner begins at once.
    """

    service: BroadcastService
    guard: Guard
    pages: Pages
    wake: Callable[[], None] | None = None

    def routes(self) -> list[Route]:
        """The routes these pages answer."""
        g = self.guard.guarded
        return [
            Route("GET", "/console/broadcasts", g(self.listing)),
            Route("GET", "/console/broadcasts/new", g(self.compose)),
            Route("POST", "/console/broadcasts", g(self.create)),
            Route("GET", r"/console/broadcasts/{id:\d+}", g(self.show)),
            Route("GET", r"/console/broadcasts/{id:\d+}/edit", g(self.compose)),
            Route("POST", r"/console/broadcasts/{id:\d+}/edit", g(self.create)),
            Route("POST", r"/console/broadcasts/{id:\d+}/send", g(self.send)),
            Route("POST", r"/console/broadcasts/{id:\d+}/cancel", g(self.cancel)),
        ]

    async def listing(self, _request: web.Request, visit: Visit) -> web.StreamResponse:
        """Recent broadcasts, newest first."""
        items = await self.service.recent(limit=_LIST_LIMIT)
        rows = [
            {
                "id": b.id,
                "status": visit.words.status(b.status),
                "when": visit.words.when(b.started_at or b.created_at),
                "snippet": _snippet(
                    b.texts.get(FALLBACK_LOCALE) or next(iter(b.texts.values()), "")
                ),
            }
            for b in items
        ]
        return self.pages.render(
            "broadcasts.html", visit.words, rows=rows, organizer=visit.organizer, csrf=visit.csrf
        )

    async def compose(self, request: web.Request, visit: Visit) -> web.StreamResponse:
        """The form: one text per configured language (an existing draft's, when editing)."""
        editing = await self._draft(request)
        texts = dict(editing.texts) if editing is not None else {}
        allow = editing.allow_fallback if editing is not None else False
        return self._compose_page(visit, texts, allow, editing, error=None, status=200)

    async def create(self, request: web.Request, visit: Visit) -> web.StreamResponse:
        """Save the draft (new, or the edited one) and show its preview; or say what is wrong."""
        editing = await self._draft(request)
        form = await request.post()
        texts = {
            locale: str(form.get(f"text_{locale}", "")).strip() for locale in self.service.locales
        }
        texts = {locale: text for locale, text in texts.items() if text}
        allow = form.get("allow_fallback") == "yes"
        actor = organizer_actor(telegram_user_id=visit.organizer)
        try:
            if editing is not None:
                saved = await self.service.edit(actor, editing.id, texts, allow_fallback=allow)
            else:
                saved = await self.service.create(actor, texts, allow_fallback=allow)
        except BroadcastError as exc:
            error = render_refusal(exc, visit.words)
            return self._compose_page(visit, texts, allow, editing, error=error, status=400)
        raise web.HTTPSeeOther(f"/console/broadcasts/{saved.id}")

    async def show(self, request: web.Request, visit: Visit) -> web.StreamResponse:
        """A draft's preview with the send confirmation, or a broadcast's progress and report."""
        broadcast = await self._broadcast(request)
        if broadcast.status == BroadcastStatus.DRAFT:
            return await self._preview_page(visit, broadcast, error=None, status=200)
        report = await self.service.report(broadcast.id)
        words = visit.words
        return self.pages.render(
            "progress.html",
            words,
            broadcast=broadcast,
            report_text=format_report(report, words),
            sending=broadcast.status == BroadcastStatus.SENDING,
            texts=[
                (words.language(loc, capital=True), text) for loc, text in broadcast.texts.items()
            ],
            organizer=visit.organizer,
            csrf=visit.csrf,
        )

    async def send(self, request: web.Request, visit: Visit) -> web.StreamResponse:
        """Start sending a draft, once the organizer ticked the confirmation."""
        broadcast = await self._broadcast(request)
        form = await request.post()
        if form.get("confirm") != "yes":
            return await self._preview_page(
                visit, broadcast, error=visit.words(T.MUST_CONFIRM), status=400
            )
        actor = organizer_actor(telegram_user_id=visit.organizer)
        try:
            await self.service.start(actor, broadcast.id)
        except BroadcastError as exc:
            return self.pages.message(visit.words, render_refusal(exc, visit.words), status=409)
        if self.wake is not None:
            self.wake()
        raise web.HTTPSeeOther(f"/console/broadcasts/{broadcast.id}")

    async def cancel(self, request: web.Request, visit: Visit) -> web.StreamResponse:
        """Cancel a draft, or stop a broadcast being sent."""
        broadcast = await self._broadcast(request)
        actor = organizer_actor(telegram_user_id=visit.organizer)
        try:
            await self.service.cancel(actor, broadcast.id)
        except BroadcastError as exc:
            return self.pages.message(visit.words, render_refusal(exc, visit.words), status=409)
        raise web.HTTPSeeOther(f"/console/broadcasts/{broadcast.id}")

    # -- helpers -----------------------------------------------------------------------------

    async def _broadcast(self, request: web.Request) -> Broadcast:
        try:
            return await self.service.get(int(request.match_info["id"]))
        except BroadcastError:
            raise web.HTTPNotFound() from None

    async def _draft(self, request: web.Request) -> Broadcast | None:
        if "id" not in request.match_info:
            return None
        broadcast = await self._broadcast(request)
        if broadcast.status != BroadcastStatus.DRAFT:
            raise web.HTTPSeeOther(f"/console/broadcasts/{broadcast.id}")
        return broadcast

    def _compose_page(
        self,
        visit: Visit,
        texts: Mapping[str, str],
        allow: bool,
        editing: Broadcast | None,
        *,
        error: str | None,
        status: int,
    ) -> web.Response:
        words = visit.words
        fields = [
            {
                "locale": locale,
                "label": words(T.TEXT_IN, language=words.language(locale)),
                "hint": None
                if locale == FALLBACK_LOCALE
                else words(T.OPTIONAL_TEXT, language=words.language(locale)),
                "text": texts.get(locale, ""),
            }
            for locale in self.service.locales
        ]
        action = "/console/broadcasts"
        if editing is not None:
            action = f"/console/broadcasts/{editing.id}/edit"
        return self.pages.render(
            "compose.html",
            words,
            status=status,
            fields=fields,
            allow_fallback=allow,
            action=action,
            error=error,
            limit=MAX_MESSAGE_CHARS,
            organizer=visit.organizer,
            csrf=visit.csrf,
        )

    async def _preview_page(
        self, visit: Visit, broadcast: Broadcast, *, error: str | None, status: int
    ) -> web.Response:
        words = visit.words
        preview = await self.service.preview(
            broadcast.id, actor=organizer_actor(telegram_user_id=visit.organizer)
        )
        audience = [
            {
                "channel": _channel_name(self.service, channel),
                "language": words.language(locale, capital=True),
                "people": words.number(count),
                "gets": words.language(preview.text_locale.get(locale, locale), capital=True),
            }
            for channel, by_locale in sorted(preview.audience.items())
            for locale, count in sorted(by_locale.items())
        ]
        return self.pages.render(
            "preview.html",
            words,
            status=status,
            broadcast=broadcast,
            summary=format_preview_summary(preview, words),
            arrivals=preview_texts(preview, words),
            audience=audience,
            total=words.number(preview.total),
            error=error,
            organizer=visit.organizer,
            csrf=visit.csrf,
        )


def _channel_name(service: BroadcastService, channel: str) -> str:
    capabilities = service.channels.get(channel)
    return capabilities.display_name if capabilities and capabilities.display_name else channel


def _snippet(text: str, length: int = 60) -> str:
    first = text.splitlines()[0] if text else ""
    return first if len(first) <= length else first[: length - 1] + "…"
