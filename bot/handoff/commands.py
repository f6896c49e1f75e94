"""What a volunteer's message in the group asks for: answer, close, list, or how to use it."""

from __future__ import annotations

from dataclasses import dataclass

from bot.channels.desk import VolunteerMessage
from bot.handoff.tickets import parse_ticket_id, ticket_id_of


@dataclass(frozen=True, slots=True)
class Answer:
    """Send ``text`` to the person of ticket ``ticket``."""

    ticket: str
    text: str


@dataclass(frozen=True, slots=True)
class Close:
    """End ticket ``ticket``."""

    ticket: str


@dataclass(frozen=True, slots=True)
class ListTickets:
    """Show the open tickets."""


@dataclass(frozen=True, slots=True)
class Usage:
    """Say how the desk is used (an unknown command, or a command missing its ticket)."""


@dataclass(frozen=True, slots=True)
class Ignore:
    """Group chatter among volunteers: no answer."""


VolunteerCommand = Answer | Close | ListTickets | Usage | Ignore


def parse(message: VolunteerMessage) -> VolunteerCommand:
    """What ``message`` asks for.

    * a reply to a relayed ticket message: its text is the answer to that ticket;
    * ``/r K7P text`` (also ``/reply``): the answer to ticket K7P;
    * ``/close K7P``, or ``/close`` in reply to a ticket message: close it;
    * ``/tickets``: list the open tickets;
    * other commands of the bot, or a command without a ticket: how to use the desk;
    * anything else (volunteers talking among themselves): ignored.
    """
    replied = ticket_id_of(message.replied_to) if message.replied_to else None
    command = message.command
    if command is None:
        if replied is not None and message.text.strip():
            return Answer(replied, message.text.strip())
        return Ignore()
    if command == "tickets":
        return ListTickets()
    first, _, rest = message.text.strip().partition(" ")
    named = parse_ticket_id(first) if first else None
    if command == "close":
        ticket = named or replied
        return Close(ticket) if ticket is not None else Usage()
    if command in ("r", "reply"):
        if named is not None and rest.strip():
            return Answer(named, rest.strip())
        if replied is not None and message.text.strip():
            return Answer(replied, message.text.strip())
        return Usage()
    return Usage()
