"""The turns in SQL: two counters on each contact, moved by single atomic statements.

``take_turn`` is one ``UPDATE ... RETURNING`` (the row lock orders concurrent writers on
PostgreSQL; SQLite has one writer), so the numbers follow the order the database stored the
messages, across instances too. ``turn_done`` only ever raises ``handled_seq``.
"""

from __future__ import annotations

import sqlite3
from datetime import date
from typing import Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from typing_extensions import override

from bot.errors import StorageError
from bot.messages import Address
from bot.privacy import AddressVault
from bot.storage.sql.database import Database, upsert
from bot.storage.sql.tables import contacts
from bot.storage.turns import Turn, TurnStore

_TAKE = (
    sa.update(contacts)
    .where(
        contacts.c.channel == sa.bindparam("ch"), contacts.c.address_hash == sa.bindparam("lookup")
    )
    .values(inbound_seq=contacts.c.inbound_seq + 1)
    .returning(contacts.c.id, contacts.c.inbound_seq, contacts.c.handled_seq)
)
_DONE = (
    sa.update(contacts)
    .where(contacts.c.id == sa.bindparam("cid"), contacts.c.handled_seq < sa.bindparam("seq"))
    .values(handled_seq=sa.bindparam("seq"))
)


# The same two statements in SQLite's SQL, run on the driver (every message runs both; see
# bot.storage.sql.fastpath for why).
_SQLITE_TAKE: Final = (
    "UPDATE contacts SET inbound_seq = inbound_seq + 1 WHERE channel = ? AND address_hash = ? "
    "RETURNING id, inbound_seq, handled_seq"
)
_SQLITE_DONE: Final = "UPDATE contacts SET handled_seq = ? WHERE id = ? AND handled_seq < ?"


def _sqlite_take(driver: sqlite3.Connection, channel: str, lookup: bytes) -> Turn | None:
    row = driver.execute(_SQLITE_TAKE, (channel, lookup)).fetchone()
    return None if row is None else Turn(int(row[0]), int(row[1]), int(row[2]))


def _sqlite_done(driver: sqlite3.Connection, contact_id: int, number: int) -> None:
    driver.execute(_SQLITE_DONE, (number, contact_id, number))


def _take(conn: Connection, vault: AddressVault, address: Address, today: date) -> Turn:
    lookup = vault.lookup(address)
    key = {"ch": address.channel, "lookup": lookup}
    for _ in range(3):
        row = conn.execute(_TAKE, key).first()
        if row is not None:
            return Turn(int(row[0]), int(row[1]), int(row[2]))
        conn.execute(
            upsert(conn.dialect.name, contacts)
            .values(
                channel=address.channel,
                address_hash=lookup,
                address_cipher=vault.seal(address),
                last_seen_day=today,
            )
            .on_conflict_do_nothing(index_elements=[contacts.c.channel, contacts.c.address_hash])
        )
    raise StorageError("take_turn: the contact kept disappearing")


def _done(conn: Connection, contact_id: int, number: int) -> None:
    conn.execute(_DONE, {"cid": contact_id, "seq": number})


def _read(conn: Connection, contact_id: int) -> int:
    value = conn.execute(
        sa.select(contacts.c.handled_seq).where(contacts.c.id == contact_id)
    ).scalar()
    return int(value or 0)


class SqlTurns(TurnStore):
    """:class:`TurnStore` on a :class:`Database` (SQLite or PostgreSQL).

    Args:
        db: the database, shared with the store's other parts.
    """

    def __init__(self, db: Database) -> None:
        self._db = db
        self.shared = not db.sqlite  # one SQLite file serves one instance

    @override
    async def take_turn(self, address: Address, today: date) -> Turn:
        if self._db.sqlite:  # a known contact: one statement on the driver
            lookup = self._db.vault.lookup(address)
            turn = self._db.on_driver("take_turn", _sqlite_take, address.channel, lookup)
            if turn is not None:
                return turn
        return await self._db.run("take_turn", _take, self._db.vault, address, today)

    @override
    async def turn_done(self, turn: Turn) -> None:
        if self._db.sqlite:
            self._db.on_driver("turn_done", _sqlite_done, turn.contact_id, turn.number)
            return
        await self._db.run("turn_done", _done, turn.contact_id, turn.number)

    @override
    async def turns_done(self, contact_id: int) -> int:
        return await self._db.run("turns_done", _read, contact_id)
