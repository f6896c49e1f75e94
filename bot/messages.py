"""The shared message types every layer speaks: address, inbound event, reply, delivery report."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Address:
    """Who a message is from or to: a channel name and that channel's id for the person.

    ``id`` is a Telegram chat id, an E.164 phone number, or ``"local"`` for the terminal.
    It is personal data: never log it; log :func:`bot.privacy.address_hash` instead.
    """

    channel: str
    id: str

    def __repr__(self) -> str:
        # Keeps addresses out of tracebacks and debug logs that repr() their arguments.
        return f"Address(channel={self.channel!r}, id=<redacted>)"


class InboundKind(enum.Enum):
    """What a person sent, as far as the engine needs to know."""

    TEXT = "text"
    """Typed text, or a button press (then ``choice_id`` is set)."""
    COMMAND = "command"
    """A channel command such as Telegram's ``/start``; ``command`` holds its name."""
    MEDIA = "media"
    """A photo, sticker, voice note, location...: something the bot cannot read."""


@dataclass(frozen=True, slots=True)
class Inbound:
    """One event from a person, already translated from the channel's wire format."""

    address: Address
    text: str
    received_at: datetime
    """Timezone-aware; the engine uses it instead of reading a clock."""
    message_id: str | None = None
    """The provider's id for this event (Telegram update_id, Twilio MessageSid), for dedup."""
    kind: InboundKind = InboundKind.TEXT
    choice_id: str | None = None
    """Set when the person pressed a button: the :attr:`Choice.id` it carried."""
    command: str | None = None
    """For ``COMMAND``: its name without the slash (``"start"``); ``text`` is the payload."""
    locale_hint: str | None = None
    """A platform language tag such as Telegram's ``language_code`` (``"es-419"``)."""
    group_chat: bool = False
    """True when the message came from a group rather than a private chat."""


@dataclass(frozen=True, slots=True)
class Choice:
    """One option a reply offers: the id a button carries and its translated label."""

    id: str
    label: str


@dataclass(frozen=True, slots=True)
class Reply:
    """One message to a person, translated and with placeholders filled.

    ``choices`` are the numbered options of this step (at most 9). ``nav`` are the
    always-available navigation options (menu, language) that a channel shows as its own
    row of buttons or as one short line.
    """

    text: str
    choices: tuple[Choice, ...] = ()
    nav: tuple[Choice, ...] = ()
    locale: str = "en"
    node: str | None = field(default=None, compare=False)
    """The ``dialog.node`` this reply belongs to, for counters and tests; never shown."""
    spoken: str | None = field(default=None, compare=False)
    """What a phone call says instead of ``text``, when the page has a ``voice:`` text."""


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """A provider's later report about a message it accepted earlier (a Twilio status callback).

    Attributes:
        channel: the channel that sent the message (:attr:`Address.channel`).
        provider_id: the provider's id for the message (a Twilio MessageSid).
        status: the provider's status word (``"sent"``, ``"delivered"``, ``"undelivered"``...).
        error_code: the provider's error code for a failure (``"30007"``), if it gave one.
        opted_out: the failure was the person having opted out (Twilio 21610).
    """

    channel: str
    provider_id: str
    status: str
    error_code: str | None = None
    opted_out: bool = False
