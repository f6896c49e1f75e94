"""python-telegram-bot keeps no chat or user id: after 3,000 chats, and after /forget.

The real PTB Application runs against the fake Bot API; afterwards every object reachable
from the channel (its Application, bot, update processor, caches) is searched for any of the
ids that wrote, as numbers or as text.
"""

from __future__ import annotations

import gc
import types
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field

import pytest

from bot.channels.telegram.adapter import TelegramChannel
from bot.config import parse_config
from bot.messages import Address, DeliveryReport, Inbound, Reply
from tests.fakes.callbacks import callbacks_of
from tests.fakes.telegram_server import FakeBotApi

PEOPLE = 3000
FIRST_ID = 7_100_000_000
"""Far from any other number a test run holds, so a match is one of these ids."""

_OPAQUE = (
    types.ModuleType,
    type,
    types.FunctionType,
    types.BuiltinFunctionType,
    types.CodeType,
    types.FrameType,
    types.CoroutineType,
    types.GeneratorType,
    types.AsyncGeneratorType,
)
"""Where the search stops: beyond these lie the test's own variables and the interpreter."""


def reachable(root: object, *, limit: int = 500_000) -> Iterator[object]:
    """Every object reachable from ``root`` through containers and attributes."""
    seen: set[int] = set()
    stack = [root]
    while stack and len(seen) < limit:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        yield obj
        if isinstance(obj, _OPAQUE):
            continue
        stack.extend(gc.get_referents(obj))
        if not gc.is_tracked(obj) and hasattr(obj, "__slots__"):
            stack.extend(getattr(obj, name, None) for name in obj.__slots__)


def ids_kept(root: object, ids: set[int]) -> set[int]:
    texts = {str(i) for i in ids}
    found: set[int] = set()
    for obj in reachable(root):
        if type(obj) is int and obj in ids:
            found.add(obj)
        elif type(obj) is str and obj in texts:
            found.add(int(obj))
    return found


@dataclass
class Quiet:
    """Takes every event and answers nothing (no sends: the test is about what PTB keeps)."""

    inbounds: list[Inbound] = field(default_factory=list)

    async def handle(self, inbound: Inbound) -> Sequence[Reply]:
        self.inbounds.append(inbound)
        return ()

    async def contact_unreachable(self, address: Address, *, opted_out: bool) -> None:
        return None

    async def delivery_report(self, report: DeliveryReport) -> None:
        return None


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotApi]:
    async with FakeBotApi() as server:
        yield server


async def test_no_chat_or_user_id_is_kept_after_3000_chats_and_a_forget(fake: FakeBotApi) -> None:
    quiet = Quiet()
    channel = TelegramChannel(
        parse_config({"telegram": {"token": fake.token, "base_url": fake.base_url}})
    )
    await channel.start(callbacks_of(quiet))
    try:
        people = set(range(FIRST_ID, FIRST_ID + PEOPLE))
        for person in sorted(people):
            fake.push_update(fake.text_update(person, "hola"))
        fake.push_update(fake.text_update(FIRST_ID, "/forget"))
        await fake.wait_until(lambda: len(quiet.inbounds) == PEOPLE + 1, within=60)
        await channel.drain()
        quiet.inbounds.clear()  # the stand-in's own record is not the channel's
        # The last update's task may still be unwinding (its chat's lock is released last):
        # what is in flight is not residue, so wait for it to end.
        await fake.wait_until(lambda: not ids_kept(channel, people), within=20)

        assert ids_kept(channel, people) == set()
    finally:
        await channel.stop()
