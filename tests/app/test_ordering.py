"""One contact's messages are handled in the order they were stored, across two instances.

Several instances share one PostgreSQL database (a SQLite file serves one instance; its
ordering is tested through real HTTP in ``test_reliability.py``). Two conversation services
on one database act as two ``kyrbot serve`` instances behind a
load balancer: one person's messages alternate between them, each message handed in only
once the one before it was taken in (its number stored). Handled in order, every ``1``
opens the first page of the menu sent just before it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.conversation.service import ConversationService
from bot.conversation.version import Content
from bot.messages import Address, Inbound, Reply
from bot.storage.sql.storage import SqlStorage
from bot.storage.turns import Turn
from tests.support.paths import NOW
from tests.support.storage import SqlBackend, sql_database

PERSON = Address("sms", "+15550100177")
ROUNDS = 15


@pytest.fixture
async def backend(tmp_path: Path) -> AsyncIterator[SqlBackend]:
    async for db in sql_database("postgresql", tmp_path):
        yield db


class Instance:
    """A conversation service on a store of its own, telling when a message was taken in."""

    def __init__(self, storage: SqlStorage, content: Content) -> None:
        self.storage = storage
        self.service = ConversationService(content=content, storage=storage)
        self.taken_in: asyncio.Queue[Turn] = asyncio.Queue()
        turns = storage.turns
        take = turns.take_turn

        async def take_and_tell(address: Address, today):  # type: ignore[no-untyped-def]
            turn = await take(address, today)
            self.taken_in.put_nowait(turn)
            return turn

        turns.take_turn = take_and_tell  # type: ignore[method-assign]


def message(n: int) -> Inbound:
    return Inbound(
        address=PERSON,
        text="menu" if n % 2 == 0 else "1",
        received_at=NOW + timedelta(milliseconds=n),
        message_id=f"SM-order-{n}",
    )


def lead(replies: list[Reply] | tuple[Reply, ...]) -> str:
    return replies[0].text.split("\n\n", 1)[0]


async def test_one_persons_messages_alternating_between_two_instances_stay_in_order(
    backend: SqlBackend, content: Content
):
    instances = [Instance(backend.storage(), content), Instance(backend.storage(), content)]
    for instance in instances:
        await instance.storage.open()
    try:
        first = instances[0].service
        english = Inbound(address=PERSON, text="English", received_at=NOW, message_id="SM-en")
        await first.handle(english)
        menu = lead(await first.handle(message(0)))
        page = lead(await first.handle(message(1)))
        for _ in range(3):
            await instances[0].taken_in.get()
        handling: list[asyncio.Task[object]] = []
        for n in range(2, 2 + 2 * ROUNDS):
            instance = instances[n % 2]
            handling.append(asyncio.ensure_future(instance.service.handle(message(n))))
            await instance.taken_in.get()  # stored, numbered: the next may arrive
        answers = await asyncio.gather(*handling)
    finally:
        for instance in instances:
            await instance.storage.close()
    expected = [menu if n % 2 == 0 else page for n in range(2, 2 + 2 * ROUNDS)]
    assert [lead(a) for a in answers] == expected  # type: ignore[arg-type]
