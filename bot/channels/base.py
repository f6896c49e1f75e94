"""The adapter contract every channel implements: capabilities as data, callbacks, one send.

An adapter translates; it decides nothing about the conversation. What it can do is data
(:class:`Capabilities`, on each instance: config decides its rate and prices). What the rest
of the bot offers it arrives at :meth:`Channel.start` as one :class:`ChannelCallbacks`, wired
in :mod:`bot.app`. Sending is one template method, :meth:`Channel.send`: render, pace, deliver,
map the provider's errors onto :mod:`bot.errors`; an adapter writes only :meth:`~Channel._render`,
:meth:`~Channel._deliver` and :meth:`~Channel._map_error`. Replies to a person go through
:meth:`Channel.deliver_replies`, which uses the same delivery and the one
:class:`~bot.channels.pacing.RetryPolicy`.
"""

from __future__ import annotations

import abc
import logging
import traceback
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, final

from bot.channels.capabilities import Capabilities, CostEstimate
from bot.channels.pacing import (
    LOOP_TIMER,
    REPLY_RETRY,
    LocalSendClock,
    Pacer,
    RateLimiter,
    RetryPolicy,
    Timer,
)
from bot.errors import (
    OutcomeUnknown,
    PermanentSendError,
    RateLimited,
    RecipientUnreachable,
    SendError,
)
from bot.messages import Address, DeliveryReport, Inbound, Reply
from bot.privacy import address_hash
from bot.routes import Route

if TYPE_CHECKING:
    from bot.channels.console import ConsoleHost

logger = logging.getLogger(__name__)


class UnreachableHandler(Protocol):
    """Records that a person blocked the bot or opted out at the provider."""

    def __call__(self, address: Address, *, opted_out: bool) -> Awaitable[None]:
        """Record it for ``address``; ``opted_out`` for an opt-out, else a block."""
        ...


@dataclass(frozen=True, slots=True)
class ChannelCallbacks:
    """What the application offers an adapter, wired in :mod:`bot.app`; adapters only call it.

    Attributes:
        on_inbound: process one inbound event and return the replies to deliver, in order;
            never raises for a person's input; no replies for a duplicate event.
        on_delivery_report: record a provider's later report about a message it accepted.
        on_unreachable: record that a person blocked the bot or opted out at the provider.
        send_replies: store replies in the outbox and send them (:mod:`bot.channels.outbox`);
            None: :meth:`Channel.reply` sends them directly, retried briefly in memory.
        accepting: whether events may be taken in now; while it says no (the storage
            cannot store them), a webhook answers 503 and the provider delivers it later.
    """

    on_inbound: Callable[[Inbound], Awaitable[Sequence[Reply]]]
    on_delivery_report: Callable[[DeliveryReport], Awaitable[None]]
    on_unreachable: UnreachableHandler
    send_replies: ReplySender | None = None
    accepting: Callable[[], bool] = lambda: True


class ReplySender(Protocol):
    """Stores replies and sends them through ``channel`` (the outbox)."""

    def __call__(
        self, channel: Channel, address: Address, replies: Sequence[Reply]
    ) -> Awaitable[bool]:
        """True when every reply went out now; False when some wait for a retry."""
        ...


@dataclass(slots=True)
class DeliveryAttempt:
    """One provider call being made: to whom, and whether its request has left yet.

    An adapter that can tell sets :attr:`sent` once the request is on the wire; an error
    after that means the message may have arrived (:class:`~bot.errors.OutcomeUnknown`).
    """

    address: Address
    sent: bool = False


def log_failure(
    log: logging.Logger, what: str, error: BaseException, address: Address | None
) -> None:
    """Log an exception's type and where it happened, never its message.

    Exception messages can quote a person's text; the frames (file, line, function) are
    enough to debug and carry no personal data.
    """
    frames = "".join(traceback.format_tb(error.__traceback__))
    log.error(
        "%s failed with %s (contact %s)\n%s",
        what,
        type(error).__name__,
        address_hash(address) if address is not None else "-",
        frames.rstrip(),
    )


class Channel(abc.ABC):
    """One chat service. Translates between its wire format and :mod:`bot.messages`.

    Lifecycle: ``start(callbacks)`` (receive and send) or ``open()`` (send only) -> any number
    of ``send()`` -> ``stop()``. ``routes()`` may be called before ``start`` so the web server
    can mount them.

    Args:
        capabilities: this instance's capabilities (from config); default: the class's.
        timer: where pacing and retries read the time and wait (tests pass a fake).
    """

    name: ClassVar[str]
    capabilities: Capabilities
    """What this channel can do. The class holds what every instance shares; an instance
    built from config adds its send rate and prices."""

    def __init__(
        self, capabilities: Capabilities | None = None, *, timer: Timer = LOOP_TIMER
    ) -> None:
        if capabilities is not None:
            self.capabilities = capabilities
        self.timer = timer
        self.pacer = RateLimiter(
            self.name, self.capabilities.send_rate, LocalSendClock(timer.now), timer=timer
        )
        """This channel's own limiter: its send rate, and any pause the provider imposed."""
        self._callbacks: ChannelCallbacks | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    @abc.abstractmethod
    async def start(self, callbacks: ChannelCallbacks) -> None:
        """Begin receiving, delivering every event through ``callbacks``; return once started."""

    @abc.abstractmethod
    async def stop(self) -> None:
        """Stop receiving and release resources. Safe to call twice."""

    async def open(self) -> None:  # noqa: B027 - an optional hook
        """Get ready to send without receiving (a process that only sends). Default: nothing."""

    def routes(self) -> Sequence[Route]:
        """HTTP routes this channel serves (webhooks). Default: none."""
        return ()

    def console(self) -> ConsoleHost | None:
        """The seam an operator console uses on this channel, if it offers one (default: none)."""
        return None

    @property
    def label(self) -> str:
        """The channel's display name, for logs and messages."""
        return self.capabilities.display_name or self.name

    def estimate(self, text: str, locale: str) -> CostEstimate:
        """What ``text`` in ``locale`` costs to send to one person here (units and price)."""
        return self.capabilities.costs.estimate(text, locale)

    def broadcast_reply(
        self, reply: Reply, *, last_inbound_at: datetime | None, now: datetime
    ) -> Reply | None:
        """The form a broadcast takes for one person here, or None: leave them out unsent.

        Default: the reply as written. A channel with a reply window (WhatsApp) answers with
        its approved template outside the window, or None when the language has none.

        Args:
            reply: the broadcast's text in the person's language.
            last_inbound_at: when the person last wrote (kept on channels with a window).
            now: the current time.
        """
        return reply

    # -- sending -----------------------------------------------------------------------------

    @final
    async def send(self, address: Address, reply: Reply, *, pacer: Pacer | None = None) -> str:
        """Deliver one reply outside a webhook response and return the provider's message id.

        Renders the reply, waits for sending time (``pacer``, default this channel's own
        limiter), delivers each part, and maps the provider's errors. Never retries. A reply
        too long for one message goes as several, and the id of the first is returned; a
        retryable failure after a first part went out becomes :class:`OutcomeUnknown`, so a
        retry cannot send that part twice. A person who blocked the bot or opted out is
        reported to ``on_unreachable`` as well.

        Args:
            address: the person.
            reply: the translated reply.
            pacer: pace through this instead (a broadcast runner's shared limiter).

        Raises:
            SendError: a subclass that says whether a retry can help.
        """
        await self._prepare(address)
        try:
            parts = self._render(reply)
        except ValueError as exc:
            raise PermanentSendError(str(exc)) from None
        if not parts:
            raise PermanentSendError("the reply has no text")
        limiter = pacer if pacer is not None else self.pacer
        await limiter.acquire(self._units(parts))
        first: str | None = None
        for number, part in enumerate(parts, start=1):
            try:
                provider_id = await self._send_part(address, part, limiter)
            except SendError as error:
                if first is not None and error.retryable:
                    raise OutcomeUnknown(
                        f"{self.label}: only {number - 1} of {len(parts)} parts were sent",
                        code=error.code,
                    ) from error
                raise
            first = first or provider_id
        assert first is not None
        return first

    async def reply(self, address: Address, replies: Sequence[Reply]) -> bool:
        """Send replies to a person outside a webhook response: through the outbox if wired.

        Returns True when every reply went out now.
        """
        callbacks = self._callbacks
        if callbacks is not None and callbacks.send_replies is not None:
            return await callbacks.send_replies(self, address, replies)
        return await self.deliver_replies(address, replies)

    async def send_reply(self, address: Address, reply: Reply) -> None:
        """Send one reply to a person once: every part, using no sending time, no retry.

        A pause the provider imposed is waited out. A retryable failure after a first part
        went out becomes :class:`OutcomeUnknown`.

        Raises:
            SendError: a subclass that says whether a retry can help.
        """
        await self._prepare(address)
        try:
            parts = self._render(reply)
        except ValueError as exc:
            raise PermanentSendError(str(exc)) from None
        for number, part in enumerate(parts, start=1):
            try:
                await self._send_part(address, part, None)
            except SendError as error:
                if number > 1 and error.retryable:
                    raise OutcomeUnknown(
                        f"{self.label}: only {number - 1} of {len(parts)} parts were sent",
                        code=error.code,
                    ) from error
                raise

    async def deliver_replies(
        self, address: Address, replies: Sequence[Reply], *, policy: RetryPolicy = REPLY_RETRY
    ) -> bool:
        """Send ``replies`` to a person now, in order, each part retried as ``policy`` allows.

        Replies use no sending time, so a running broadcast never delays them; they do wait
        out a pause the provider imposed. Returns False at the first part that could not be
        delivered (the failure is logged).
        """
        for reply in replies:
            try:
                parts = self._render(reply)
            except ValueError as exc:
                log_failure(logger, "Rendering a reply", exc, address)
                return False
            for part in parts:
                if not await self._reply_part(address, part, policy):
                    return False
        return True

    async def _reply_part(self, address: Address, part: Any, policy: RetryPolicy) -> bool:
        attempt = 1
        while True:
            try:
                await self._send_part(address, part, None)
            except SendError as error:
                delay = policy.delay(attempt, error)
                if delay is None:
                    self._log_dropped_reply(address, error, policy)
                    return False
                logger.info(
                    "%s: %s sending a reply; retrying in %.2f s",
                    self.label,
                    type(error).__name__,
                    delay,
                )
                await self.timer.sleep(delay)
                attempt += 1
            else:
                return True

    def _log_dropped_reply(self, address: Address, error: SendError, policy: RetryPolicy) -> None:
        if isinstance(error, RateLimited) and error.retry_after:
            logger.warning(
                "Reply to %s dropped: %s asked to wait %.0f s",
                address_hash(address),
                self.label,
                error.retry_after,
            )
        elif not (isinstance(error, RecipientUnreachable) and error.by_person):
            log_failure(logger, "Sending a reply", error, address)

    async def _send_part(self, address: Address, part: Any, pacer: Pacer | None) -> str:
        """One provider call: wait out a pause, deliver, and map what went wrong."""
        await self.pacer.resumed()
        attempt = DeliveryAttempt(address)
        try:
            return await self._deliver(address, part, attempt)
        except SendError as error:
            await self._after_failure(address, error, pacer)
            raise
        except Exception as exc:
            mapped = self._map_error(exc, attempt)
            if mapped is None:
                raise
            await self._after_failure(address, mapped, pacer)
            raise mapped from exc

    async def _after_failure(
        self, address: Address, error: SendError, pacer: Pacer | None
    ) -> None:
        """Honour a provider's wait for every send here; report a person's block or opt-out."""
        if isinstance(error, RateLimited) and error.retry_after:
            logger.info(
                "%s asked to wait %.1f s; holding every send", self.label, error.retry_after
            )
            await self.pacer.pause(error.retry_after)
            if pacer is not None and pacer is not self.pacer:
                await pacer.pause(error.retry_after)
        if isinstance(error, RecipientUnreachable) and error.by_person:
            await self.report_unreachable(address, opted_out=error.opted_out)

    # -- what adapters write -----------------------------------------------------------------

    async def _prepare(self, address: Address) -> None:  # noqa: B027 - an optional hook
        """Check that ``address`` and this channel can be sent to; connect if needed.

        Raises:
            SendError: not an address of this channel, or the channel cannot send now.
        """

    @abc.abstractmethod
    def _render(self, reply: Reply) -> Sequence[Any]:
        """The messages that show ``reply``, in the provider's form; empty if nothing to send.

        Raises:
            ValueError: the reply cannot be shown on this channel.
        """

    def _units(self, parts: Sequence[Any]) -> float:
        """Sending time the rendered ``parts`` take, in :attr:`Capabilities.send_unit`."""
        return float(len(parts))

    @abc.abstractmethod
    async def _deliver(self, address: Address, part: Any, attempt: DeliveryAttempt) -> str:
        """Hand one rendered part to the provider; return its message id.

        Provider exceptions propagate (:meth:`_map_error` turns them into send errors); a
        :class:`~bot.errors.SendError` raised here is passed on as it is.
        """

    @abc.abstractmethod
    def _map_error(self, error: Exception, attempt: DeliveryAttempt) -> SendError | None:
        """The send error for a provider exception from :meth:`_deliver`; None: not one."""

    # -- what adapters report ----------------------------------------------------------------

    async def report_unreachable(self, address: Address, *, opted_out: bool) -> None:
        """Tell ``on_unreachable`` a person blocked the bot or opted out (logged if it fails)."""
        logger.info(
            "Contact %s %s", address_hash(address), "opted out" if opted_out else "blocked the bot"
        )
        callbacks = self._callbacks
        if callbacks is None:  # only sending: the sender records it from the error
            return
        try:
            await callbacks.on_unreachable(address, opted_out=opted_out)
        except Exception as exc:
            log_failure(logger, "Marking a contact unreachable", exc, address)
