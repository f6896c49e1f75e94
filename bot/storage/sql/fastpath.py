"""The per-message statements on SQLite's own driver: claim, load and save, outside SQLAlchemy.

Every message runs these three, so on SQLite they are written in SQLite's SQL and run on the
``sqlite3`` connection directly (:meth:`~bot.storage.sql.database.Database.on_driver`),
skipping SQLAlchemy's per-statement and per-transaction work. Each is atomic by itself; a
save that also changes contact fields wraps both writes in ``BEGIN IMMEDIATE``. The contract
suite checks them against the Core statements used on PostgreSQL. Times are stored as
SQLAlchemy's SQLite ``DateTime`` stores them (:func:`~bot.storage.sql.database.sqlite_time`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any, Final

from bot.messages import Address
from bot.storage.models import Contact, SessionRecord
from bot.storage.sql.database import sqlite_time
from bot.storage.sql.rows import CONTACT_WIDTH, contact_from_row, session_from_row

_CLAIM: Final = (
    "INSERT INTO inbound_ids (channel, message_id, seen_at) VALUES (?, ?, ?) "
    "ON CONFLICT (channel, message_id) DO NOTHING"
)
_LOAD: Final = (
    "SELECT contacts.id, contacts.locale, contacts.subscribed, contacts.consent_at, "
    "contacts.opted_out, contacts.unreachable, contacts.last_seen_day, "
    "contacts.last_inbound_at, sessions.state, "
    "sessions.updated_at FROM contacts LEFT OUTER JOIN sessions "
    "ON sessions.contact_id = contacts.id "
    "WHERE contacts.channel = ? AND contacts.address_hash = ?"
)
_TOUCH: Final = "UPDATE contacts SET last_seen_day = ? WHERE contacts.id = ?"
_PUT_SESSION: Final = (
    "INSERT INTO sessions (contact_id, state, updated_at) VALUES (?, ?, ?) "
    "ON CONFLICT (contact_id) DO UPDATE SET state = excluded.state, "
    "updated_at = excluded.updated_at"
)


def _from_sqlite_time(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value).replace(tzinfo=UTC)


def _sqlite_value(value: object) -> object:
    """A contact field as SQLAlchemy's SQLite types store it."""
    if isinstance(value, datetime):
        return sqlite_time(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def claim(driver: sqlite3.Connection, params: tuple[str, str, str]) -> bool:
    """Insert ``(channel, message_id, seen_at)`` into the dedup ids; False if it was there."""
    return bool(driver.execute(_CLAIM, params).rowcount == 1)


def _load_row(driver: sqlite3.Connection, channel: str, lookup: bytes) -> tuple[Any, ...] | None:
    raw = driver.execute(_LOAD, (channel, lookup)).fetchone()
    if raw is None:
        return None
    cid, locale, subscribed, consent_at, opted_out, unreachable, day, inbound, state, updated = raw
    return (
        cid,
        locale,
        bool(subscribed),
        _from_sqlite_time(consent_at),
        bool(opted_out),
        bool(unreachable),
        date.fromisoformat(day) if day else None,
        _from_sqlite_time(inbound),
        state,
        _from_sqlite_time(updated),
    )


def load(
    driver: sqlite3.Connection, address: Address, lookup: bytes, today: date
) -> tuple[Contact, SessionRecord | None] | None:
    """A known contact and its session, its last-seen day set to ``today``; None if unknown.

    The contact is found by ``lookup``, the blind index of ``address``.
    """
    row = _load_row(driver, address.channel, lookup)
    if row is None:
        return None
    contact = contact_from_row(address, row)
    if contact.last_seen_day != today:
        # Setting a day is idempotent, so no transaction is needed around read and write.
        driver.execute(_TOUCH, (today.isoformat(), contact.id))
        contact.last_seen_day = today
    return contact, session_from_row(row[CONTACT_WIDTH], row[CONTACT_WIDTH + 1])


def save(
    driver: sqlite3.Connection,
    contact_id: int,
    changed: Mapping[str, Any],
    state_json: str,
    updated_at: str,
) -> bool:
    """Write a contact's changed fields and its session, atomically.

    Args:
        driver: the SQLite connection, in autocommit mode.
        contact_id: whose.
        changed: contact column -> new value (names from a fixed set, never user input).
        state_json: the session state.
        updated_at: ``now`` as SQLite stores it.

    Returns:
        False when the contact is gone (forgotten meanwhile): nothing was written.
    """
    if not changed:  # the usual message: one upsert, atomic by itself
        return _put_session(driver, (contact_id, state_json, updated_at))
    assignments = ", ".join(f"{name} = ?" for name in changed)
    driver.execute("BEGIN IMMEDIATE")
    try:
        cursor = driver.execute(
            f"UPDATE contacts SET {assignments} WHERE id = ?",  # noqa: S608 -- fixed names
            (*map(_sqlite_value, changed.values()), contact_id),
        )
        written = cursor.rowcount == 1 and _put_session(
            driver, (contact_id, state_json, updated_at)
        )
        driver.execute("COMMIT" if written else "ROLLBACK")
    except BaseException:
        # Never leave the transaction open: the next lone statement would run inside it.
        if driver.in_transaction:  # an error may already have rolled it back
            driver.execute("ROLLBACK")
        raise
    return written


def _put_session(driver: sqlite3.Connection, params: tuple[int, str, str]) -> bool:
    try:
        driver.execute(_PUT_SESSION, params)
    except sqlite3.IntegrityError:  # the contact is gone (foreign key)
        return False
    return True
