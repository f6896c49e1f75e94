"""The seam an operator console uses on a channel: plain events in, text with buttons out.

A channel that offers it (:meth:`bot.channels.base.Channel.console`) hands every update from
an allow-listed person in a private chat to the console first, as a :class:`ConsoleEvent`;
the console answers through :meth:`ConsoleHost.post` and :meth:`ConsoleHost.edit`, and says
whether the event was its own (then the conversation never sees it). Nothing here names a
platform's library types, so the console needs none.
"""

from __future__ import annotations

import abc
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Button:
    """One button under a console message: its label and the data a press carries back."""

    label: str
    data: str


Buttons = Sequence[Sequence[Button]]
"""Rows of buttons."""


@dataclass(frozen=True, slots=True)
class ConsoleEvent:
    """What an allow-listed person did in a private chat: a message, or a button press.

    Attributes:
        chat_id: the chat to answer in.
        user_id: who it was (the allow-listed id).
        language_code: the platform's language hint for that person, if any.
        text: a message's text; ``None`` for media or a button press.
        command: the message's leading ``/command`` for this bot, lower-cased, if any.
        payload: the text after the command.
        button: a pressed button's data; ``None`` for a message.
        message_id: the message the pressed button was on.
        message_has_buttons: that message still shows buttons.
    """

    chat_id: int
    user_id: int
    language_code: str | None = None
    text: str | None = None
    command: str | None = None
    payload: str = ""
    button: str | None = None
    message_id: int | None = None
    message_has_buttons: bool = False


ConsoleHandler = Callable[[ConsoleEvent], Awaitable[bool]]
"""Sees an event first; returns True when it was the console's (keep it from the conversation)."""


class ConsoleHost(abc.ABC):
    """What a channel offers an operator console: its events, and messages with buttons."""

    @abc.abstractmethod
    def add_console(self, handler: ConsoleHandler, *, users: Collection[int]) -> None:
        """Give ``handler`` the private-chat events of ``users`` before the conversation."""

    @abc.abstractmethod
    async def post(self, chat_id: int, text: str, buttons: Buttons = ()) -> int | None:
        """Send ``text`` (split if too long; buttons on the last part).

        Returns:
            The id of the (last) message sent, or ``None`` if it could not be sent (logged).
        """

    @abc.abstractmethod
    async def edit(self, chat_id: int, message_id: int, text: str, buttons: Buttons = ()) -> None:
        """Replace a message's text (its first part, if too long) and buttons; failures logged."""

    @abc.abstractmethod
    async def clear_buttons(self, chat_id: int, message_id: int) -> None:
        """Remove a message's buttons (so it cannot be pressed again); failures ignored."""
