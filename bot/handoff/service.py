"""The handoff service: opens tickets, relays both ways, and keeps volunteers from the person.

It plugs into the conversation as its :class:`~bot.conversation.hooks.ConversationHooks`
(inside each contact's lock, after dedup) and into the volunteers' group as its desk
handler. While a contact has an open ticket, their messages go to the group instead of the
engine, except:

* the menu words and the end words (``handoff:end_words``: "salir", "exit"...), any channel
  command (``/start``, SMS STOP...) and any button press end the ticket, and the
  conversation answers them as usual;
* the forget-me words close the ticket and the conversation erases the contact (the ticket
  row goes with it);
* the emergency words do both: the bot shows its emergency page at once (the hotline and what
  to do, without waiting for a volunteer to read), and the word is relayed, flagged, with the
  ticket kept open, so the volunteer knows and can go on helping.

Nothing here logs or stores a relayed text; the group sees a ticket id, the language, the
channel's name and the page the person came from, never an address or a chat id.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta

from bot.channels.capabilities import Capabilities
from bot.channels.desk import VolunteerMessage
from bot.config import Config
from bot.content.strings import Text
from bot.conversation.hooks import PersonRequest, TakeOver
from bot.conversation.matching import normalize
from bot.conversation.service import ConversationService
from bot.conversation.state import Line, ReplyPlan
from bot.handoff import texts as T
from bot.handoff.commands import Answer, Close, ListTickets, Usage, parse
from bot.handoff.hours import OfficeHours
from bot.handoff.relay import Delivery, RelaySender
from bot.handoff.tickets import header_values, new_ticket_id
from bot.messages import Inbound, InboundKind, Reply
from bot.storage.base import Storage
from bot.storage.models import Contact, Ticket

logger = logging.getLogger(__name__)

_ID_ATTEMPTS = 8


def _utcnow() -> datetime:
    return datetime.now(UTC)


class HandoffService:
    """Tickets between people and the volunteers' group (see the module docstring).

    Args:
        storage: where tickets are kept.
        config: ``handoff.*``, ``default_locale``.
        conversation: for the content (commands, catalogs) and its renderer.
        sender: how texts leave (:class:`~bot.handoff.relay.RelaySender`); None while no
            volunteers' group is configured: asking for a person then gives the numbers.
        capabilities: each channel's capabilities by name (which can hold a written chat).
        clock: the wall clock (tests pass a fake's ``utcnow``).
        ticket_ids: makes new ticket ids.
    """

    def __init__(
        self,
        *,
        storage: Storage,
        config: Config,
        conversation: ConversationService,
        sender: RelaySender | None,
        capabilities: Mapping[str, Capabilities],
        clock: Callable[[], datetime] = _utcnow,
        ticket_ids: Callable[[], str] = new_ticket_id,
    ) -> None:
        self._storage = storage
        self._conversation = conversation
        self._sender = sender
        self._capabilities = dict(capabilities)
        self._clock = clock
        self._ticket_ids = ticket_ids
        self._hours = OfficeHours.from_config(config.handoff)
        self._idle = timedelta(minutes=config.handoff.idle_minutes)
        self._group_locale = config.default_locale
        self._retry_minutes = f"{config.outbox.reply_retry_minutes:g}"

    # -- the conversation's hooks --------------------------------------------------------

    async def take_over(self, contact: Contact, inbound: Inbound) -> TakeOver | None:
        """Relay the message if the contact has an open ticket (see the module docstring)."""
        if self._sender is None:
            return None
        ticket = await self._storage.open_ticket_of(contact.id)
        if ticket is None:
            return None
        now = inbound.received_at
        meaning = self._meaning(inbound)
        if meaning == "forget":
            await self._close(ticket, "forgotten", now, group=T.FORGOTTEN)
            return None
        if meaning == "end":
            await self._close(ticket, "person", now, group=T.CLOSED_PERSON)
            return TakeOver(False, (self._person_reply(T.LEFT, ticket.locale),))
        if inbound.kind is InboundKind.MEDIA:
            await self._relay(ticket, inbound.text or self._group_text(T.MEDIA), now)
            return TakeOver(True, (self._person_reply(T.TEXT_ONLY, ticket.locale),))
        if meaning == "emergency":
            await self._relay(ticket, f"{self._group_text(T.EMERGENCY)}\n{inbound.text}", now)
            return None  # the engine shows the emergency page; the ticket stays open
        await self._relay(ticket, inbound.text, now)
        return TakeOver(True)

    async def person_requested(
        self, request: PersonRequest, replies: Sequence[Reply]
    ) -> Sequence[Reply]:
        """Open a ticket when someone is on duty; otherwise say so and give the numbers."""
        contact, locale = request.contact, request.locale
        capabilities = self._capabilities.get(contact.address.channel)
        if capabilities is not None and not capabilities.text_handoff:
            return self._instead(replies, T.CALL_HOTLINE, locale)
        if self._sender is None:
            return self._instead(replies, T.UNAVAILABLE, locale)
        if not self._hours.on_duty(request.now):
            hours = self._hours.describe(locale) or self._text(T.HOURS_UNKNOWN, locale)
            return self._instead(replies, T.OFF_DUTY, locale, hours=hours)
        ticket = await self._open(contact, locale, _came_from(request.pages), request.now)
        if ticket is None:
            return self._instead(replies, T.NOT_DELIVERED, locale)
        await self._sender.send_to_group(
            f"{self._header(ticket)}\n{self._group_text(T.NEW_TICKET, ticket=ticket.id)}"
        )
        logger.info("Ticket opened (%s)", contact.address.channel)
        return [*replies, self._person_reply(T.ON_DUTY, locale)]

    # -- the volunteers' desk ------------------------------------------------------------

    async def on_volunteer(self, message: VolunteerMessage) -> None:
        """Act on one volunteer's message in the group (see :func:`.commands.parse`)."""
        command = parse(message)
        if isinstance(command, ListTickets):
            await self._list()
        elif isinstance(command, Close):
            await self._volunteer_close(command.ticket, message.volunteer)
        elif isinstance(command, Answer):
            await self._answer(command, message.volunteer)
        elif isinstance(command, Usage):
            await self._to_group(self._group_text(T.USAGE))

    async def relay_lost(self, contact_id: int) -> None:
        """Tell a person their message did not reach the volunteers (the group send failed)."""
        ticket = await self._storage.open_ticket_of(contact_id)
        if ticket is not None:
            await self._tell_person(ticket, T.NOT_DELIVERED)

    async def close_idle(self) -> int:
        """Close tickets nobody wrote in for ``handoff.idle_minutes``, telling the person."""
        now = self._clock()
        closed = 0
        for ticket in await self._storage.idle_tickets(before=now - self._idle):
            minutes = str(int(self._idle.total_seconds() // 60))
            if await self._close(ticket, "idle", now, group=T.CLOSED_IDLE_GROUP, minutes=minutes):
                await self._tell_person(ticket, T.CLOSED_IDLE)
                closed += 1
        return closed

    # -- internals -----------------------------------------------------------------------

    async def _answer(self, command: Answer, volunteer: str) -> None:
        assert self._sender is not None
        now = self._clock()
        ticket = await self._storage.get_ticket(command.ticket)
        if ticket is None or ticket.closed_at is not None:
            await self._to_group(self._group_text(T.UNKNOWN, ticket=command.ticket))
            return
        if ticket.claimed_by not in (None, volunteer):
            await self._claimed(ticket.id, volunteer)
            return
        template = self._text(T.VOLUNTEER_SAYS, ticket.locale)
        text = template.replace("{text}", command.text)
        claimed: Ticket | None = ticket
        if ticket.claimed_by is None:  # the first answer: exactly one volunteer wins it
            claimed = await self._storage.claim_ticket(ticket.id, volunteer, now)
        if claimed is None or claimed.claimed_by != volunteer:
            await self._claimed(ticket.id, volunteer)
            return
        delivery = await self._sender.send_to_person(ticket.contact_id, text)
        if delivery is Delivery.TOO_LONG:
            units, limit = self._units(ticket, text)
            await self._to_group(self._group_text(T.TOO_LONG, units=units, limit=limit))
            return
        if delivery is Delivery.FAILED:
            await self._to_group(self._group_text(T.NOT_SENT, ticket=ticket.id))
            return
        if delivery is Delivery.QUEUED:
            await self._to_group(
                self._group_text(T.QUEUED, ticket=ticket.id, minutes=self._retry_minutes)
            )
        await self._storage.count_ticket_message(ticket.id, to_person=True, now=now)
        await self._audit(volunteer, "handoff.answer", ticket.id, now)

    def _units(self, ticket: Ticket, text: str) -> tuple[str, str]:
        units = getattr(self._sender, "units", None)
        if units is None:
            return "?", "?"
        cost, limit = units(ticket.channel, text, ticket.locale)
        return str(int(cost)), str(int(limit)) if limit is not None else "?"

    async def _claimed(self, ticket_id: str, volunteer: str) -> None:
        await self._to_group(self._group_text(T.CLAIMED, ticket=ticket_id))
        await self._audit(volunteer, "handoff.refused_claimed", ticket_id, self._clock())

    async def _volunteer_close(self, ticket_id: str, volunteer: str) -> None:
        now = self._clock()
        ticket = await self._storage.get_ticket(ticket_id)
        if ticket is None or not await self._close(ticket, "volunteer", now, group=T.CLOSED):
            await self._to_group(self._group_text(T.UNKNOWN, ticket=ticket_id))
            return
        await self._tell_person(ticket, T.CLOSED_BY_VOLUNTEER)
        await self._audit(volunteer, "handoff.close", ticket.id, now)

    async def _list(self) -> None:
        tickets = await self._storage.open_tickets()
        if not tickets:
            await self._to_group(self._group_text(T.NO_TICKETS))
            return
        lines = [self._group_text(T.OPEN_TICKETS)]
        for ticket in tickets:
            who = ticket.claimed_by or self._group_text(T.NOBODY)
            lines.append(
                self._group_text(
                    T.TICKET_LINE,
                    header=self._header(ticket),
                    received=str(ticket.to_volunteers),
                    sent=str(ticket.to_person),
                    who=who,
                )
            )
        await self._to_group("\n".join(lines))

    async def _open(
        self, contact: Contact, locale: str, page: str | None, now: datetime
    ) -> Ticket | None:
        for _ in range(_ID_ATTEMPTS):
            ticket = await self._storage.open_ticket(
                ticket_id=self._ticket_ids(),
                contact_id=contact.id,
                channel=contact.address.channel,
                locale=locale,
                page=page,
                now=now,
            )
            if ticket is not None:
                return ticket
        logger.error("No free ticket id after %d tries", _ID_ATTEMPTS)
        return None

    async def _relay(self, ticket: Ticket, text: str, now: datetime) -> None:
        assert self._sender is not None
        # Queued first, so the group's send overlaps the count's write.
        await self._sender.send_to_group(
            f"{self._header(ticket)}\n{text}", on_behalf_of=ticket.contact_id
        )
        await self._storage.count_ticket_message(ticket.id, to_person=False, now=now)

    async def _close(
        self, ticket: Ticket, reason: str, now: datetime, *, group: Text, **values: str
    ) -> bool:
        if not await self._storage.close_ticket(ticket.id, reason=reason, now=now):
            return False
        await self._to_group(self._group_text(group, ticket=ticket.id, **values))
        logger.info("Ticket closed (%s)", reason)
        return True

    async def _tell_person(self, ticket: Ticket, text: Text) -> None:
        if self._sender is None:
            return
        reply = self._person_reply(text, ticket.locale)
        delivery = await self._sender.send_to_person(ticket.contact_id, reply.text)
        if delivery not in (Delivery.SENT, Delivery.QUEUED):
            logger.warning("A ticket's closing message could not be delivered")

    async def _to_group(self, text: str) -> None:
        if self._sender is not None:
            await self._sender.send_to_group(text)

    async def _audit(self, volunteer: str, action: str, ticket_id: str, now: datetime) -> None:
        await self._storage.add_audit(
            actor=volunteer, action=action, detail={"ticket": ticket_id}, now=now
        )

    def _meaning(self, inbound: Inbound) -> str:
        """``forget``, ``end``, ``emergency`` or ``relay`` for a message during a ticket."""
        if inbound.kind is InboundKind.COMMAND:
            return "forget" if inbound.command == "forget" else "end"
        if inbound.choice_id is not None:
            return "end"
        engine = self._conversation.content.engine
        normalized = normalize(inbound.text)
        command = engine.commands.command(inbound.text, normalized=normalized)
        if command == "forget":
            return "forget"
        if command == "menu" or normalized in self._end_words():
            return "end"
        if command == "emergency":
            return "emergency"
        return "relay"

    def _end_words(self) -> frozenset[str]:
        content = self._conversation.content
        words: set[str] = set()
        for locale in content.engine.locales:
            listed = content.translator.text(locale, T.END_WORDS)
            words.update(normalize(w) for w in listed.split(",") if w.strip())
        return frozenset(words)

    def _header(self, ticket: Ticket) -> str:
        capabilities = self._capabilities.get(ticket.channel)
        name = capabilities.display_name if capabilities is not None else ""
        values = header_values(ticket, name or ticket.channel, self._group_text(T.NO_PAGE))
        return self._group_text(T.HEADER, **values)

    def _text(self, text: Text, locale: str) -> str:
        return self._conversation.content.translator.text(locale, text)

    def _group_text(self, text: Text, **values: str) -> str:
        result = self._text(text, self._group_locale)
        for name, value in values.items():
            result = result.replace("{" + name + "}", value)
        return result

    def _person_reply(self, text: Text, locale: str, **values: str) -> Reply:
        plan = ReplyPlan((Line(text, values=tuple(values.items())),))
        return self._conversation.renderer.render(plan, locale)

    def _instead(
        self, replies: Sequence[Reply], text: Text, locale: str, **values: str
    ) -> list[Reply]:
        """The page's reply with ``text`` instead of its own (its choices stay)."""
        said = self._person_reply(text, locale, **values)
        if not replies:
            return [said]
        return [*replies[:-1], dataclasses.replace(replies[-1], text=said.text)]


def _came_from(pages: Sequence[str]) -> str | None:
    """The topic the person asked from: the last page that is not the person pages."""
    for page in reversed(pages):
        name = page.rsplit(".", 1)[-1]
        if name not in ("person", "volunteer", "menu", "menu_more", "menu_end"):
            return page
    return None
