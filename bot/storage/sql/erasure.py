"""Erasing contacts with every row tied to them, whichever tables refer to them.

Tables that refer to ``contacts.id`` are found in the database itself (its foreign keys), so
a table added later (an outbox, tickets) is erased too without being named here. The foreign
keys cascade as well; deleting explicitly keeps erasure independent of that.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bot.storage.sql.tables import SUBSCRIBER, contacts

_BATCH: Final = 500
"""Contacts erased per statement: keeps each ``IN (...)`` list well inside SQLite's limits."""


def contact_references(conn: Connection) -> list[tuple[str, str]]:
    """Every ``(table, column)`` with a foreign key to ``contacts.id``."""
    inspector = sa.inspect(conn)
    found: list[tuple[str, str]] = []
    for table in sorted(inspector.get_table_names()):
        for fk in inspector.get_foreign_keys(table):
            if fk["referred_table"] == "contacts" and fk["referred_columns"] == ["id"]:
                found.extend((table, column) for column in fk["constrained_columns"])
    return found


def erase_contacts(conn: Connection, contact_ids: Sequence[int]) -> int:
    """Delete the contacts and every row referring to them; returns how many contacts went.

    Runs inside the caller's write transaction.
    """
    if not contact_ids:
        return 0
    references = contact_references(conn)
    erased = 0
    for start in range(0, len(contact_ids), _BATCH):
        ids = list(contact_ids[start : start + _BATCH])
        for table, column in references:
            ref = sa.table(table, sa.column(column))
            conn.execute(sa.delete(ref).where(ref.c[column].in_(ids)))
        erased += conn.execute(sa.delete(contacts).where(contacts.c.id.in_(ids))).rowcount
    return erased


def inactive_contacts(conn: Connection, seen_before: date, limit: int) -> list[int]:
    """Up to ``limit`` contacts that are not subscribers and were last seen before that day."""
    query = (
        sa.select(contacts.c.id)
        .where(
            ~SUBSCRIBER,
            sa.or_(contacts.c.last_seen_day.is_(None), contacts.c.last_seen_day < seen_before),
        )
        .order_by(contacts.c.id)
        .limit(limit)
    )
    return [int(cid) for cid in conn.execute(query).scalars()]
