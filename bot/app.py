"""Builds and wires everything from config; runs it; reloads content; shuts down cleanly."""

from __future__ import annotations

import asyncio
import contextlib
import faulthandler
import io
import logging
import os
import signal
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.broadcast.pacing import RunnerSettings
from bot.broadcast.runner import BroadcastRunner, channels_by_name
from bot.broadcast.service import BroadcastService
from bot.channels import registry
from bot.channels.base import Channel
from bot.channels.outbox import OutboxSender, OutboxSettings
from bot.channels.pacing import LOOP_TIMER, Timer
from bot.config import Config
from bot.content.strings import TELEGRAM_COMMANDS
from bot.conversation.service import ConversationService
from bot.conversation.version import Content, load_content
from bot.errors import BotError, ChannelUnavailable, ConfigError, ContentError
from bot.handoff.relay import ChannelRelay
from bot.handoff.service import HandoffService
from bot.health import ChannelState, Health
from bot.messages import Address, Reply
from bot.organizer import texts as organizer_texts
from bot.privacy import set_hash_key
from bot.storage import Storage, storage_for
from bot.web import WebServer, build_web_app
from bot.wiring import build_handoff as build_handoff
from bot.wiring import channel_callbacks as channel_callbacks

if TYPE_CHECKING:
    from bot.organizer.telegram import OrganizerConsole
    from bot.organizer.web.content_pages import StatusSource
    from bot.organizer.web.server import Console

logger = logging.getLogger(__name__)

COUNTER_FLUSH_SECONDS = 10.0
PRUNE_SECONDS = 3600.0
CHANNEL_RETRY_SECONDS = (1.0, 60.0)
"""A channel whose provider was down at start-up is registered again after the first of
these, doubling up to the second."""
IDLE_TICKETS_SECONDS = 60.0


class App:
    """The running bot: storage, content, conversation service, channels and web server.

    Args:
        config: the validated configuration.
        storage: the store to use (default: the one the configuration names).
        content_status: runs ``kyrbot check`` for the web console's content page.
        clock: what time it is, for retention and the web console (tests pass their own).
        timer: where the outbox and channel registration retries wait (tests pass a fake).
    """

    def __init__(
        self,
        config: Config,
        *,
        storage: Storage | None = None,
        content_status: StatusSource | None = None,
        clock: Callable[[], datetime] | None = None,
        timer: Timer = LOOP_TIMER,
    ) -> None:
        self.config = config
        self.timer = timer
        self._content_status = content_status
        """Runs ``kyrbot check`` for the web console's content page (given by the command line)."""
        self._clock = clock
        """The web console's clock (default: the system's); tests pass their own."""
        self.web_console: Console | None = None
        """The organizers' web console, when ``console.enabled`` is set and serving."""
        set_hash_key(config.privacy.hash_key)
        self.clock = clock or _utcnow
        """What time it is, for retention (tests pass a fake clock)."""
        self.storage = storage or storage_for(config)
        self.content: Content = load_content(config)
        self.broadcasts = BroadcastService(self.storage, config)
        self.service = ConversationService(
            content=self.content,
            storage=self.storage,
            organization=config.organization,
            last_reviewed=config.content.last_reviewed,
            legal_review=config.content.legal_review,
            updates=self.broadcasts.updates,
            carrier_help=registry.carrier_help_channels(config),
            window_channels=registry.window_channels(config),
        )
        self._stopping = asyncio.Event()
        self.health = Health(self.storage, stopping=self._stopping.is_set)
        """What /healthz and /readyz report; refuses messages while the storage fails."""
        self.outbox = OutboxSender(
            self.storage.outbox,
            {},
            settings=OutboxSettings(reply_retry=config.outbox.reply_retry_minutes * 60.0),
            timer=timer,
        )
        """Stores replies sent outside a webhook response, and retries them."""
        self.callbacks = channel_callbacks(
            self.service, self.broadcasts, outbox=self.outbox, health=self.health
        )
        """What every channel is given at start: the conversation, and delivery tracking."""
        self.runner: BroadcastRunner | None = None
        """Sends broadcasts while :meth:`serve` runs (and resumes unfinished ones)."""
        self.channels: list[Channel] = []
        self.handoff: HandoffService | None = None
        """Tickets with the volunteers' group, once :meth:`serve` has built the channels."""
        self.relay: ChannelRelay | None = None
        self.web: WebServer | None = None
        self.reload_listeners: list[Callable[[Content | None, ContentError | None], None]] = []
        self._tasks: set[asyncio.Task[None]] = set()

    # --- content ------------------------------------------------------------------------

    def reload(self) -> bool:
        """Load content again; swap it in only if it validates completely.

        Returns:
            True when the new content is serving; False when it was refused (the old
            content keeps serving and the problems are logged and reported).
        """
        try:
            content = load_content(self.config)
        except ContentError as exc:
            logger.error("Reload refused; the running content stays:\n%s", exc)
            for listener in self.reload_listeners:
                listener(None, exc)
            self._report_refused_reload(exc)
            return False
        self.content = content
        self.service.swap_content(content)
        logger.info("Content reloaded (%d nodes)", len(content.dialogs.nodes))
        for listener in self.reload_listeners:
            listener(content, None)
        return True

    def _report_refused_reload(self, error: ContentError) -> None:
        """Tell the organizers' chat, if one is configured, that a reload was refused."""
        chat = self.config.organizers.report_chat_id
        telegram = next((c for c in self.channels if c.name == "telegram"), None)
        if chat is None or telegram is None:
            return
        locale = self.config.default_locale
        problems = "\n".join(f"- {p}" for p in error.problems[:10])
        template = self.content.translator.text(locale, organizer_texts.RELOAD_REFUSED)
        reply = Reply(text=template.replace("{problems}", problems), locale=locale)

        async def send() -> None:
            try:
                await telegram.send(Address("telegram", str(chat)), reply)
            except BotError:
                logger.exception("Could not tell the organizers' chat about the refused reload")

        self._spawn(send())

    # --- lifecycle ----------------------------------------------------------------------

    async def open(self) -> None:
        """Connect storage (applies migrations)."""
        await self.storage.open()

    async def close(self) -> None:
        """Flush counters and close storage."""
        await self.service.flush_counters()
        await self.storage.close()

    def build_channels(self) -> list[Channel]:
        """The channels the config enables (a token or credentials make a channel active)."""
        translator = self.content.translator
        descriptions = {
            locale: {
                name: translator.text(locale, text) for name, text in TELEGRAM_COMMANDS.items()
            }
            for locale in self.content.engine.locales
        }
        from bot.channels.telegram.groups import private_chats_notice
        from bot.channels.voice.words import translated
        from bot.channels.whatsapp.words import notices

        locales = self.content.engine.locales
        return registry.build_channels(
            self.config,
            command_descriptions=descriptions,
            voice_words=translated(translator.text, locales),
            notices=notices(translator.text, locales),
            private_chats_notice=private_chats_notice(translator, locales),
        )

    async def serve(self, *, ready: Callable[[App], None] | None = None) -> None:
        """Run channels and the web server until SIGINT/SIGTERM; SIGHUP reloads content."""
        # A fatal signal (SIGBUS from a broken -shm file) then leaves a line; a stderr with no
        # file descriptor (captured, embedded) cannot take one, and serving goes on without.
        with contextlib.suppress(io.UnsupportedOperation):
            faulthandler.enable()
        await self.open()
        self.channels = self.build_channels()
        by_name = channels_by_name(self.channels)
        self.outbox.channels = by_name
        self.handoff, self.relay = build_handoff(
            self.config, self.storage, self.service, self.channels, outbox=self.outbox
        )
        settings = RunnerSettings(retry_for=self.config.outbox.broadcast_retry_hours * 3600.0)
        self.runner = BroadcastRunner(self.storage, by_name, self.config, settings=settings)
        self.web_console = self._build_web_console(self.runner)
        console = self._organizer_console(self.runner)
        routes = [route for channel in self.channels for route in channel.routes()]
        if self.web_console is not None:
            routes.extend(self.web_console.routes())
        self.web = WebServer(
            build_web_app(
                routes,
                max_body_bytes=self.config.server.max_body_bytes,
                health=self._healthy,
                readiness=self.health.readiness,
            ),
            host=self.config.server.host,
            port=self.config.server.port,
        )
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._stopping.set)
        loop.add_signal_handler(signal.SIGHUP, self.reload)
        try:
            await self.health.probe()
            self._spawn(self.health.run())
            await self.web.start()
            # Together: a provider slow to answer (or down) does not hold the others back.
            await asyncio.gather(*(self._start_channel(c) for c in self.channels))
            self.outbox.start()
            self.runner.start()
            self._spawn(self._every(COUNTER_FLUSH_SECONDS, self.service.flush_counters))
            self._spawn(self._every(PRUNE_SECONDS, self.prune))
            self._spawn(self._every(IDLE_TICKETS_SECONDS, self.handoff.close_idle))
            self._write_pid()
            if not self.channels:
                logger.warning("No channel is configured: only /healthz is served")
            if ready is not None:
                ready(self)
            await self._stopping.wait()
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                loop.remove_signal_handler(sig)
            await self.runner.stop()  # before the channels: sends in flight finish first
            await self.outbox.stop()
            if console is not None:
                await console.close()
            await self.broadcasts.close()
            if self.relay is not None:
                await self.relay.close()
            for task in list(self._tasks):
                task.cancel()
            for channel in reversed(self.channels):
                with contextlib.suppress(Exception):
                    await channel.stop()
            if self.web is not None:
                await self.web.stop()
            await self.close()
            self._remove_pid()

    async def _start_channel(self, channel: Channel) -> None:
        """Start a channel; if its provider is down, serve without it and retry meanwhile."""
        self.health.channels[channel.name] = ChannelState.STARTING
        try:
            await channel.start(self.callbacks)
        except ChannelUnavailable as exc:
            self.health.channels[channel.name] = ChannelState.DOWN
            logger.error(
                "The %s channel could not start (%s): serving without it and retrying; "
                "its replies wait in the outbox",
                channel.label,
                exc,
            )
            self._spawn(self._start_later(channel))
            return
        self.health.channels[channel.name] = ChannelState.UP

    async def _start_later(self, channel: Channel) -> None:
        delay, longest = CHANNEL_RETRY_SECONDS
        while not self._stopping.is_set():
            await self.timer.sleep(delay)
            try:
                await channel.start(self.callbacks)
            except ChannelUnavailable as exc:
                logger.warning("The %s channel is still down (%s)", channel.label, exc)
                delay = min(delay * 2.0, longest)
                continue
            except Exception:
                logger.exception("The %s channel failed to start; not retrying", channel.label)
                return
            self.health.channels[channel.name] = ChannelState.UP
            logger.warning("The %s channel is up after all", channel.label)
            self.outbox.wake()
            return

    def _organizer_console(self, runner: BroadcastRunner) -> OrganizerConsole | None:
        """Give organizers /broadcast and /stats on the Telegram channel, if there is one."""
        telegram = next((c for c in self.channels if c.name == "telegram"), None)
        host = telegram.console() if telegram is not None else None
        if host is None:
            return None
        from bot.organizer.telegram import OrganizerConsole

        console = OrganizerConsole(
            self.broadcasts,
            organizers=self.config.organizers.telegram_ids,
            translator=lambda: self.service.content.translator,
            default_locale=self.config.default_locale,
            wake=runner.wake,
            report_chat_id=self.config.organizers.report_chat_id,
            login_link=self._login_link if self.web_console is not None else None,
        )
        console.attach(host)
        runner.on_finished.append(console.announce)
        return console

    def _build_web_console(self, runner: BroadcastRunner) -> Console | None:
        """The organizers' web console under ``/console``, if ``console.enabled`` is set."""
        if not self.config.console.enabled:
            return None
        from bot.organizer.web.server import Console
        from bot.storage import console_store

        async def no_status() -> None:
            return None

        return Console(
            self.config,
            service=self.broadcasts,
            storage=self.storage,
            store=console_store(self.storage),
            translator=lambda: self.service.content.translator,
            status=self._content_status or no_status,
            wake=runner.wake,
            channels=tuple(channel.name for channel in self.channels),
            **({"now": self._clock} if self._clock is not None else {}),
        )

    async def _login_link(self, organizer: int) -> str | None:
        """A console login link for an allow-listed organizer (the Telegram ``/console``)."""
        from bot.organizer.web.server import base_url

        assert self.web_console is not None
        port = self.web.port if self.web is not None else None
        return await self.web_console.logins.make_link(organizer, base_url(self.config, port))

    def stop(self) -> None:
        """Ask a running :meth:`serve` to finish."""
        self._stopping.set()

    async def prune(self) -> None:
        """Apply the retention windows, including erasing contacts silent for too long."""
        now = self.clock()
        result = await self.storage.prune(**self.config.retention_cutoffs(now))
        failed_replies = await self.storage.outbox.prune_outbox(
            before=now - timedelta(days=self.config.retention.delivery_days)
        )
        if self.web_console is not None:
            await self.web_console.logins.prune()
        logger.info(
            "Pruned %d sessions, %d inbound ids, %d deliveries, %d silent contacts, "
            "%d failed replies",
            result.sessions,
            result.inbound_ids,
            result.deliveries,
            result.contacts,
            failed_replies,
        )
        tickets = await self.storage.prune_tickets(
            closed_before=now - timedelta(days=self.config.retention.ticket_days)
        )
        if tickets:
            logger.info("Pruned %d closed tickets", tickets)

    async def _healthy(self) -> bool:
        return not self._stopping.is_set()

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _every(self, seconds: float, job: Callable[[], object]) -> None:
        while True:
            await asyncio.sleep(seconds)
            try:
                result = job()
                if asyncio.iscoroutine(result):
                    await result
            except Exception:
                logger.exception("Periodic job failed")

    # --- pid file for ``kyrbot reload`` -------------------------------------------------

    @property
    def pid_path(self) -> Path:
        """Where ``serve`` writes its process id."""
        return pid_file(self.config)

    def _write_pid(self) -> None:
        path = self.pid_path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(str(os.getpid()), encoding="ascii")

    def _remove_pid(self) -> None:
        with contextlib.suppress(OSError):
            if self.pid_path.read_text(encoding="ascii").strip() == str(os.getpid()):
                self.pid_path.unlink()


def _utcnow() -> datetime:
    return datetime.now(UTC)


def pid_file(config: Config) -> Path:
    """The pid file of the server using this config's port."""
    return Path("data") / f"kyrbot-{config.server.port}.pid"


def send_reload(config: Config) -> int:
    """Signal a running ``kyrbot serve`` to reload its content; returns its pid.

    Raises:
        ConfigError: no running server was found.
    """
    path = pid_file(config)
    try:
        pid = int(path.read_text(encoding="ascii").strip())
        os.kill(pid, signal.SIGHUP)
    except (OSError, ValueError):
        raise ConfigError(f"{path}: no running 'kyrbot serve' found for this config") from None
    return pid
