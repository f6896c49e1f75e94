"""The outbox's per-reply statements on SQLite's own driver: store a reply, erase it once sent.

A reply sent at once costs two statements, each its own transaction (the driver is in
autocommit mode): one ``INSERT ... SELECT ... RETURNING`` that finds the contact, sees
whether an earlier reply to it is still unsent and stores the new row held (``sending``) or
waiting (``pending``) accordingly, all atomically; and one ``DELETE`` once the provider took
it. The Core statements in :mod:`bot.storage.sql.outbox` do the same on PostgreSQL, and the
contract suite checks both. Several replies to one message are stored in one
``BEGIN IMMEDIATE`` transaction, so they are all held or all wait.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import Final

from bot.messages import Address
from bot.storage.outbox import Enqueued, OutboxItem, OutboxStatus
from bot.storage.sql.database import sqlite_time

_SENDING: Final = OutboxStatus.SENDING
# The statements spell the statuses out: 'pending' and 'sending' (OutboxStatus).
assert (OutboxStatus.PENDING, OutboxStatus.SENDING) == ("pending", "sending")

# ?1 channel, ?2 payload, ?3 now, ?4 expires_at, ?5 worker, ?6 the contact's blind index.
# The row waits when the contact has an unsent row already; otherwise it is held by the
# worker, which sends it at once.
_FIRST: Final = (
    "INSERT INTO outbox (contact_id, channel, payload, status, attempts, created_at, "
    "updated_at, expires_at, claimed_by, claimed_at) "
    "SELECT id, ?1, ?2, CASE WHEN waiting THEN 'pending' ELSE 'sending' END, "
    "CASE WHEN waiting THEN 0 ELSE 1 END, ?3, ?3, ?4, "
    "CASE WHEN waiting THEN NULL ELSE ?5 END, CASE WHEN waiting THEN NULL ELSE ?3 END "
    "FROM (SELECT contacts.id AS id, EXISTS (SELECT 1 FROM outbox "
    "WHERE outbox.contact_id = contacts.id "
    "AND outbox.status IN ('pending', 'sending')) AS waiting "
    "FROM contacts WHERE contacts.channel = ?1 AND contacts.address_hash = ?6) "
    "RETURNING id, contact_id, status"
)
_MORE: Final = (
    "INSERT INTO outbox (contact_id, channel, payload, status, attempts, created_at, "
    "updated_at, expires_at, claimed_by, claimed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "RETURNING id"
)
_SENT: Final = "DELETE FROM outbox WHERE id IN ({ids}) AND claimed_by = ? AND status = 'sending'"


def enqueue(
    driver: sqlite3.Connection,
    lookup: bytes,
    address: Address,
    payloads: list[str],
    worker: str,
    now: str,
    expires_at: datetime,
) -> Enqueued | None:
    """Store ``payloads`` for the contact whose blind index is ``lookup``; None if unknown.

    Args:
        driver: the SQLite connection, in autocommit mode.
        lookup: the blind index of ``address``.
        address: whose replies (returned in the items, never stored).
        payloads: the replies, in order.
        worker: the sender that holds the rows when they can go now.
        now: the time as SQLite stores it (:func:`sqlite_time`).
        expires_at: when retrying stops.
    """
    if not payloads:
        return Enqueued((), True)
    expires = sqlite_time(expires_at)
    several = len(payloads) > 1
    if several:
        driver.execute("BEGIN IMMEDIATE")
    try:
        row = driver.execute(
            _FIRST, (address.channel, payloads[0], now, expires, worker, lookup)
        ).fetchone()
        if row is None:
            if several:
                driver.execute("ROLLBACK")
            return None
        row_id, contact_id, status = row
        claimed = status == _SENDING
        items = [OutboxItem(int(row_id), int(contact_id), address, payloads[0], 1, expires_at)]
        for payload in payloads[1:]:
            (more_id,) = driver.execute(
                _MORE,
                (
                    contact_id,
                    address.channel,
                    payload,
                    status,
                    1 if claimed else 0,
                    now,
                    now,
                    expires,
                    worker if claimed else None,
                    now if claimed else None,
                ),
            ).fetchone()
            items.append(
                OutboxItem(int(more_id), int(contact_id), address, payload, 1, expires_at)
            )
        if several:
            driver.execute("COMMIT")
    except BaseException:
        # Never leave the transaction open: the next lone statement would run inside it.
        if several and driver.in_transaction:
            driver.execute("ROLLBACK")
        raise
    return Enqueued(tuple(items), claimed)


def sent(driver: sqlite3.Connection, worker: str, ids: list[int]) -> None:
    """Delete the rows ``worker`` holds among ``ids``: the provider took them."""
    marks = ", ".join("?" * len(ids))
    driver.execute(_SENT.format(ids=marks), (*ids, worker))
