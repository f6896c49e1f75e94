"""The adapter contract every channel implements, and what the rest of the bot offers it."""

from __future__ import annotations

import abc
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar, Protocol

from aiohttp import web

from bot.messages import Address, Inbound, Reply


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a channel can do, as data: the service and renderers adapt to it.

    A capability a channel lacks is ``False`` here, never a method that raises.
    """

    buttons: bool
    """Choices become native buttons; otherwise they are numbered in the text."""
    max_text_length: int
    """Longer texts are split by the adapter (Telegram 4096; Twilio 1600 per message)."""
    commands: bool = False
    """The platform has slash commands (Telegram)."""
    delivery_reports: bool = False
    """The provider reports delivery later (Twilio status callbacks)."""


@dataclass(frozen=True, slots=True)
class Route:
    """One HTTP route a channel serves on the bot's single web server."""

    method: str
    path: str
    handler: Callable[[web.Request], Awaitable[web.StreamResponse]]


class InboundSink(Protocol):
    """What the application offers an adapter. Built in :mod:`bot.app`; adapters only call it."""

    async def handle(self, inbound: Inbound) -> Sequence[Reply]:
        """Process one inbound event and return the replies to deliver, in order.

        Never raises for a person's input; returns no replies for a duplicate event.
        """
        ...

    async def contact_unreachable(self, address: Address, *, opted_out: bool) -> None:
        """Record that ``address`` blocked the bot or opted out at the provider."""
        ...

    async def delivery_status(
        self, channel: str, provider_id: str, status: str, error_code: str | None
    ) -> None:
        """Record a provider's later report about a message it accepted earlier."""
        ...


class Channel(abc.ABC):
    """One chat service. Translates between its wire format and :mod:`bot.messages`.

    Adapters hold no dialog state and decide nothing about the conversation.
    Lifecycle: ``start(sink)`` -> any number of ``send()`` -> ``stop()``. ``routes()``
    may be called before ``start`` so the web server can mount them.
    """

    name: ClassVar[str]
    capabilities: ClassVar[Capabilities]

    @abc.abstractmethod
    async def start(self, sink: InboundSink) -> None:
        """Begin receiving, delivering every event to ``sink``; return once started."""

    @abc.abstractmethod
    async def stop(self) -> None:
        """Stop receiving and release resources. Safe to call twice."""

    @abc.abstractmethod
    async def send(self, address: Address, reply: Reply) -> str:
        """Deliver one reply outside a webhook response and return the provider's message id.

        Raises:
            SendError: a subclass that says whether a retry can help.
        """

    def routes(self) -> Sequence[Route]:
        """HTTP routes this channel serves (webhooks). Default: none."""
        return ()
