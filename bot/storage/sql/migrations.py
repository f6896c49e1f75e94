"""Brings a database's schema up to the version this code knows, one ordered step at a time.

The ``schema_version`` table records each applied step. :func:`upgrade` runs inside the
caller's write transaction, so a failed step leaves the database as it was:

* a fresh database (no recorded version) gets the current schema from
  :mod:`bot.storage.sql.tables` in one go and is stamped with the latest version;
* an older database gets every step after its version, in order;
* a database at a version newer than :data:`LATEST` is refused with :class:`StorageError`,
  because older code could corrupt data it does not understand.

Two processes starting at once are serialized: on PostgreSQL by a transaction-scoped advisory
lock taken before the version is read; on SQLite by the caller's ``BEGIN IMMEDIATE``.

To change the schema: edit :mod:`bot.storage.sql.tables`, then append a step here that turns the
previous version into the new one (``ALTER TABLE ...``). Never edit or reorder shipped steps.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bot.errors import StorageError
from bot.storage.sql import tables

logger = logging.getLogger(__name__)

PG_LOCK_KEY = 0x6B7972626F740001
"""``pg_advisory_xact_lock`` key for schema changes ("kyrbot" in ASCII, then 1)."""


@dataclass(frozen=True, slots=True)
class Migration:
    """One schema step: ``apply`` turns version ``version - 1`` into ``version``."""

    version: int
    description: str
    apply: Callable[[Connection], None]


def _create_tables(conn: Connection) -> None:
    # Builds the schema as tables.py defines it now. That is only right for step 1 because
    # a fresh database is stamped with LATEST right after (see upgrade()); steps 2+ must
    # be written as changes to the previous version.
    data_tables = [t for t in tables.metadata.sorted_tables if t is not tables.schema_version]
    tables.metadata.create_all(conn, tables=data_tables, checkfirst=False)


def _add_columns(conn: Connection, table: str, *columns: sa.Column[Any]) -> None:
    """``ALTER TABLE ... ADD COLUMN`` for each column, in the connection's SQL dialect."""
    sa.Table(table, sa.MetaData(), *columns)  # gives the columns a table to compile against
    for column in columns:
        ddl = sa.schema.CreateColumn(column).compile(dialect=conn.dialect)
        conn.execute(sa.text(f"ALTER TABLE {table} ADD COLUMN {ddl}"))


def _broadcast_fan_out(conn: Connection) -> None:
    # Version 2: what resumable, rate-limited broadcasts need. Written out in full rather than
    # taken from tables.py, so this step stays what it was when tables.py changes again.
    big_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    _add_columns(
        conn,
        "broadcasts",
        sa.Column("audience_upto", big_id, nullable=True),
        sa.Column("materialized_upto", big_id, nullable=False, server_default="0"),
        sa.Column("materialized", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    _add_columns(
        conn,
        "deliveries",
        sa.Column("claimed_by", sa.String, nullable=True),
        sa.Column("claimed_at", tables.UtcDateTime, nullable=True),
        sa.Column("not_before", tables.UtcDateTime, nullable=True),
    )
    metadata = sa.MetaData(naming_convention=tables.metadata.naming_convention)
    deliveries = sa.Table(
        "deliveries",
        metadata,
        sa.Column("broadcast_id", big_id),
        sa.Column("channel", sa.String),
        sa.Column("status", sa.String),
        sa.Column("claimed_by", sa.String),
    )
    sa.Index(
        "ix_deliveries_broadcast_id_channel_status",
        deliveries.c.broadcast_id,
        deliveries.c.channel,
        deliveries.c.status,
    ).create(conn)
    in_flight = deliveries.c.status == "sending"
    sa.Index(
        "ix_deliveries_claimed_by_sending",
        deliveries.c.claimed_by,
        sqlite_where=in_flight,
        postgresql_where=in_flight,
    ).create(conn)
    sa.Table(
        "broadcast_workers",
        metadata,
        sa.Column("id", sa.String, primary_key=True),
        sa.Column("host", sa.String, nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("started_at", tables.UtcDateTime, nullable=False),
        sa.Column("heartbeat_at", tables.UtcDateTime, nullable=False),
    ).create(conn)
    sa.Table(
        "send_rate",
        metadata,
        sa.Column("channel", sa.String, primary_key=True),
        sa.Column("next_free_at", sa.Double, nullable=False),
    ).create(conn)


def _inbound_ids_without_rowid(conn: Connection) -> None:
    # Version 3: on SQLite, rebuild the dedup table as one B-tree keyed by its primary key.
    # PostgreSQL tables have no rowid, so nothing changes there.
    if conn.dialect.name != "sqlite":
        return
    conn.exec_driver_sql("ALTER TABLE inbound_ids RENAME TO inbound_ids_v2")
    sa.Table(
        "inbound_ids",
        sa.MetaData(naming_convention=tables.metadata.naming_convention),
        sa.Column("channel", sa.String, primary_key=True),
        sa.Column("message_id", sa.String, primary_key=True),
        sa.Column("seen_at", tables.UtcDateTime, nullable=False),
        sqlite_with_rowid=False,
    ).create(conn)
    conn.exec_driver_sql(
        "INSERT INTO inbound_ids (channel, message_id, seen_at) "
        "SELECT channel, message_id, seen_at FROM inbound_ids_v2"
    )
    conn.exec_driver_sql("DROP TABLE inbound_ids_v2")


def _console_tokens(conn: Connection) -> None:
    # The web console's login links and sessions, by hash (written out in full, as tables.py
    # may change again).
    table = sa.Table(
        "console_tokens",
        sa.MetaData(naming_convention=tables.metadata.naming_convention),
        sa.Column("token_hash", sa.String, primary_key=True),
        sa.Column("kind", sa.String, nullable=False),
        sa.Column("organizer", sa.BigInteger, nullable=False),
        sa.Column("created_at", tables.UtcDateTime, nullable=False),
        sa.Column("expires_at", tables.UtcDateTime, nullable=False, index=True),
    )
    table.create(conn)


def _last_inbound_at(conn: Connection) -> None:
    # Version 5: WhatsApp's 24-hour window needs the time of a person's last message, not
    # just the day. Nullable, so existing rows need no value (their window is closed).
    if "last_inbound_at" in {c["name"] for c in sa.inspect(conn).get_columns("contacts")}:
        return
    _add_columns(
        conn, "contacts", sa.Column("last_inbound_at", sa.DateTime(timezone=True), nullable=True)
    )


def _handoff_tickets(conn: Connection) -> None:
    # Handoff tickets: one row per conversation with the volunteers (no text, no address).
    # Written out in full so this step stays what it was when tables.py changes again.
    big_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    metadata = sa.MetaData(naming_convention=tables.metadata.naming_convention)
    sa.Table("contacts", metadata, sa.Column("id", big_id, primary_key=True))
    sa.Table(
        "tickets",
        metadata,
        sa.Column("id", sa.String, primary_key=True),
        sa.Column(
            "contact_id",
            big_id,
            sa.ForeignKey("contacts.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("channel", sa.String, nullable=False),
        sa.Column("locale", sa.String, nullable=False),
        sa.Column("page", sa.String, nullable=True),
        sa.Column("status", sa.String, nullable=False),
        sa.Column("opened_at", tables.UtcDateTime, nullable=False),
        sa.Column("last_activity_at", tables.UtcDateTime, nullable=False),
        sa.Column("claimed_by", sa.String, nullable=True),
        sa.Column("first_answer_at", tables.UtcDateTime, nullable=True),
        sa.Column("closed_at", tables.UtcDateTime, nullable=True),
        sa.Column("close_reason", sa.String, nullable=True),
        sa.Column("to_volunteers", sa.Integer, nullable=False, server_default="0"),
        sa.Column("to_person", sa.Integer, nullable=False, server_default="0"),
    ).create(conn)


def _encrypted_addresses(conn: Connection) -> None:
    # Version 7: room for encrypted addresses and their blind index. Filling them needs the
    # keys, which schema steps do not have: bot.storage.sql.plaintext does that in batches
    # when the store opens with keys, then drops the plain-text column.
    _add_columns(
        conn,
        "contacts",
        sa.Column("address_hash", sa.LargeBinary, nullable=True),
        sa.Column("address_cipher", sa.LargeBinary, nullable=True),
    )
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(
            "ALTER TABLE contacts ADD CONSTRAINT uq_contacts_channel_address_hash "
            "UNIQUE (channel, address_hash)"
        )
        # Organizer names become ciphertexts; until encrypted they are their UTF-8 bytes.
        for table, column in (("broadcasts", "author"), ("audit_log", "actor")):
            conn.exec_driver_sql(
                f"ALTER TABLE {table} ALTER COLUMN {column} TYPE bytea "
                f"USING convert_to({column}, 'UTF8')"
            )
    else:
        # SQLite stores a blob in a TEXT column as it is; the rebuild at the end of the
        # encryption gives contacts its final shape.
        conn.exec_driver_sql(
            "CREATE UNIQUE INDEX uq_contacts_channel_address_hash "
            "ON contacts (channel, address_hash)"
        )


def _outbox(conn: Connection) -> None:
    # Version 8: the durable outbox (replies stored until sent); the per-contact message
    # numbers that keep one person's messages in order (bot.storage.turns); the first attempt
    # of a delivery (broadcast retries are counted from it). Self-contained: written out in full.
    _add_columns(
        conn, "deliveries", sa.Column("first_attempt_at", tables.UtcDateTime, nullable=True)
    )
    _add_columns(
        conn,
        "contacts",
        sa.Column("inbound_seq", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("handled_seq", sa.BigInteger, nullable=False, server_default="0"),
    )
    big_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    metadata = sa.MetaData(naming_convention=tables.metadata.naming_convention)
    sa.Table("contacts", metadata, sa.Column("id", big_id, primary_key=True))
    outbox = sa.Table(
        "outbox",
        metadata,
        sa.Column("id", big_id, primary_key=True),
        sa.Column(
            "contact_id",
            big_id,
            sa.ForeignKey("contacts.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("channel", sa.String, nullable=False),
        sa.Column("payload", sa.Text, nullable=True),
        sa.Column("status", sa.String, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("created_at", tables.UtcDateTime, nullable=False),
        sa.Column("updated_at", tables.UtcDateTime, nullable=False),
        sa.Column("expires_at", tables.UtcDateTime, nullable=False),
        sa.Column("not_before", tables.UtcDateTime, nullable=True),
        sa.Column("claimed_by", sa.String, nullable=True),
        sa.Column("claimed_at", tables.UtcDateTime, nullable=True),
        sa.Column("error", sa.String, nullable=True),
    )
    sa.Index("ix_outbox_status", outbox.c.status)
    outbox.create(conn)


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "contacts, sessions, dedup ids, counters, broadcasts, audit log", _create_tables),
    Migration(
        2, "broadcast fan-out: claims, retries, workers, shared send rate", _broadcast_fan_out
    ),
    Migration(3, "dedup ids in one B-tree on SQLite (WITHOUT ROWID)", _inbound_ids_without_rowid),
    Migration(4, "web console login links and sessions, by hash", _console_tokens),
    Migration(5, "contacts: time of the last inbound message (reply windows)", _last_inbound_at),
    Migration(6, "handoff tickets (no message text, no address)", _handoff_tickets),
    Migration(7, "encrypted addresses and their blind index", _encrypted_addresses),
    Migration(8, "the outbox, per-contact message numbers, a delivery's first attempt", _outbox),
)

LATEST: int = MIGRATIONS[-1].version


def check_steps(steps: Sequence[Migration]) -> None:
    """Raise ValueError unless ``steps`` are numbered 1, 2, 3... in order."""
    versions = [step.version for step in steps]
    if versions != list(range(1, len(steps) + 1)):
        raise ValueError(f"migration versions must be 1..n in order, got {versions}")


check_steps(MIGRATIONS)


def current_version(conn: Connection) -> int | None:
    """The database's schema version, or None when it has none recorded (a fresh database)."""
    if not sa.inspect(conn).has_table(tables.schema_version.name):
        return None
    version = conn.execute(sa.select(sa.func.max(tables.schema_version.c.version))).scalar()
    return None if version is None else int(version)


def upgrade(
    conn: Connection, *, now: datetime, steps: Sequence[Migration] | None = None
) -> tuple[int | None, int]:
    """Apply whatever ``steps`` (default :data:`MIGRATIONS`) the database lacks.

    Returns the version before (None for a fresh database) and after.

    Must run inside a write transaction (on SQLite, one begun with ``BEGIN IMMEDIATE``);
    commits nothing itself.

    Raises:
        StorageError: the database is newer than ``steps``, or has kyrbot's tables but no
            recorded version.
    """
    if steps is None:
        steps = MIGRATIONS
    check_steps(steps)
    latest = steps[-1].version
    if conn.dialect.name == "postgresql":
        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(PG_LOCK_KEY)))
    before = current_version(conn)
    if before is not None and before > latest:
        raise StorageError(
            f"the database schema is at version {before}, newer than this kyrbot knows "
            f"({latest}); upgrade kyrbot, or point database.url at another database"
        )
    if before == latest:
        return before, latest
    if before is None:
        existing = set(sa.inspect(conn).get_table_names()) & set(tables.metadata.tables)
        if existing:
            raise StorageError(
                "the database has kyrbot tables but no schema_version table "
                f"({', '.join(sorted(existing))}); it was not made by kyrbot's migrations"
            )
        tables.schema_version.create(conn)
        logger.info("creating the database schema at version %d", latest)
        steps[0].apply(conn)
        conn.execute(
            tables.schema_version.insert(),
            [{"version": step.version, "applied_at": now} for step in steps],
        )
        return before, latest
    for step in steps[before:]:
        logger.info("applying schema migration %d: %s", step.version, step.description)
        step.apply(conn)
        conn.execute(tables.schema_version.insert(), {"version": step.version, "applied_at": now})
    return before, latest
