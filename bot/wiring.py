"""Hooks between the parts :mod:`bot.app` builds: what channels call, and the handoff."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from bot.broadcast.service import BroadcastService
from bot.channels.base import Channel, ChannelCallbacks
from bot.channels.desk import DeskHost
from bot.channels.outbox import OutboxSender
from bot.channels.pacing import LOOP_TIMER, Timer
from bot.config import Config
from bot.conversation.service import ConversationService
from bot.errors import StorageError
from bot.handoff.relay import ChannelRelay
from bot.handoff.service import HandoffService
from bot.health import Health
from bot.messages import DeliveryReport, Inbound, Reply
from bot.storage import Storage


def build_handoff(
    config: Config,
    storage: Storage,
    service: ConversationService,
    channels: list[Channel],
    *,
    timer: Timer = LOOP_TIMER,
    clock: Callable[[], datetime] | None = None,
    outbox: OutboxSender | None = None,
) -> tuple[HandoffService, ChannelRelay | None]:
    """The handoff to volunteers on these channels, hooked into the conversation.

    With a volunteers' group (``handoff.telegram_chat_id``) on a channel that hosts it, the
    relay sends answers to people through ``outbox`` (as replies; directly without one) and
    the group's messages reach the service; without a group, asking for a person gives the
    phone numbers.
    """
    host = next((c for c in channels if isinstance(c, DeskHost) and c.group is not None), None)
    relay: ChannelRelay | None = None
    if host is not None and isinstance(host, Channel) and host.group is not None:
        relay = ChannelRelay(
            channels={c.name: c for c in channels},
            group_channel=host,
            group=host.group,
            contacts=storage,
            per_minute=config.handoff.group_messages_per_minute,
            timer=timer,
            outbox=outbox,
        )
    handoff = HandoffService(
        storage=storage,
        config=config,
        conversation=service,
        sender=relay,
        capabilities={c.name: c.capabilities for c in channels},
        clock=clock or (lambda: datetime.now(UTC)),
    )
    if host is not None and relay is not None:
        host.attach_desk(handoff.on_volunteer)
        relay.on_lost = handoff.relay_lost
    service.hooks = handoff
    return handoff, relay


def channel_callbacks(
    service: ConversationService,
    broadcasts: BroadcastService | None = None,
    *,
    outbox: OutboxSender | None = None,
    health: Health | None = None,
) -> ChannelCallbacks:
    """What channels call: the conversation, delivery tracking, the outbox, the health.

    Events and unreachable people go to ``service``; delivery reports to ``broadcasts``
    (ignored without it); replies outside a webhook response through ``outbox`` (sent
    directly without it). With ``health``, a storage failure refuses further events until
    a probe passes again.
    """

    async def ignore(_report: DeliveryReport) -> None:
        return None

    async def on_inbound(inbound: Inbound) -> Sequence[Reply]:
        try:
            return await service.handle(inbound)
        except StorageError as exc:
            if health is not None:
                health.storage_failed(str(exc))
            raise

    return ChannelCallbacks(
        on_inbound=on_inbound if health is not None else service.handle,
        on_delivery_report=broadcasts.on_delivery_report if broadcasts is not None else ignore,
        on_unreachable=service.contact_unreachable,
        send_replies=outbox.submit if outbox is not None else None,
        accepting=health.accepting if health is not None else (lambda: True),
    )
