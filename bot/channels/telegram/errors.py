"""How python-telegram-bot's errors map onto the project's send errors (:mod:`bot.errors`)."""

from __future__ import annotations

from datetime import timedelta
from warnings import catch_warnings, simplefilter

import aiohttp
import httpx
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.warnings import PTBDeprecationWarning

from bot.errors import (
    ChannelUnavailable,
    OutcomeUnknown,
    PermanentSendError,
    RateLimited,
    RecipientUnreachable,
    SendError,
)

_NOT_SENT_CAUSES = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    aiohttp.ClientConnectorError,
    aiohttp.ConnectionTimeoutError,
)
"""Transport failures that happen before a request leaves: the message was not sent.
httpx is PTB's client (long polling); aiohttp sends everything else (:mod:`.transport`)."""
_UNKNOWN_CAUSES = (httpx.TransportError, aiohttp.ClientError)
"""Transport failures after the request may have left: Telegram may have the message."""


def retry_after_seconds(error: RetryAfter) -> float:
    """How long Telegram asked us to wait, in seconds.

    ``RetryAfter.retry_after`` is an ``int`` in PTB 22 unless ``PTB_TIMEDELTA`` is set, when it
    is a ``timedelta``; reading it in the old form warns. Both are handled, without the warning.
    """
    with catch_warnings():
        simplefilter("ignore", PTBDeprecationWarning)
        value = error.retry_after
    if isinstance(value, timedelta):
        return value.total_seconds()
    return float(value)


def send_error(error: TelegramError) -> SendError:
    """The project's :class:`~bot.errors.SendError` for a PTB error raised by ``sendMessage``.

    * ``RetryAfter`` gives :class:`RateLimited` with ``retry_after``.
    * ``Forbidden`` (blocked, kicked, deactivated) gives :class:`RecipientUnreachable` with
      ``blocked``; "chat not found" gives it without.
    * Timeouts and transport errors after the request may have reached Telegram (read
      timeout, connection dropped mid-answer) give :class:`OutcomeUnknown`, so a broadcast
      never sends a second copy blindly; failures before sending (cannot connect, pool
      exhausted) and error statuses from the server (5xx) give :class:`ChannelUnavailable`.
    * Everything else Telegram refused (``BadRequest``, ``ChatMigrated``...) gives
      :class:`PermanentSendError`.
    """
    message = f"Telegram: {type(error).__name__}"
    if isinstance(error, RetryAfter):
        return RateLimited(message, retry_after=retry_after_seconds(error), code="429")
    if isinstance(error, Forbidden):
        return RecipientUnreachable(message, blocked=True, code="403")
    if isinstance(error, BadRequest):  # BadRequest is a NetworkError in PTB: check it first
        if "chat not found" in error.message.lower():
            return RecipientUnreachable(message, code="400")
        return PermanentSendError(message, code="400")
    if isinstance(error, NetworkError):
        cause = error.__cause__
        if isinstance(cause, _NOT_SENT_CAUSES):
            return ChannelUnavailable(message)
        if isinstance(error, TimedOut) or isinstance(cause, _UNKNOWN_CAUSES):
            return OutcomeUnknown(message)
        return ChannelUnavailable(message)
    if isinstance(error, ChatMigrated):
        return PermanentSendError(message, code="migrated")
    return PermanentSendError(message)
