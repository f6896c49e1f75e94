"""Channel callbacks from a stand-in for the conversation (any object with the three methods)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from bot.channels.base import ChannelCallbacks
from bot.messages import Address, DeliveryReport, Inbound, Reply


class StandIn(Protocol):
    """What a test's stand-in for the conversation and delivery tracking offers."""

    async def handle(self, inbound: Inbound) -> Sequence[Reply]: ...

    async def contact_unreachable(self, address: Address, *, opted_out: bool) -> None: ...

    async def delivery_report(self, report: DeliveryReport) -> None: ...


def callbacks_of(stand_in: StandIn) -> ChannelCallbacks:
    """What a channel is started with, calling ``stand_in``."""
    return ChannelCallbacks(
        on_inbound=stand_in.handle,
        on_delivery_report=stand_in.delivery_report,
        on_unreachable=stand_in.contact_unreachable,
    )
