"""The conversation store in SQL: contacts, sessions, dedup ids and topic counters.

On SQLite the per-message calls go to the driver (:mod:`bot.storage.sql.fastpath`); the rest,
and everything on PostgreSQL, are Core statements run by
:meth:`~bot.storage.sql.database.Database.run`. Contact fields are written only when they
changed since this store last read them (:mod:`bot.storage.snapshots`).
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection
from typing_extensions import override

from bot.errors import StorageError
from bot.messages import Address
from bot.storage.base import ConversationStore
from bot.storage.models import Contact, CounterRow, PruneResult, SessionRecord
from bot.storage.snapshots import ContactSnapshots
from bot.storage.sql import fastpath
from bot.storage.sql.database import Database, begin_write, driver, upsert
from bot.storage.sql.erasure import erase_contacts, inactive_contacts
from bot.storage.sql.rows import CONTACT_COLUMNS, CONTACT_WIDTH, contact_from_row, session_from_row
from bot.storage.sql.tables import contacts, inbound_ids, sessions, topic_counters
from bot.storage.values import aware, dumps

logger = logging.getLogger(__name__)

_BY_ADDRESS: Final = sa.and_(
    contacts.c.channel == sa.bindparam("channel"),
    contacts.c.address_hash == sa.bindparam("address_hash"),
)
"""A contact is found by its blind index; its address is decrypted only to send to it."""


def _contact_gone(exc: StorageError) -> bool:
    """Whether a failed write failed because the contact was forgotten meanwhile."""
    return isinstance(exc.__cause__, sa_exc.IntegrityError | sqlite3.IntegrityError)


class SqlConversations(ConversationStore):
    """:class:`ConversationStore` on a :class:`Database` (SQLite or PostgreSQL).

    Args:
        db: the database, shared with the store's other parts.
    """

    def __init__(self, db: Database) -> None:
        self._db = db
        self._known = ContactSnapshots()
        self._q_claim = upsert(db.dialect_name, inbound_ids).on_conflict_do_nothing(
            index_elements=[inbound_ids.c.channel, inbound_ids.c.message_id]
        )
        self._q_load = (
            sa.select(*CONTACT_COLUMNS, sessions.c.state, sessions.c.updated_at)
            .select_from(contacts.outerjoin(sessions, sessions.c.contact_id == contacts.c.id))
            .where(_BY_ADDRESS)
        )
        self._q_get = sa.select(*CONTACT_COLUMNS).where(_BY_ADDRESS)
        self._q_create = (
            upsert(db.dialect_name, contacts)
            .on_conflict_do_nothing(index_elements=[contacts.c.channel, contacts.c.address_hash])
            .returning(contacts.c.id)
        )
        self._q_touch = (
            sa.update(contacts)
            .where(contacts.c.id == sa.bindparam("contact"))
            .values(last_seen_day=sa.bindparam("day"))
        )
        session_insert = upsert(db.dialect_name, sessions)
        self._q_put_session = session_insert.on_conflict_do_update(
            index_elements=[sessions.c.contact_id],
            set_={
                "state": session_insert.excluded.state,
                "updated_at": session_insert.excluded.updated_at,
            },
        )
        self._q_drop_session = sa.delete(sessions).where(
            sessions.c.contact_id == sa.bindparam("contact")
        )
        counter_insert = upsert(db.dialect_name, topic_counters)
        self._q_count = counter_insert.on_conflict_do_update(
            index_elements=list(topic_counters.primary_key.columns),
            set_={"count": topic_counters.c.count + counter_insert.excluded["count"]},
        )

    def forget_snapshots(self) -> None:
        """Drop what this store remembers of contacts (call when the database closes)."""
        self._known.clear()

    @override
    async def claim_inbound(self, channel: str, message_id: str, now: datetime) -> bool:
        aware(now, "now")
        db = self._db
        if db.sqlite:
            return db.on_driver(
                "claim_inbound", fastpath.claim, (channel, message_id, db.sqlite_now(now))
            )
        params = {"channel": channel, "message_id": message_id, "seen_at": now}
        return await db.run("claim_inbound", self._claim, params)

    def _claim(self, conn: Connection, params: dict[str, Any]) -> bool:
        return conn.execute(self._q_claim, params).rowcount == 1

    @override
    async def load_conversation(
        self, address: Address, today: date
    ) -> tuple[Contact, SessionRecord | None]:
        found = None
        lookup = self._db.vault.lookup(address)
        if self._db.sqlite:  # a known contact in one or two statements; a new one below
            found = self._db.on_driver("load_conversation", fastpath.load, address, lookup, today)
        if found is None:
            found = await self._db.run("load_conversation", self._load, address, lookup, today)
        contact, session = found
        self._known.remember(contact)
        return contact, session

    def _load(
        self, conn: Connection, address: Address, lookup: bytes, today: date
    ) -> tuple[Contact, SessionRecord | None]:
        key = {
            "channel": address.channel,
            "address_hash": lookup,
            "address_cipher": self._db.vault.seal(address),
        }
        for _ in range(3):
            found = (
                fastpath.load(driver(conn), address, lookup, today)
                if self._db.sqlite
                else self._core_load(conn, address, lookup, today)
            )
            if found is not None:
                return found
            created = conn.execute(self._q_create, {**key, "last_seen_day": today}).scalar()
            if created is not None:
                return Contact(id=created, address=address, last_seen_day=today), None
            # Another task or process created it first: read theirs.
        raise StorageError("load_conversation: the contact kept disappearing while loading")

    def _core_load(
        self, conn: Connection, address: Address, lookup: bytes, today: date
    ) -> tuple[Contact, SessionRecord | None] | None:
        """As :func:`fastpath.load`, in Core statements."""
        row = conn.execute(
            self._q_load, {"channel": address.channel, "address_hash": lookup}
        ).first()
        if row is None:
            return None
        contact = contact_from_row(address, row)
        if contact.last_seen_day != today:
            conn.execute(self._q_touch, {"contact": contact.id, "day": today})
            contact.last_seen_day = today
        return contact, session_from_row(row[CONTACT_WIDTH], row[CONTACT_WIDTH + 1])

    @override
    async def save_conversation(
        self, contact: Contact, state: Mapping[str, Any] | None, now: datetime
    ) -> None:
        aware(now, "now")
        db = self._db
        changed = self._known.changes(contact)
        state_json = None if state is None else dumps(dict(state))
        try:
            if db.sqlite and state_json is not None:
                written = db.on_driver(
                    "save_conversation",
                    fastpath.save,
                    contact.id,
                    changed,
                    state_json,
                    db.sqlite_now(now),
                )
            else:
                written = await db.run(
                    "save_conversation", self._save, contact.id, changed, state_json, now
                )
        except StorageError as exc:
            if not _contact_gone(exc):
                raise
            written = False
        if not written:
            self._known.drop(contact.id)
            logger.debug("save_conversation: the contact was forgotten meanwhile; not saved")
            return
        self._known.remember(contact)

    def _save(
        self,
        conn: Connection,
        contact_id: int,
        changed: dict[str, Any],
        state_json: str | None,
        now: datetime,
    ) -> bool:
        if changed:
            begin_write(conn)
            if not self._update(conn, contact_id, changed):
                return False
        if state_json is None:
            conn.execute(self._q_drop_session, {"contact": contact_id})
            return True
        # A session to put: only PostgreSQL comes here (SQLite uses fastpath.save). A
        # contact forgotten meanwhile fails its foreign key: see _contact_gone.
        conn.execute(
            self._q_put_session,
            {"contact_id": contact_id, "state": state_json, "updated_at": now},
        )
        return True

    @override
    async def update_contact(self, contact: Contact) -> None:
        changed = self._known.changes(contact)
        if not changed:
            return
        if not await self._db.run("update_contact", self._update, contact.id, changed):
            self._known.drop(contact.id)
            logger.debug("update_contact: the contact was forgotten meanwhile; not saved")
            return
        self._known.remember(contact)

    @staticmethod
    def _update(conn: Connection, contact_id: int, changed: dict[str, Any]) -> bool:
        update = sa.update(contacts).where(contacts.c.id == contact_id).values(changed)
        return bool(conn.execute(update).rowcount == 1)

    @override
    async def get_contact(self, address: Address) -> Contact | None:
        contact = await self._db.run("get_contact", self._get, address)
        if contact is not None:
            self._known.remember(contact)
        return contact

    def _get(self, conn: Connection, address: Address) -> Contact | None:
        lookup = self._db.vault.lookup(address)
        row = conn.execute(
            self._q_get, {"channel": address.channel, "address_hash": lookup}
        ).first()
        return None if row is None else contact_from_row(address, row)

    @override
    async def forget(self, address: Address) -> bool:
        contact_id = await self._db.run(
            "forget", _forget, address.channel, self._db.vault.lookup(address)
        )
        if contact_id is None:
            return False
        self._known.drop(contact_id)
        self._db.scrub_after_erase()
        return True

    @override
    async def prune_contacts(self, *, seen_before: date, limit: int = 500) -> int:
        erased = await self._db.run("prune_contacts", _prune_contacts, seen_before, limit)
        for contact_id in erased:
            self._known.drop(contact_id)
        return len(erased)

    @override
    async def add_topic_counts(self, counts: Mapping[tuple[date, str, str, str], int]) -> None:
        # Sorted, so concurrent writers lock rows in the same order and cannot deadlock.
        rows = [
            {"day": day, "node": node, "locale": locale, "channel": channel, "count": count}
            for (day, node, locale, channel), count in sorted(counts.items())
            if count
        ]
        if rows:
            await self._db.run("add_topic_counts", self._add_counts, rows)

    def _add_counts(self, conn: Connection, rows: list[dict[str, Any]]) -> None:
        if len(rows) > 1:
            begin_write(conn)
        conn.execute(self._q_count, rows)

    @override
    async def topic_counts(self, *, since: date, until: date) -> list[CounterRow]:
        return await self._db.run("topic_counts", _counts, since, until)

    @override
    async def prune_conversations(
        self, *, sessions_before: datetime, inbound_before: datetime
    ) -> PruneResult:
        return await self._db.run(
            "prune",
            _prune,
            aware(sessions_before, "sessions_before"),
            aware(inbound_before, "inbound_before"),
        )


def _forget(conn: Connection, channel: str, lookup: bytes) -> int | None:
    begin_write(conn)
    contact_id = conn.execute(
        sa.select(contacts.c.id).where(
            contacts.c.channel == channel, contacts.c.address_hash == lookup
        )
    ).scalar()
    if contact_id is None:
        return None
    erase_contacts(conn, [int(contact_id)])
    return int(contact_id)


def _prune_contacts(conn: Connection, seen_before: date, limit: int) -> list[int]:
    begin_write(conn)
    stale = inactive_contacts(conn, seen_before, limit)
    erase_contacts(conn, stale)
    return stale


def _counts(conn: Connection, since: date, until: date) -> list[CounterRow]:
    t = topic_counters
    query = (
        sa.select(t.c.day, t.c.node, t.c.locale, t.c.channel, t.c.count)
        .where(t.c.day >= since, t.c.day <= until)
        .order_by(t.c.day, t.c.node, t.c.locale, t.c.channel)
    )
    return [CounterRow(*row) for row in conn.execute(query)]


def _prune(conn: Connection, sessions_before: datetime, inbound_before: datetime) -> PruneResult:
    begin_write(conn)
    return PruneResult(
        sessions=conn.execute(
            sa.delete(sessions).where(sessions.c.updated_at < sessions_before)
        ).rowcount,
        inbound_ids=conn.execute(
            sa.delete(inbound_ids).where(inbound_ids.c.seen_at < inbound_before)
        ).rowcount,
    )
