"""The turn contract: each contact's messages numbered as stored, and handled in that order.

Store-then-process: a message takes the next number of its contact's sequence
(:meth:`TurnStore.take_turn`, one atomic write) as soon as it is accepted, and is handled
only once every lower number is done (:meth:`TurnStore.turn_done`). The numbers live with
the contact, so several instances on one database agree on the order: the order in which
the database stored the messages. No message text is stored, only the two counters.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from datetime import date

from bot.messages import Address


@dataclass(frozen=True, slots=True)
class Turn:
    """One message's place in its contact's sequence.

    Attributes:
        contact_id: whose (``contacts.id``).
        number: this message's number, from 1.
        done_before: the highest number handled when this one was taken.
    """

    contact_id: int
    number: int
    done_before: int

    @property
    def next_up(self) -> bool:
        """Whether every earlier message was handled when this turn was taken."""
        return self.done_before >= self.number - 1


class TurnStore(abc.ABC):
    """Per-contact message numbers: taken on arrival, marked done once handled."""

    shared: bool = True
    """Whether other instances may take turns on the same database (PostgreSQL). When not
    (a SQLite file or memory serves one instance), the conversation service's per-contact
    lock orders the messages by itself and needs no numbers."""

    @abc.abstractmethod
    async def take_turn(self, address: Address, today: date) -> Turn:
        """The next number for the contact at ``address`` (made, last seen ``today``, if new)."""

    @abc.abstractmethod
    async def turn_done(self, turn: Turn) -> None:
        """Mark ``turn`` handled (and every earlier one; a gone contact is ignored)."""

    @abc.abstractmethod
    async def turns_done(self, contact_id: int) -> int:
        """The highest number handled for the contact (0 if none, or it is gone)."""
