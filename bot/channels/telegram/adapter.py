"""The Telegram channel: python-telegram-bot in, events to the sink, replies out as messages.

Receiving is long polling by default (no public address needed) or, when
``server.public_url`` is set, a webhook at ``POST /telegram/webhook`` on the bot's one
aiohttp server. Either way every update goes through one PTB ``TypeHandler`` into
:func:`~bot.channels.telegram.render.update_to_inbound`, the sink, and back out as messages.
The adapter decides nothing about the conversation.

Seams for other features:

* :attr:`TelegramChannel.application` is the PTB ``Application``. A feature may add its own
  handlers in a group below 0 (they run first) and raise ``ApplicationHandlerStop`` to keep
  an update from the sink.
* ``command_interceptors`` maps a command name (``"broadcast"``) to a coroutine that sees
  the command first and returns replies, or ``None`` to let it reach the sink as plain text.
  Authorisation (is this an organizer?) is the interceptor's job, not the adapter's.

Logging: python-telegram-bot logs full request parameters (message texts, chat ids) and the
token-bearing API URL at DEBUG, and httpx logs every request URL (which contains the token) at
INFO. Unless the operator has set levels for them, the channel pins the ``telegram`` logger
at INFO and the ``httpx`` logger at WARNING, or quieter if they already were.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import random
import re
import traceback
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import replace
from datetime import timedelta
from typing import Any, ClassVar, Final
from warnings import catch_warnings, simplefilter

import httpx
from aiohttp import web
from aiolimiter import AsyncLimiter
from telegram import (
    BotCommand,
    BotCommandScopeDefault,
    CallbackQuery,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
    Update,
)
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.ext import (
    Application,
    BaseUpdateProcessor,
    CallbackContext,
    ExtBot,
    TypeHandler,
)
from telegram.warnings import PTBDeprecationWarning

from bot.channels.base import Capabilities, Channel, InboundSink, Route
from bot.channels.telegram.render import (
    CHANNEL,
    MAX_TEXT_LENGTH,
    blocked_address,
    button_label,
    command_menu,
    parse_command,
    render_reply,
    update_to_inbound,
    utf16_length,
)
from bot.config import Config
from bot.errors import (
    ChannelUnavailable,
    ConfigError,
    OutcomeUnknown,
    PermanentSendError,
    RateLimited,
    RecipientUnreachable,
    SendError,
)
from bot.messages import Address, Inbound, InboundKind, Reply
from bot.privacy import address_hash

logger = logging.getLogger(__name__)

WEBHOOK_PATH: Final = "/telegram/webhook"
SECRET_HEADER: Final = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name
ALLOWED_UPDATES: Final = ("message", "callback_query", "my_chat_member")
"""Update types asked for; edited messages are not (they would be ignored anyway)."""

_SECRET_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,256}")
_REPLY_ATTEMPTS = 4
"""Tries per outgoing reply message before giving up (network errors and flood waits)."""
_MAX_REPLY_WAIT = 60.0
"""A reply waits out a flood limit up to this many seconds; longer, and it is dropped."""
_BACKOFF_BASE = 0.5
"""Seconds before the first retry after a network error; doubled each time, with jitter."""
_RECENT_UPDATES = 4096
"""How many update ids are remembered to drop an update Telegram delivers twice."""
_MAX_IN_FLIGHT = 16
"""Bot API requests the adapter has open at once. Far above what Telegram's ~30 messages/s
allow at real latencies, and it keeps httpx's connection pool small: its bookkeeping grows
with pool size times queued requests, and at 256 (PTB's default) it halved throughput."""
_NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
"""Links stay clickable; previews would make every answer twice as long on a small phone."""

CommandInterceptor = Callable[[Inbound], Awaitable[Sequence[Reply] | None]]
"""Sees a command (``kind=COMMAND``) before the sink; returns replies, or ``None`` to pass."""

_Context = CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], dict[Any, Any]]


def validate_webhook_secret(secret: str | None) -> str:
    """Check ``telegram.webhook_secret`` against the Bot API's rule and return it.

    Raises:
        ConfigError: the secret is missing, or is not 1-256 characters of ``A-Z a-z 0-9 _ -``.
    """
    if not secret:
        raise ConfigError(
            "telegram.webhook_secret: required when server.public_url is set (webhook mode); "
            "set it from ${ENV_VAR} to 1-256 characters of A-Z a-z 0-9 _ -"
        )
    if not _SECRET_PATTERN.fullmatch(secret):
        raise ConfigError(
            "telegram.webhook_secret: must be 1-256 characters of A-Z a-z 0-9 _ - "
            "(Telegram's rule for secret_token)"
        )
    return secret


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


_NOT_SENT_CAUSES = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
"""Transport failures that happen before a request leaves: the message was not sent."""


def send_error(error: TelegramError) -> SendError:
    """The project's :class:`~bot.errors.SendError` for a PTB error raised by ``sendMessage``.

    * ``RetryAfter`` gives :class:`RateLimited` with ``retry_after``.
    * ``Forbidden`` (blocked, kicked, deactivated) and "chat not found" give
      :class:`RecipientUnreachable`.
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
        return RecipientUnreachable(message, code="403")
    if isinstance(error, BadRequest):  # BadRequest is a NetworkError in PTB: check it first
        if "chat not found" in error.message.lower():
            return RecipientUnreachable(message, code="400")
        return PermanentSendError(message, code="400")
    if isinstance(error, NetworkError):
        cause = error.__cause__
        if isinstance(cause, _NOT_SENT_CAUSES):
            return ChannelUnavailable(message)
        if isinstance(error, TimedOut) or isinstance(cause, httpx.TransportError):
            return OutcomeUnknown(message)
        return ChannelUnavailable(message)
    if isinstance(error, ChatMigrated):
        return PermanentSendError(message, code="migrated")
    return PermanentSendError(message)


def _log_failure(what: str, error: BaseException, address: Address | None) -> None:
    """Log an exception's type and where it happened, never its message.

    Exception messages can quote a person's text; the frames (file, line, function) are
    enough to debug and carry no personal data.
    """
    frames = "".join(traceback.format_tb(error.__traceback__))
    logger.error(
        "%s failed with %s (contact %s)\n%s",
        what,
        type(error).__name__,
        address_hash(address) if address is not None else "-",
        frames.rstrip(),
    )


def _quiet_loggers() -> None:
    """Keep token-bearing URLs (httpx INFO) and update contents (PTB DEBUG) out of the log.

    A library logger the operator left unset is pinned at its floor or the level it
    currently inherits, whichever is quieter; so it never becomes more verbose than it was,
    and stays quiet if the root logger is later turned down to DEBUG.
    """
    for name, floor in (("httpx", logging.WARNING), ("telegram", logging.INFO)):
        library_logger = logging.getLogger(name)
        if library_logger.level == logging.NOTSET:
            library_logger.setLevel(max(floor, library_logger.getEffectiveLevel()))


def _chat_key(update: object) -> int | None:
    if not isinstance(update, Update):
        return None
    chat = update.effective_chat
    if chat is not None:
        return chat.id
    user = update.effective_user
    return user.id if user is not None else None


class _PerChatUpdateProcessor(BaseUpdateProcessor):
    """Updates from different chats run concurrently; one chat's updates run in arrival order.

    PTB's default handles one update at a time for the whole bot, so one slow database
    write would delay everyone; unbounded concurrency could answer one person's two quick
    messages out of order. PTB starts a task per update in arrival order and
    ``asyncio.Lock`` is first-come first-served, so per-chat order is kept.
    """

    __slots__ = ("_locks", "_users")

    def __init__(self, max_concurrent_updates: int) -> None:
        super().__init__(max_concurrent_updates)
        self._locks: dict[int, asyncio.Lock] = {}
        self._users: dict[int, int] = {}

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Await ``coroutine`` while holding the lock of the update's chat."""
        key = _chat_key(update)
        if key is None:
            await coroutine
            return
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._users[key] = self._users.get(key, 0) + 1
        try:
            async with lock:
                await coroutine
        finally:
            self._users[key] -= 1
            if not self._users[key]:
                del self._users[key], self._locks[key]

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to release."""


class TelegramChannel(Channel):
    """Telegram through python-telegram-bot 22: polling or webhook, buttons and commands.

    Lifecycle (see :class:`~bot.channels.base.Channel`): ``routes()`` may be mounted first;
    ``start(sink)`` connects (``getMe``), registers the command menu per language and starts
    receiving; ``send()`` delivers a broadcast message; ``stop()`` stops receiving and closes
    connections. ``send()`` also works without ``start()``, for a process that only sends.

    Args:
        config: the validated configuration; uses ``telegram.*``, ``server.public_url``,
            ``server.max_body_bytes``, ``locales`` and ``default_locale``.
        command_descriptions: ``{locale: {command: description}}`` for the command menu, from
            the catalogs; English built-ins fill any gap.
        command_interceptors: ``{command: coroutine}`` that see a command before the sink
            (see the module docstring).
        poll_timeout: long-polling timeout passed to ``getUpdates``.
        max_concurrent_updates: updates processed at once (across different chats).

    Raises:
        ConfigError: no ``telegram.token``; or webhook mode without a valid
            ``telegram.webhook_secret``.
    """

    name: ClassVar[str] = "telegram"
    capabilities: ClassVar[Capabilities] = Capabilities(
        buttons=True, max_text_length=MAX_TEXT_LENGTH, commands=True
    )

    def __init__(
        self,
        config: Config,
        *,
        command_descriptions: Mapping[str, Mapping[str, str]] | None = None,
        command_interceptors: Mapping[str, CommandInterceptor] | None = None,
        poll_timeout: timedelta = timedelta(seconds=10),
        max_concurrent_updates: int = 64,
    ) -> None:
        telegram = config.telegram
        if not telegram.token:
            raise ConfigError(
                "telegram.token: required for the Telegram channel; set it from ${ENV_VAR}"
            )
        public_url = config.server.public_url
        self._webhook_url = public_url.rstrip("/") + WEBHOOK_PATH if public_url else None
        self._secret = (
            validate_webhook_secret(telegram.webhook_secret) if self._webhook_url else ""
        )
        self._max_body = config.server.max_body_bytes
        self._locales = list(config.locales)
        self._default_locale = config.default_locale
        self._command_descriptions = command_descriptions or {}
        self._interceptors = dict(command_interceptors or {})
        self._poll_timeout = poll_timeout
        self._send_limiter = AsyncLimiter(telegram.messages_per_second, 1)
        self._sink: InboundSink | None = None
        self._accepting = True
        self._resume_at = 0.0
        self._recent: OrderedDict[int, None] = OrderedDict()
        self._in_flight = asyncio.Semaphore(_MAX_IN_FLIGHT)
        _quiet_loggers()

        builder = (
            Application.builder()
            .token(telegram.token)
            .concurrent_updates(_PerChatUpdateProcessor(max_concurrent_updates))
            .connection_pool_size(_MAX_IN_FLIGHT + 4)
        )
        if telegram.base_url:
            builder = builder.base_url(telegram.base_url)
        if self._webhook_url:
            builder = builder.updater(None)
        self.application: Application[
            ExtBot[None],
            _Context,
            dict[Any, Any],
            dict[Any, Any],
            dict[Any, Any],
            Any,
        ] = builder.build()
        """The PTB application; other features may add handlers to it."""
        self.application.add_handler(TypeHandler(Update, self._on_update))
        self.application.add_error_handler(self._on_error)

    @property
    def webhook_mode(self) -> bool:
        """True when updates arrive by webhook (``server.public_url`` is set)."""
        return self._webhook_url is not None

    def routes(self) -> Sequence[Route]:
        """``POST /telegram/webhook`` in webhook mode; nothing when polling."""
        if not self.webhook_mode:
            return ()
        return (Route("POST", WEBHOOK_PATH, self._handle_webhook),)

    async def start(self, sink: InboundSink) -> None:
        """Connect, register the command menu, and start receiving updates.

        Raises:
            ConfigError: Telegram rejected the token, or refused the webhook address.
            ChannelUnavailable: the Bot API server could not be reached.
        """
        self._sink = sink
        self._accepting = True
        app = self.application
        try:
            await self._initialize()
            await self._register_commands()
            if self._webhook_url is not None:
                await self._set_webhook(self._webhook_url)
            else:
                assert app.updater is not None  # built with an updater in polling mode
                try:
                    await app.updater.start_polling(
                        timeout=self._poll_timeout,
                        allowed_updates=list(ALLOWED_UPDATES),
                        error_callback=self._on_polling_error,
                    )
                except TelegramError as exc:  # deleteWebhook failed
                    raise ChannelUnavailable(
                        f"cannot start polling Telegram ({type(exc).__name__})"
                    ) from exc
            await app.start()
        except BaseException:
            await self.stop()
            raise
        logger.info(
            "Telegram channel started (%s, bot @%s)",
            "webhook" if self.webhook_mode else "polling",
            app.bot.username,
        )

    async def stop(self) -> None:
        """Stop receiving, finish updates in progress, close connections. Safe to call twice."""
        self._accepting = False
        app = self.application
        if app.updater is not None and app.updater.running:
            await app.updater.stop()
        if app.running:
            await app.stop()
        await app.shutdown()
        # When getMe failed, PTB counts the application as never initialized and its shutdown
        # does nothing, but the connection getMe used is still open: close it (idempotent).
        await app.bot.request.shutdown()

    async def send(self, address: Address, reply: Reply) -> str:
        """Deliver ``reply`` to ``address`` (a broadcast) and return the Telegram message id.

        Paced at ``telegram.messages_per_second``; waits out a flood pause Telegram imposed
        earlier; does not retry. A text too long for one message goes as several, and the id
        of the first is returned. The caller records unreachable contacts.

        Raises:
            RateLimited: Telegram asked to wait (``retry_after``).
            RecipientUnreachable: the person blocked the bot or the chat does not exist.
            ChannelUnavailable: Telegram could not be reached; nothing was sent.
            OutcomeUnknown: the message may have been sent (a timeout after sending, or a
                later part of a split message failed).
            PermanentSendError: Telegram refused the message, or it cannot be rendered.
        """
        chat_id = _chat_id(address)
        try:
            messages = render_reply(reply)
        except ValueError as exc:
            raise PermanentSendError(str(exc)) from None
        if not messages:
            raise PermanentSendError("the reply has no text")
        try:
            await self._initialize()
        except TelegramError as exc:
            raise send_error(exc) from exc
        first_id: str | None = None
        for text, markup in messages:
            async with self._send_limiter:
                try:
                    sent = await self._send_message(chat_id, text, markup)
                except TelegramError as exc:
                    error = send_error(exc)
                    if isinstance(error, RateLimited) and error.retry_after:
                        self._pause(error.retry_after)
                    if first_id is not None and error.retryable:
                        raise OutcomeUnknown(
                            "Telegram: only part of a long message was sent"
                        ) from exc
                    raise error from exc
            first_id = first_id or str(sent.message_id)
        assert first_id is not None
        return first_id

    # -- receiving ------------------------------------------------------------------------

    async def _handle_webhook(self, request: web.Request) -> web.Response:
        supplied = request.headers.get(SECRET_HEADER, "").encode("utf-8", "replace")
        if not hmac.compare_digest(supplied, self._secret.encode("utf-8")):
            return web.Response(status=403, text="forbidden")
        if request.content_length is not None and request.content_length > self._max_body:
            return web.Response(status=413, text="too large")
        body = await request.read()  # aiohttp answers 413 itself beyond client_max_size
        if len(body) > self._max_body:
            return web.Response(status=413, text="too large")
        try:
            data = json.loads(body)
        except ValueError:
            return web.Response(status=400, text="not JSON")
        update_id = data.get("update_id") if isinstance(data, dict) else None
        if not isinstance(update_id, int) or isinstance(update_id, bool):
            return web.Response(status=400, text="not an update")
        try:
            update = Update.de_json(data, self.application.bot)
        except Exception:  # PTB raises whatever a malformed field trips over
            return web.Response(status=400, text="not an update")
        if not self._accepting:
            # Shutting down: Telegram keeps the update and delivers it again later.
            return web.Response(status=503, text="stopping")
        await self.application.update_queue.put(update)
        return web.Response(status=200, text="ok")

    async def _on_update(self, update: Update, _context: _Context) -> None:
        if self._sink is None or not self._first_delivery(update.update_id):
            return
        query = update.callback_query
        if query is not None:
            await self._answer(query)
        blocked = blocked_address(update)
        if blocked is not None:
            logger.info("Contact %s blocked the bot", address_hash(blocked))
            await self._mark_unreachable(blocked)
            return
        inbound = update_to_inbound(update, bot_username=self.application.bot.username)
        if inbound is None:
            return
        try:
            replies = await self._dispatch(update, inbound)
        except Exception as exc:
            _log_failure("Handling a Telegram update", exc, inbound.address)
            return
        delivered = await self._deliver(inbound.address, replies)
        if query is not None and replies and delivered:
            await self._close_keyboard(query)

    def _first_delivery(self, update_id: int) -> bool:
        """False for an update id seen recently (a webhook redelivery)."""
        if update_id in self._recent:
            return False
        self._recent[update_id] = None
        if len(self._recent) > _RECENT_UPDATES:
            self._recent.popitem(last=False)
        return True

    async def _dispatch(self, update: Update, inbound: Inbound) -> Sequence[Reply]:
        assert self._sink is not None
        if self._interceptors and update.message is not None:
            parsed = parse_command(update.message, bot_username=self.application.bot.username)
            if parsed is not None and parsed[0] in self._interceptors:
                name, payload = parsed
                command = replace(inbound, kind=InboundKind.COMMAND, command=name, text=payload)
                intercepted = await self._interceptors[name](command)
                if intercepted is not None:
                    return intercepted
        return await self._sink.handle(inbound)

    async def _answer(self, query: CallbackQuery) -> None:
        """Stop the button's progress spinner; first thing, so a later failure cannot skip it."""
        try:
            async with self._in_flight:
                await query.answer()
        except TelegramError as exc:
            # An old or already answered query: the person sees nothing wrong.
            logger.debug("answerCallbackQuery failed: %s", type(exc).__name__)

    async def _close_keyboard(self, query: CallbackQuery) -> None:
        """Replace the pressed message's buttons with the chosen label, so old menus stay quiet."""
        message = query.message
        if not isinstance(message, Message) or message.reply_markup is None:
            return
        label = button_label(query)
        text = f"{message.text}\n\n» {label}" if message.text and label else None
        try:
            async with self._in_flight:
                if text is not None and utf16_length(text) <= MAX_TEXT_LENGTH:
                    await message.edit_text(text, link_preview_options=_NO_PREVIEW)
                else:
                    await message.edit_reply_markup(reply_markup=None)
        except TelegramError as exc:
            logger.debug("Removing a pressed keyboard failed: %s", type(exc).__name__)

    # -- replying -------------------------------------------------------------------------

    async def _deliver(self, address: Address, replies: Sequence[Reply]) -> bool:
        """Send ``replies`` in order; False if something could not be delivered."""
        chat_id = int(address.id)
        for reply in replies:
            try:
                messages = render_reply(reply)
            except ValueError as exc:
                _log_failure("Rendering a reply", exc, address)
                return False
            for text, markup in messages:
                if not await self._deliver_message(address, chat_id, text, markup):
                    return False
        return True

    async def _deliver_message(
        self, address: Address, chat_id: int, text: str, markup: InlineKeyboardMarkup | None
    ) -> bool:
        """Send one reply message, retrying flood waits and network errors a bounded number
        of times. Returns False when it could not be delivered.
        """
        for attempt in range(1, _REPLY_ATTEMPTS + 1):
            last = attempt == _REPLY_ATTEMPTS
            try:
                await self._send_message(chat_id, text, markup)
            except RetryAfter as exc:
                wait = retry_after_seconds(exc)
                self._pause(wait)
                if last or wait > _MAX_REPLY_WAIT:
                    logger.warning(
                        "Reply to %s dropped: Telegram asked to wait %.0f s",
                        address_hash(address),
                        wait,
                    )
                    return False
                logger.info("Flood limit: waiting %.1f s before replying", wait)
            except Forbidden:
                logger.info("Contact %s blocked the bot", address_hash(address))
                await self._mark_unreachable(address)
                return False
            except BadRequest as exc:
                _log_failure("Sending a reply", exc, address)
                return False
            except NetworkError as exc:
                # A timeout may hide a message that did go out; seeing an answer twice is
                # better than getting none. (Broadcasts, which must not, use send().)
                if last:
                    _log_failure("Sending a reply", exc, address)
                    return False
                delay = _BACKOFF_BASE * 2 ** (attempt - 1) * random.uniform(0.8, 1.2)
                logger.info("%s sending a reply; retrying in %.2f s", type(exc).__name__, delay)
                await asyncio.sleep(delay)
            except TelegramError as exc:
                _log_failure("Sending a reply", exc, address)
                return False
            else:
                return True
        return False

    async def _send_message(
        self, chat_id: int, text: str, markup: InlineKeyboardMarkup | None
    ) -> Message:
        delay = self._resume_at - asyncio.get_running_loop().time()
        if delay > 0:
            await asyncio.sleep(delay)
        async with self._in_flight:
            return await self.application.bot.send_message(
                chat_id=chat_id, text=text, reply_markup=markup, link_preview_options=_NO_PREVIEW
            )

    def _pause(self, seconds: float) -> None:
        """Hold every outgoing message for ``seconds``: Telegram's flood limit is per bot."""
        resume_at = asyncio.get_running_loop().time() + seconds
        self._resume_at = max(self._resume_at, resume_at)

    async def _mark_unreachable(self, address: Address) -> None:
        if self._sink is None:
            return
        try:
            await self._sink.contact_unreachable(address, opted_out=False)
        except Exception as exc:
            _log_failure("Marking a contact unreachable", exc, address)

    # -- start-up -------------------------------------------------------------------------

    async def _initialize(self) -> None:
        try:
            await self.application.initialize()  # getMe; does nothing the second time
        except InvalidToken:
            raise ConfigError("telegram.token: the Bot API server rejected the token") from None
        except TelegramError as exc:
            raise ChannelUnavailable(
                f"cannot reach the Telegram Bot API ({type(exc).__name__})"
            ) from exc

    async def _set_webhook(self, url: str) -> None:
        try:
            await self.application.bot.set_webhook(
                url=url, secret_token=self._secret, allowed_updates=list(ALLOWED_UPDATES)
            )
        except BadRequest as exc:
            raise ConfigError(f"server.public_url: Telegram refused the webhook: {exc}") from None
        except TelegramError as exc:
            raise ChannelUnavailable(f"setWebhook failed ({type(exc).__name__})") from exc

    async def _register_commands(self) -> None:
        """``setMyCommands`` once per configured language and once as the default.

        A failure is logged: the commands still work without the menu.
        """
        bot = self.application.bot
        done: set[str] = set()
        targets: list[tuple[str | None, str]] = []
        for locale in self._locales:
            language = locale.replace("-", "_").split("_")[0].lower()  # Telegram: ISO 639-1
            if language not in done:
                done.add(language)
                targets.append((language, locale))
        targets.append((None, self._default_locale))
        for language_code, locale in targets:
            menu = command_menu(self._command_descriptions.get(locale))
            commands = [BotCommand(name, description) for name, description in menu]
            try:
                await bot.set_my_commands(
                    commands, scope=BotCommandScopeDefault(), language_code=language_code
                )
            except TelegramError as exc:
                logger.warning(
                    "setMyCommands for %s failed: %s",
                    language_code or "default",
                    type(exc).__name__,
                )

    # -- errors ---------------------------------------------------------------------------

    async def _on_error(self, update: object, context: _Context) -> None:
        address = None
        key = _chat_key(update)
        if key is not None:
            address = Address(CHANNEL, str(key))
        error = context.error
        if error is not None:
            _log_failure("Processing a Telegram update", error, address)

    def _on_polling_error(self, error: TelegramError) -> None:
        logger.warning(
            "Polling Telegram failed (%s); PTB retries with backoff", type(error).__name__
        )


def _chat_id(address: Address) -> int:
    if address.channel != CHANNEL:
        raise PermanentSendError(f"not a Telegram address: channel {address.channel!r}")
    try:
        return int(address.id)
    except ValueError:
        raise RecipientUnreachable("not a Telegram chat id") from None
