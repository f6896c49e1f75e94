"""The turns in memory: each contact's two counters, kept beside its row."""

from __future__ import annotations

from datetime import date

from typing_extensions import override

from bot.messages import Address
from bot.storage.memory.database import MemoryConnection
from bot.storage.models import Contact
from bot.storage.turns import Turn, TurnStore


class MemoryTurns(TurnStore):
    """:class:`TurnStore` in memory (counters in the shared :class:`MemoryDatabase`).

    Args:
        connection: this store's connection to the rows.
    """

    shared = False  # one process; its calls never interleave

    def __init__(self, connection: MemoryConnection) -> None:
        self._connection = connection

    @override
    async def take_turn(self, address: Address, today: date) -> Turn:
        rows = self._connection.rows()
        contact_id = rows.contact_ids.get((address.channel, address.id))
        if contact_id is None:
            contact_id = rows.next_id("contacts")
            rows.contact_ids[address.channel, address.id] = contact_id
            rows.contacts[contact_id] = Contact(
                id=contact_id, address=address, last_seen_day=today
            )
        taken, done = rows.turns.get(contact_id, (0, 0))
        rows.turns[contact_id] = (taken + 1, done)
        return Turn(contact_id, taken + 1, done)

    @override
    async def turn_done(self, turn: Turn) -> None:
        rows = self._connection.rows()
        if turn.contact_id in rows.contacts:
            taken, done = rows.turns.get(turn.contact_id, (0, 0))
            rows.turns[turn.contact_id] = (taken, max(done, turn.number))

    @override
    async def turns_done(self, contact_id: int) -> int:
        return self._connection.rows().turns.get(contact_id, (0, 0))[1]
