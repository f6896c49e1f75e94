"""The project's one exception tree; users never see these, the log does.

::

    BotError
    ├── ConfigError            bad configuration (file, key, what is wrong)
    ├── ContentError           a dialog or catalog problem, with file:line
    │   ├── DialogError
    │   └── CatalogError
    ├── StorageError           the database failed or is at an unknown schema version
    ├── BroadcastError         an organizer's request was refused (why, translatably)
    ├── MalformedWebhook       a signed webhook lacks a field the adapter needs (answered 400)
    └── SendError              not delivered; ``retryable`` says whether a retry can help
        ├── RateLimited            retryable; ``retry_after`` seconds when the provider said
        ├── ChannelUnavailable     retryable: network error, timeout, provider 5xx
        ├── OutcomeUnknown         not retryable: the request may or may not have been delivered
        ├── RecipientUnreachable   not retryable: ``blocked`` the bot, ``opted_out``, or invalid
        ├── PermanentSendError     not retryable: anything else the provider rejected
        └── SendWithdrawn          not sent: the sender withdrew it after waiting its turn
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


class BotError(Exception):
    """Base of every error this project raises on purpose."""


class ConfigError(BotError):
    """The configuration is unusable. The message names the file, the key and the problem."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with content, located at ``file:line``, with a hint to fix it."""

    file: str
    line: int
    message: str
    hint: str = ""
    code: str = "error"

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        hint = f" (hint: {self.hint})" if self.hint else ""
        return f"{where}: {self.message}{hint}"


class ContentError(BotError):
    """Dialogs or catalogs failed validation; ``problems`` lists every problem found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class DialogError(ContentError):
    """A dialog file is malformed or inconsistent."""


class CatalogError(ContentError):
    """A translation catalog (PO file) is malformed."""


class StorageError(BotError):
    """The database could not be used."""


class BroadcastError(BotError):
    """An organizer's request was refused; ``text`` and ``values`` say why, translatably.

    ``text`` is the refusal's ``(msgctxt, English)`` pair from :mod:`bot.broadcast.refusals`;
    :func:`bot.broadcast.words.refusal` makes one with its English message, and
    :func:`bot.broadcast.words.render_refusal` says it in an organizer's language.
    """

    def __init__(self, text: tuple[str, str], message: str, **values: object) -> None:
        super().__init__(message)
        self.text = text
        self.values = values


class SendError(BotError):
    """A message could not be delivered. ``retryable`` says whether trying again can help."""

    retryable: ClassVar[bool] = False

    def __init__(self, message: str = "", *, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        """The provider's error code (Twilio 21610, Telegram 403...), when known."""


class RateLimited(SendError):
    """The provider asked us to slow down; wait ``retry_after`` seconds if given."""

    retryable = True

    def __init__(
        self, message: str = "", *, retry_after: float | None = None, code: str | None = None
    ) -> None:
        super().__init__(message, code=code)
        self.retry_after = retry_after


class ChannelUnavailable(SendError):
    """Network error, timeout before sending, or a provider 5xx: worth retrying later."""

    retryable = True


class OutcomeUnknown(SendError):
    """The request may have been delivered (for example a timeout after sending).

    Not retried automatically, so nobody gets a second copy; reported as unknown.
    """


class RecipientUnreachable(SendError):
    """The person cannot be reached: blocked the bot, opted out, or the address is invalid.

    ``opted_out`` and ``blocked`` say which of the person's own actions it was (replied STOP
    at the provider; blocked the bot on Telegram); both false: the address itself is unusable.
    """

    def __init__(
        self,
        message: str = "",
        *,
        opted_out: bool = False,
        blocked: bool = False,
        code: str | None = None,
    ) -> None:
        super().__init__(message, code=code)
        self.opted_out = opted_out
        """The person opted out at the provider (Twilio 21610)."""
        self.blocked = blocked
        """The person blocked the bot (Telegram ``Forbidden``)."""

    @property
    def by_person(self) -> bool:
        """Whether the person chose this (opted out or blocked), rather than a bad address."""
        return self.opted_out or self.blocked


class PermanentSendError(SendError):
    """The provider rejected the message for a reason a retry will not fix."""


class SendWithdrawn(SendError):
    """Not sent: the sender withdrew the message after waiting its turn and before delivery.

    A broadcast runner raises it from its pacer when the broadcast was cancelled or the runner
    is stopping while the message waited for sending time; nothing reached the provider.
    """


class MalformedWebhook(BotError, ValueError):
    """A signed webhook lacks a field the adapter needs (answered with 400)."""
