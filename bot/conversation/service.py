"""The conversation service: per-contact order, dedup, state, engine step, translated replies."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import date, datetime
from typing import Final

from bot.config import OrganizationConfig
from bot.content import strings as texts
from bot.conversation.hooks import ConversationHooks, PersonRequest, TakeOver
from bot.conversation.render import Renderer
from bot.conversation.state import Event, State, Step
from bot.conversation.version import Content
from bot.errors import StorageError
from bot.messages import Address, Inbound, Reply
from bot.privacy import address_hash
from bot.storage.base import Contact, Storage
from bot.storage.turns import Turn

logger = logging.getLogger(__name__)

UpdatesProvider = Callable[[], Awaitable[Sequence[tuple[date, dict[str, str]]]]]
"""Returns sent policy updates, newest first, as (date, {locale: text})."""


TURN_WAIT_SECONDS: Final = 10.0
"""How long a message waits for an earlier one of the same contact on another instance."""

NOT_UNDERSTOOD_TOPIC = "system.not_understood"
"""The topic counter of typed messages the bot could not answer with a page (it asked back
or said it did not understand): counted like a topic, so organizers see how often it happens."""

_COUNTER_FLUSH_AT = 256
_UPDATES_SHOWN = 3


class _ContactLocks:
    """One FIFO lock per address, dropped when nobody holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[Address, tuple[asyncio.Lock, int]] = {}

    def acquire(self, address: Address) -> asyncio.Lock:
        lock, users = self._locks.get(address, (None, 0))
        if lock is None:
            lock = asyncio.Lock()
        self._locks[address] = (lock, users + 1)
        return lock

    def release(self, address: Address) -> None:
        lock, users = self._locks[address]
        if users <= 1:
            del self._locks[address]
        else:
            self._locks[address] = (lock, users - 1)

    def __len__(self) -> int:
        return len(self._locks)


class ConversationService:
    """Handles every inbound event: the :class:`bot.channels.base.InboundSink` adapters call.

    Two events from one contact are processed one at a time, in the order they were stored
    (:mod:`bot.storage.turns`), also across instances on one database. An event
    whose provider id was seen before gets no reply. Any internal error gives the person a
    translated apology and the menu; the details go to the log, without personal data.
    """

    def __init__(
        self,
        *,
        content: Content,
        storage: Storage,
        organization: OrganizationConfig | None = None,
        last_reviewed: date | None = None,
        legal_review: date | None = None,
        carrier_help: frozenset[str] = frozenset(),
        updates: UpdatesProvider | None = None,
        window_channels: frozenset[str] = frozenset(),
    ) -> None:
        self._content = content
        self.storage = storage
        self.renderer = Renderer(
            content, organization or OrganizationConfig(), last_reviewed, legal_review
        )
        self._updates = updates
        self._carrier_help = carrier_help
        """Channels whose HELP is the carriers' service notice (from their capabilities)."""
        self._window_channels = window_channels
        """Channels with a reply window: each contact's last message time is kept there."""
        self._locks = _ContactLocks()
        self._counts: Counter[tuple[date, str, str, str]] = Counter()
        self._buffered = 0  # the sum of _counts, kept rather than summed on every message
        self._flush_scheduled = False
        self.errors = 0
        self._background: set[asyncio.Task[None]] = set()
        self.hooks: ConversationHooks | None = None
        """A layer above that may take messages over (the handoff); set by :mod:`bot.app`."""

    @property
    def content(self) -> Content:
        """The content version now serving."""
        return self._content

    def swap_content(self, content: Content) -> None:
        """Serve ``content`` from the next event on; conversations in progress carry over."""
        self._content = content
        self.renderer = replace(self.renderer, content=content)

    # --- InboundSink -------------------------------------------------------------------

    async def handle(self, inbound: Inbound) -> Sequence[Reply]:
        """Process one event in order for its contact and return the replies to deliver.

        Raises:
            StorageError: the event could not be stored; it must not be acknowledged (the
                adapter answers 503, so the provider delivers it again).
        """
        address = inbound.address
        lock = self._locks.acquire(address)
        try:
            async with lock:
                turns = self.storage.turns
                if not turns.shared:  # one instance: the lock alone keeps the order
                    return await self._handle_locked(inbound)
                # Stored first: the number says where it stands among this contact's messages
                # on every instance; the lock keeps this instance's own in that order.
                turn = await turns.take_turn(address, inbound.received_at.date())
                try:
                    await self._wait_for_turn(turn, address)
                    return await self._handle_locked(inbound)
                finally:
                    await turns.turn_done(turn)
        finally:
            self._locks.release(address)

    async def _wait_for_turn(self, turn: Turn, address: Address) -> None:
        """Wait until the contact's earlier messages, taken in on any instance, are handled.

        On one instance the lock has done it already (no query). An earlier message held by
        an instance that stopped is waited for :data:`TURN_WAIT_SECONDS` at most.
        """
        if turn.next_up:
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + TURN_WAIT_SECONDS
        pause = 0.002
        while loop.time() < deadline:
            await asyncio.sleep(pause)
            if await self.storage.turns.turns_done(turn.contact_id) >= turn.number - 1:
                return
            pause = min(pause * 2.0, 0.05)
        logger.warning(
            "Contact %s: an earlier message was not handled within %.0f s (its instance may "
            "have stopped); handling the next one",
            address_hash(address),
            TURN_WAIT_SECONDS,
        )

    async def contact_unreachable(self, address: Address, *, opted_out: bool) -> None:
        """Record that a contact blocked the bot or opted out at the provider."""
        contact = await self.storage.get_contact(address)
        if contact is None:
            return
        contact.unreachable = contact.unreachable or not opted_out
        if opted_out:
            contact.opted_out = True
            contact.subscribed = False
        await self.storage.update_contact(contact)
        logger.info(
            "Contact %s marked %s",
            address_hash(address),
            "opted out" if opted_out else "unreachable",
        )

    # --- internals ---------------------------------------------------------------------

    async def _handle_locked(self, inbound: Inbound) -> Sequence[Reply]:
        content = self._content
        now = inbound.received_at
        try:
            if inbound.message_id is not None and not await self.storage.claim_inbound(
                inbound.address.channel, inbound.message_id, now
            ):
                logger.info("Duplicate event from %s ignored", address_hash(inbound.address))
                return ()
            contact, session = await self.storage.load_conversation(inbound.address, now.date())
        except StorageError:
            self.errors += 1
            raise  # not stored, so not answered: the caller refuses the event
        except Exception:
            logger.exception("Storage failed before handling an event")
            self.errors += 1
            return (self._apology(content, None),)
        hooks = self.hooks
        taken: TakeOver | None = None
        if hooks is not None:
            try:
                taken = await hooks.take_over(contact, inbound)
            except Exception:
                logger.exception("The handoff failed on a message; the conversation answers")
            if taken is not None and taken.handled:
                return taken.replies
        state = State.from_json(session.state if session else None, locale=contact.locale)
        event = Event(
            now=now,
            text=inbound.text,
            kind=inbound.kind,
            choice_id=inbound.choice_id,
            command=inbound.command,
            locale_hint=inbound.locale_hint,
            group_chat=inbound.group_chat,
            channel=inbound.address.channel,
            carrier_help=inbound.address.channel in self._carrier_help,
            opted_out=contact.opted_out,
            subscribed=contact.subscribed,
        )
        try:
            step = content.engine.step(state, event)
            replies = await self._render(step, state)
            if inbound.address.channel in self._window_channels:
                contact.last_inbound_at = now
            await self._apply(step, contact, now)
            if hooks is not None and "handoff" in step.actions and step.state is not None:
                pages = (*state.history, state.node) if state.node else state.history
                locale = step.state.locale or content.translator.default_locale
                request = PersonRequest(contact, locale, tuple(pages), now)
                replies = list(await hooks.person_requested(request, replies))
            if taken is not None and taken.replies:
                replies = [*taken.replies, *replies]
        except StorageError:
            self.errors += 1
            raise
        except Exception:
            logger.exception("Failed to handle an event from %s", address_hash(inbound.address))
            self.errors += 1
            return (self._apology(content, state.locale or contact.locale),)
        if step.state is not None:
            topic = step.topic
            if topic is None and step.state.misses > state.misses:
                topic = NOT_UNDERSTOOD_TOPIC
            if topic is not None:
                locale = step.state.locale or content.translator.default_locale
                self._count(now.date(), topic, locale, inbound.address.channel)
        return replies

    async def _render(self, step: Step, before: State) -> list[Reply]:
        content = self._content
        locale = (
            (step.state.locale if step.state is not None else None)
            or before.locale
            or content.translator.default_locale
        )
        updates: Sequence[tuple[date, dict[str, str]]] = ()
        if self._updates is not None and any(p.show_updates for p in step.replies):
            updates = await self._updates()
        return [self.renderer.render(plan, locale, updates) for plan in step.replies]

    async def _apply(self, step: Step, contact: Contact, now: datetime) -> None:
        actions = set(step.actions)
        if "forget" in actions:
            await self.storage.forget(contact.address)
            logger.info("Contact %s erased on request", address_hash(contact.address))
            return
        if "subscribe" in actions and not contact.subscribed:
            contact.subscribed = True
            contact.consent_at = now
        if "unsubscribe" in actions:
            contact.subscribed = False
        if "opt_out" in actions:
            contact.opted_out = True
            contact.subscribed = False
        if "opt_in" in actions:
            contact.opted_out = False
        contact.unreachable = False
        if step.state is not None:
            contact.locale = step.state.locale or contact.locale
        await self.storage.save_conversation(
            contact, step.state.to_json() if step.state is not None else None, now
        )

    def _apology(self, content: Content, locale: str | None) -> Reply:
        locale = locale or content.translator.default_locale
        try:
            return self.renderer.render(content.engine.apology(locale), locale)
        except Exception:
            logger.exception("Could not even build the apology")
            return Reply(text=texts.APOLOGY.msgid, locale="en")

    def _count(self, day: date, node: str, locale: str, channel: str) -> None:
        self._counts[(day, node, locale, channel)] += 1
        self._buffered += 1
        if self._buffered >= _COUNTER_FLUSH_AT and not self._flush_scheduled:
            self._flush_scheduled = True
            task = asyncio.get_running_loop().create_task(self._scheduled_flush())
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    async def _scheduled_flush(self) -> None:
        try:
            await self.flush_counters()
        finally:
            self._flush_scheduled = False

    async def flush_counters(self) -> None:
        """Write buffered topic counters (called periodically and at shutdown)."""
        if not self._counts:
            return
        counts, self._counts = self._counts, Counter()
        buffered, self._buffered = self._buffered, 0
        try:
            await self.storage.add_topic_counts(counts)
        except Exception:
            logger.exception("Could not save topic counters; keeping them for the next flush")
            self._counts.update(counts)
            self._buffered += buffered
