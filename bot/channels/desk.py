"""The seam the volunteers' desk uses on a channel: group messages in as data, texts out.

A channel that hosts the volunteers' group (Telegram) turns each message there into a
:class:`VolunteerMessage` and hands it to the :data:`DeskHandler` it was given; sending into
the group is :meth:`bot.channels.base.Channel.send` to :attr:`DeskHost.group`. Who counts as
a volunteer is decided by the host (an allow-list from config): anyone else's messages in the
group never reach the handler.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from bot.messages import Address


@dataclass(frozen=True, slots=True)
class VolunteerMessage:
    """One message an allow-listed volunteer wrote in the volunteers' group.

    Attributes:
        volunteer: who wrote it, as ``"<channel>:<user id>"`` (a volunteer, never a person).
        text: what they wrote (a command's payload for commands).
        command: the command's name without the slash (``"r"``, ``"close"``, ``"tickets"``).
        replied_to: the text of the bot's own message they replied to, if they replied to one.
    """

    volunteer: str
    text: str
    command: str | None = None
    replied_to: str | None = None


DeskHandler = Callable[[VolunteerMessage], Awaitable[None]]
"""Handles one volunteer's message; answers, if any, go out through the channel."""


@runtime_checkable
class DeskHost(Protocol):
    """A channel that hosts the volunteers' group."""

    @property
    def group(self) -> Address | None:
        """The group's address for :meth:`~bot.channels.base.Channel.send`; None: none set."""
        ...

    def attach_desk(self, handler: DeskHandler) -> None:
        """Hand every volunteer's message in the group to ``handler`` from now on."""
        ...
