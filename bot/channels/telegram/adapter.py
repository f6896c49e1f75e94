"""The Telegram channel: python-telegram-bot in, events to the conversation, replies out.

Receiving is long polling by default (no public address needed) or, when
``server.public_url`` is set, a webhook at ``POST /telegram/webhook`` on the bot's one
aiohttp server (:mod:`.webhook`). Either way an update goes through one PTB
``TypeHandler``: its fields' types checked (:mod:`.shape`), once per update id
(:mod:`.updates`), groups and channels kept out (:mod:`.groups`), to an operator console first
if one is attached (:mod:`.console`), then through
:func:`~bot.channels.telegram.render.update_to_inbound` to ``on_inbound``, and the replies back
out as messages; a pressed button's spinner is stopped and its keyboard closed (:mod:`.buttons`).
The adapter decides nothing about the conversation. A webhook's plain
text in a private chat, the commonest update, is read without PTB's objects (:mod:`.plain`)
and takes a second ``TypeHandler`` through the same per-chat order, to the same end.

Seams for other features:

* :meth:`TelegramChannel.console` is the operator-console seam
  (:class:`~bot.channels.console.ConsoleHost`): a console sees allow-listed people's private
  messages and button presses first, as plain events, and may keep them from the conversation.
* ``command_interceptors`` maps a command name (``"broadcast"``) to a coroutine that sees
  the command first and returns replies, or ``None`` to let it reach the conversation as plain
  text. Authorisation (is this an organizer?) is the interceptor's job, not the adapter's.

Logging: python-telegram-bot logs full request parameters (message texts, chat ids) and the
token-bearing API URL at DEBUG, and httpx logs every request URL (which contains the token) at
INFO. Unless the operator has set levels for them, the channel pins the ``telegram`` logger
at INFO and the ``httpx`` logger at WARNING, or quieter if they already were.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Final

from aiohttp import web
from telegram import Update
from telegram.error import TelegramError
from telegram.ext import Application, CallbackContext, ExtBot, TypeHandler

from bot.channels.base import Channel, ChannelCallbacks, DeliveryAttempt, log_failure
from bot.channels.console import ConsoleHost
from bot.channels.desk import DeskHandler
from bot.channels.pacing import LOOP_TIMER, Timer
from bot.channels.telegram import bootstrap
from bot.channels.telegram.buttons import answer_press, close_keyboard
from bot.channels.telegram.capabilities import TELEGRAM_CAPABILITIES, telegram_capabilities
from bot.channels.telegram.console import TelegramConsole
from bot.channels.telegram.errors import send_error
from bot.channels.telegram.groups import GroupGate, named_chats
from bot.channels.telegram.plain import PlainText
from bot.channels.telegram.render import CHANNEL, blocked_address, parse_command, update_to_inbound
from bot.channels.telegram.shape import kind_of, press_is_ours, update_problem
from bot.channels.telegram.transport import AiohttpRequest
from bot.channels.telegram.updates import (
    Backlog,
    ForgetfulApplication,
    PerChatUpdateProcessor,
    RecentUpdates,
    chat_key,
)
from bot.channels.telegram.volunteers import VolunteersGroup
from bot.channels.telegram.webhook import WEBHOOK_PATH, read_update, validate_webhook_secret
from bot.channels.telegram.wire import WirePart, send_message, wire_parts
from bot.config import Config
from bot.content.strings import PRIVATE_CHATS_ONLY
from bot.errors import (
    ChannelUnavailable,
    ConfigError,
    PermanentSendError,
    RecipientUnreachable,
    SendError,
)
from bot.messages import Address, Inbound, InboundKind, Reply
from bot.routes import Route

logger = logging.getLogger(__name__)

_MAX_IN_FLIGHT: Final = 16
"""Bot API requests the adapter has open at once. Far above what Telegram's ~30 messages/s
allow at real latencies; the client (:mod:`.transport`) keeps a few more connections than
this, for the button presses' and edits' calls."""

CommandInterceptor = Callable[[Inbound], Awaitable[Sequence[Reply] | None]]
"""Sees a command (``kind=COMMAND``) before the conversation; returns replies, or ``None``."""

_Context = CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], dict[Any, Any]]


class TelegramChannel(Channel):
    """Telegram through python-telegram-bot 22: polling or webhook, buttons and commands.

    Lifecycle (see :class:`~bot.channels.base.Channel`): ``routes()`` may be mounted first;
    ``start(callbacks)`` connects (``getMe``), registers the command menu per language and
    starts receiving; ``send()`` delivers a broadcast message; ``stop()`` stops receiving and
    closes connections. ``send()`` also works without ``start()``, for a process that only
    sends.

    Args:
        config: the validated configuration; uses ``telegram.*``, ``server.public_url``,
            ``server.max_body_bytes``, ``locales`` and ``default_locale``.
        command_descriptions: ``{locale: {command: description}}`` for the command menu, from
            the catalogs; English built-ins fill any gap.
        command_interceptors: ``{command: coroutine}`` that see a command before the
            conversation (see the module docstring).
        private_chats_notice: what the bot says before it leaves a group, in every language
            (from the catalogs; English by default). See :mod:`.groups`.
        poll_timeout: long-polling timeout passed to ``getUpdates``.
        max_concurrent_updates: updates processed at once (across different chats).
        max_pending_updates: webhook updates accepted and not yet handled, at most; beyond
            that the webhook answers 429 and Telegram sends the update again later, so a
            flood waits at Telegram instead of in this process's memory.
        timer: for pacing and retries (tests pass a fake).

    Raises:
        ConfigError: no ``telegram.token``; or webhook mode without a valid
            ``telegram.webhook_secret``.
    """

    name: ClassVar[str] = CHANNEL
    capabilities = TELEGRAM_CAPABILITIES

    def __init__(
        self,
        config: Config,
        *,
        command_descriptions: Mapping[str, Mapping[str, str]] | None = None,
        command_interceptors: Mapping[str, CommandInterceptor] | None = None,
        private_chats_notice: str | None = None,
        poll_timeout: timedelta = timedelta(seconds=10),
        max_concurrent_updates: int = 64,
        max_pending_updates: int = 1024,
        timer: Timer = LOOP_TIMER,
    ) -> None:
        telegram = config.telegram
        if not telegram.token:
            raise ConfigError(
                "telegram.token: required for the Telegram channel; set it from ${ENV_VAR}"
            )
        super().__init__(telegram_capabilities(config), timer=timer)
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
        self._accepting = True
        self._recent = RecentUpdates()
        self._backlog = Backlog(max_pending_updates)
        self._in_flight = asyncio.Semaphore(_MAX_IN_FLIGHT)
        bootstrap.quiet_loggers()

        builder = (
            Application.builder()
            .application_class(ForgetfulApplication)
            .token(telegram.token)
            .concurrent_updates(PerChatUpdateProcessor(max_concurrent_updates))
            .request(AiohttpRequest(connections=_MAX_IN_FLIGHT + 4))
        )
        if telegram.base_url:
            builder = builder.base_url(telegram.base_url)
        if self._webhook_url:
            builder = builder.updater(None)
        self._app: Application[
            ExtBot[None], _Context, dict[Any, Any], dict[Any, Any], dict[Any, Any], Any
        ] = builder.build()
        self._app.add_handler(TypeHandler(Update, self._on_update))
        self._app.add_handler(TypeHandler(PlainText, self._on_plain))
        self._app.add_error_handler(self._on_error)
        self._console = TelegramConsole(lambda: self._app.bot)
        group = config.handoff.telegram_chat_id
        self._volunteers = (
            VolunteersGroup(group, config.volunteer_ids()) if group is not None else None
        )
        self._groups = GroupGate(
            lambda: self._app.bot,
            named=named_chats(config),
            notice=private_chats_notice or PRIVATE_CHATS_ONLY.msgid,
        )

    @property
    def pending_updates(self) -> int:
        """Webhook updates accepted (answered 200) whose handling has not finished."""
        return self._backlog.pending

    @property
    def webhook_mode(self) -> bool:
        """True when updates arrive by webhook (``server.public_url`` is set)."""
        return self._webhook_url is not None

    def routes(self) -> Sequence[Route]:
        """``POST /telegram/webhook`` in webhook mode; nothing when polling."""
        if not self.webhook_mode:
            return ()
        return (Route("POST", WEBHOOK_PATH, self._handle_webhook),)

    def console(self) -> ConsoleHost:
        """The operator-console seam: allow-listed people's events first, messages out."""
        return self._console

    @property
    def group(self) -> Address | None:
        """The volunteers' group (``handoff.telegram_chat_id``), if one is configured."""
        if self._volunteers is None:
            return None
        return Address(CHANNEL, str(self._volunteers.chat_id))

    def attach_desk(self, handler: DeskHandler) -> None:
        """Hand volunteers' messages in their group to ``handler`` (see :mod:`.volunteers`)."""
        if self._volunteers is not None:
            self._volunteers.attach(handler)

    async def start(self, callbacks: ChannelCallbacks) -> None:
        """Connect, register the command menu, and start receiving updates.

        Raises:
            ConfigError: Telegram rejected the token, or refused the webhook address.
            ChannelUnavailable: the Bot API server could not be reached.
        """
        self._callbacks = callbacks
        self._accepting = True
        app = self._app
        try:
            await bootstrap.connect(app)
            await bootstrap.register_commands(
                app.bot,
                locales=self._locales,
                default_locale=self._default_locale,
                descriptions=self._command_descriptions,
            )
            if self._webhook_url is not None:
                await bootstrap.set_webhook(app.bot, self._webhook_url, secret=self._secret)
            else:
                assert app.updater is not None  # built with an updater in polling mode
                try:
                    await app.updater.start_polling(
                        timeout=self._poll_timeout,
                        allowed_updates=list(bootstrap.ALLOWED_UPDATES),
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
        app = self._app
        if app.updater is not None and app.updater.running:
            await app.updater.stop()
        if app.running:
            await app.stop()
        await app.shutdown()
        # When getMe failed, PTB counts the application as never initialized and its shutdown
        # does nothing, but the connection getMe used is still open: close it (idempotent).
        # Through the bot, so it knows, and a later start() (the provider is back) reopens it.
        await app.bot.shutdown()

    async def drain(self) -> None:
        """Wait until every update received so far is handled and answered (benchmarks)."""
        await self._app.update_queue.join()

    # -- sending (see Channel.send) ----------------------------------------------------------

    async def _prepare(self, address: Address) -> None:
        """Refuse an address that is not a Telegram chat; connect (``getMe``) the first time."""
        _chat_id(address)
        await bootstrap.connect(self._app)

    def _render(self, reply: Reply) -> Sequence[WirePart]:
        """The reply's text split to fit, its keyboard on the last message (see :mod:`.wire`)."""
        return wire_parts(reply)

    async def _deliver(self, address: Address, part: WirePart, attempt: DeliveryAttempt) -> str:
        """``sendMessage`` with no link preview; returns the Telegram message id."""
        async with self._in_flight:
            message_id = await send_message(self._app.bot, int(address.id), part)
        return str(message_id)

    def _map_error(self, error: Exception, attempt: DeliveryAttempt) -> SendError | None:
        """PTB's errors as send errors (see :func:`~bot.channels.telegram.errors.send_error`)."""
        return send_error(error) if isinstance(error, TelegramError) else None

    # -- receiving ---------------------------------------------------------------------------

    async def _handle_webhook(self, request: web.Request) -> web.Response:
        update = await read_update(
            request, secret=self._secret, max_body=self._max_body, bot=self._app.bot
        )
        if isinstance(update, web.Response):
            return update
        callbacks = self._callbacks
        if not self._accepting or callbacks is None or not callbacks.accepting():
            # Stopping, not started, or the storage cannot store it: Telegram keeps the
            # update and delivers it again later.
            return web.Response(status=503, text="not accepting")
        if not self._backlog.admit():
            return web.Response(status=429, text="busy", headers={"Retry-After": "1"})
        await self._app.update_queue.put(update)
        return web.Response(status=200, text="ok")

    async def _on_update(self, update: Update, context: _Context) -> None:
        try:
            await self._take_update(update, context)
        finally:
            self._backlog.done()

    async def _on_plain(self, plain: PlainText, context: _Context) -> None:
        try:
            await self._take_plain(plain, context)
        finally:
            self._backlog.done()

    async def _take_plain(self, plain: PlainText, context: _Context) -> None:
        """:meth:`_take_update` for a plain private text: the same steps, minus what cannot apply.

        No button was pressed, a private chat is no group, and a text without entities is no
        command; the console's people and the volunteers' group take PTB's ``Update``.
        """
        callbacks = self._callbacks
        if callbacks is None:
            return
        volunteers = self._volunteers
        if self._console.wants(plain.chat_id) or (
            volunteers is not None and volunteers.chat_id == plain.chat_id
        ):
            await self._take_update(Update.de_json(plain.data, self._app.bot), context)
            return
        if not self._recent.first(plain.update_id):
            return
        inbound = plain.inbound(datetime.now(UTC))
        try:
            replies = await callbacks.on_inbound(inbound)
        except Exception as exc:
            log_failure(logger, "Handling a Telegram update", exc, inbound.address)
            return
        await self.reply(inbound.address, replies)

    async def _take_update(self, update: Update, _context: _Context) -> None:
        callbacks = self._callbacks
        if callbacks is None:
            return
        problem = update_problem(update)
        if problem is not None:
            logger.warning(
                "Ignored a Telegram %s update: %s has the wrong type", kind_of(update), problem
            )
            return
        if not self._recent.first(update.update_id):
            return
        query = update.callback_query
        if query is not None:
            await answer_press(query, self._in_flight)
        if self._volunteers is not None and self._volunteers.owns(update):
            await self._to_volunteers(self._volunteers, update)
            return
        if await self._groups.screen(update):
            return
        if query is not None and not press_is_ours(query):
            return  # not a button the bot sent: nothing to answer, nothing to edit
        if await self._offer_console(update):
            return
        blocked = blocked_address(update)
        if blocked is not None:
            await self.report_unreachable(blocked, opted_out=False)
            return
        inbound = update_to_inbound(update, bot_username=self._app.bot.username)
        if inbound is None:
            return
        try:
            replies = await self._dispatch(callbacks, update, inbound)
        except Exception as exc:
            log_failure(logger, "Handling a Telegram update", exc, inbound.address)
            return
        delivered = await self.reply(inbound.address, replies)
        if query is not None and replies and delivered:
            await close_keyboard(query, self._in_flight)

    async def _to_volunteers(self, group: VolunteersGroup, update: Update) -> None:
        bot = self._app.bot
        try:
            await group.take(update, bot_id=bot.id, bot_username=bot.username)
        except Exception as exc:  # a volunteer's message failed; the group hears nothing
            log_failure(logger, "The volunteers' group", exc, None)

    async def _offer_console(self, update: Update) -> bool:
        try:
            return await self._console.offer(update)
        except Exception as exc:  # the conversation still answers, as if no console were there
            key = chat_key(update)
            address = Address(CHANNEL, str(key)) if key is not None else None
            log_failure(logger, "The organizer console", exc, address)
            return False

    async def _dispatch(
        self, callbacks: ChannelCallbacks, update: Update, inbound: Inbound
    ) -> Sequence[Reply]:
        if self._interceptors and update.message is not None:
            parsed = parse_command(update.message, bot_username=self._app.bot.username)
            if parsed is not None and parsed[0] in self._interceptors:
                name, payload = parsed
                command = replace(inbound, kind=InboundKind.COMMAND, command=name, text=payload)
                intercepted = await self._interceptors[name](command)
                if intercepted is not None:
                    return intercepted
        return await callbacks.on_inbound(inbound)

    # -- errors ------------------------------------------------------------------------------

    async def _on_error(self, update: object, context: _Context) -> None:
        key = chat_key(update)
        address = Address(CHANNEL, str(key)) if key is not None else None
        error = context.error
        if error is not None:
            log_failure(logger, "Processing a Telegram update", error, address)

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
