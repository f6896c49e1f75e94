"""What the conversation service lets a layer above do: take over messages, answer a request.

The handoff to volunteers (:mod:`bot.handoff`) sits above the conversation in the layers, so
the service cannot call it; :mod:`bot.app` hands the service a :class:`ConversationHooks`
instead. Every hook runs inside the contact's lock, in arrival order, after dedup.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from bot.messages import Inbound, Reply
from bot.storage.models import Contact


@dataclass(frozen=True, slots=True)
class TakeOver:
    """What a hook did with a message.

    Attributes:
        handled: the message was the hook's (relayed): ``replies`` are the whole answer and
            the conversation does not see it. Otherwise the conversation handles it as usual
            and ``replies`` go before its own.
        replies: what to send the person.
    """

    handled: bool
    replies: tuple[Reply, ...] = ()


@dataclass(frozen=True, slots=True)
class PersonRequest:
    """The person asked to write with a person (the engine's ``handoff`` action).

    Attributes:
        contact: who asked.
        locale: the language they read.
        pages: the pages they came through, oldest first, the page they were on last.
        now: when they asked.
    """

    contact: Contact
    locale: str
    pages: tuple[str, ...]
    now: datetime


class ConversationHooks(Protocol):
    """What a layer above the conversation does with some messages."""

    async def take_over(self, contact: Contact, inbound: Inbound) -> TakeOver | None:
        """What the hook did with the message; None: nothing, the conversation handles it."""
        ...

    async def person_requested(
        self, request: PersonRequest, replies: Sequence[Reply]
    ) -> Sequence[Reply]:
        """The replies to send once the person asked for a person (given: the page's)."""
        ...
