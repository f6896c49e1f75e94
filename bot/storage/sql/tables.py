"""The database tables: every column the bot may store, and nothing more (DESIGN.md, Storage).

No table holds a message body from a person. ``outbox`` holds a reply to one only until it
is sent (see :mod:`bot.storage.outbox`), by contact row id. Only ``contacts`` holds an
address, and only encrypted (``address_cipher``, AES-256-GCM) beside its blind index
(``address_hash``, a keyed hash that finds it); organizer names (``broadcasts.author``,
``audit_log.actor``) are encrypted too (:mod:`bot.privacy`). ``inbound_ids`` and
``topic_counters`` deliberately carry no contact reference, so dedup ids and analytics
cannot be tied back to a person.

Changing a table here needs a new step in :mod:`bot.storage.sql.migrations` for databases that
already exist (a fresh database is built from this module directly).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from typing_extensions import override

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UtcDateTime(sa.TypeDecorator[datetime]):
    """A point in time, stored as UTC and always returned timezone-aware (also on SQLite).

    Naive datetimes are refused: every time in the bot is aware, and guessing a zone would
    silently shift retention windows.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    @override
    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("naive datetime given to storage; pass a timezone-aware one")
        value = value.astimezone(UTC)
        # SQLite keeps no zone; storing UTC wall time keeps text comparisons correct.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    @override
    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# BIGINT on PostgreSQL; on SQLite only "INTEGER PRIMARY KEY" is the fast rowid alias.
Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

schema_version = sa.Table(
    "schema_version",
    metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("applied_at", UtcDateTime, nullable=False),
)

contacts = sa.Table(
    "contacts",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("channel", sa.String, nullable=False),
    # The keyed hash of (channel, address): how a contact is found. Never decrypted.
    sa.Column("address_hash", sa.LargeBinary, nullable=False),
    # The address encrypted (bot.privacy.cipher): read only to send to the person.
    sa.Column("address_cipher", sa.LargeBinary, nullable=False),
    sa.Column("locale", sa.String, nullable=True),
    sa.Column("subscribed", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("consent_at", UtcDateTime, nullable=True),
    sa.Column("opted_out", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("unreachable", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("last_seen_day", sa.Date, nullable=True),
    # When the person last wrote, kept only on channels with a reply window (WhatsApp's 24
    # hours): whether a broadcast may go free-form or needs the approved template.
    sa.Column("last_inbound_at", UtcDateTime, nullable=True),
    # Added by the outbox step: the per-contact message numbers (bot.storage.turns).
    sa.Column("inbound_seq", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("handled_seq", sa.BigInteger, nullable=False, server_default="0"),
    sa.UniqueConstraint("channel", "address_hash"),
)

SUBSCRIBER = sa.and_(contacts.c.subscribed, ~contacts.c.opted_out, ~contacts.c.unreachable)
"""Who receives broadcasts. The partial index below matches this expression exactly."""

sa.Index(
    "ix_contacts_subscriber_id",
    contacts.c.id,
    sqlite_where=SUBSCRIBER,
    postgresql_where=SUBSCRIBER,
)

sessions = sa.Table(
    "sessions",
    metadata,
    sa.Column(
        "contact_id",
        Id,
        sa.ForeignKey("contacts.id", ondelete="CASCADE"),
        primary_key=True,
        autoincrement=False,
    ),
    # The engine's state as JSON text: the current node and a little navigation state.
    sa.Column("state", sa.Text, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

inbound_ids = sa.Table(
    "inbound_ids",
    metadata,
    sa.Column("channel", sa.String, primary_key=True),
    sa.Column("message_id", sa.String, primary_key=True),
    sa.Column("seen_at", UtcDateTime, nullable=False),
    # Every message inserts a row; on SQLite one B-tree keyed by the id (instead of a rowid
    # table plus a unique index) makes that insert cheaper. No effect on PostgreSQL.
    sqlite_with_rowid=False,
)

topic_counters = sa.Table(
    "topic_counters",
    metadata,
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("node", sa.String, primary_key=True),
    sa.Column("locale", sa.String, primary_key=True),
    sa.Column("channel", sa.String, primary_key=True),
    sa.Column("count", sa.BigInteger, nullable=False),
)

broadcasts = sa.Table(
    "broadcasts",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("author", sa.LargeBinary, nullable=False),  # encrypted organizer name
    sa.Column("status", sa.String, nullable=False),
    sa.Column("texts", sa.JSON, nullable=False),
    sa.Column("allow_fallback", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("started_at", UtcDateTime, nullable=True),
    sa.Column("finished_at", UtcDateTime, nullable=True),
    # Added in schema version 2 (broadcast fan-out):
    # the highest contact id when sending started: contacts made later are not recipients.
    sa.Column("audience_upto", Id, nullable=True),
    # how far delivery rows have been written (contact id), so a restart carries on from there.
    sa.Column("materialized_upto", Id, nullable=False, server_default="0"),
    sa.Column("materialized", sa.Boolean, nullable=False, server_default=sa.false()),
)

deliveries = sa.Table(
    "deliveries",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column(
        "broadcast_id",
        Id,
        sa.ForeignKey("broadcasts.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column(
        "contact_id",
        Id,
        sa.ForeignKey("contacts.id", ondelete="CASCADE"),
        nullable=False,
        index=True,  # forget() deletes by contact; PostgreSQL does not index FKs itself
    ),
    sa.Column("locale", sa.String, nullable=False),
    sa.Column("channel", sa.String, nullable=False),
    sa.Column("status", sa.String, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("provider_id", sa.String, nullable=True, index=True),
    sa.Column("error", sa.String, nullable=True),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    # Added in schema version 2: which instance is sending it and since when, and the
    # earliest time a retry may go.
    sa.Column("claimed_by", sa.String, nullable=True),
    sa.Column("claimed_at", UtcDateTime, nullable=True),
    sa.Column("not_before", UtcDateTime, nullable=True),
    # Added by the outbox step: the first attempt, from which retries are counted down.
    sa.Column("first_attempt_at", UtcDateTime, nullable=True),
    sa.UniqueConstraint("broadcast_id", "contact_id"),
)

# Claiming the next pending deliveries of one channel reads this index in id order.
sa.Index(
    "ix_deliveries_broadcast_id_channel_status",
    deliveries.c.broadcast_id,
    deliveries.c.channel,
    deliveries.c.status,
)

IN_FLIGHT = deliveries.c.status == "sending"
"""Deliveries some instance is sending now; the partial index below matches it exactly."""

# Finding the deliveries of a stopped instance reads only the few rows in flight.
sa.Index(
    "ix_deliveries_claimed_by_sending",
    deliveries.c.claimed_by,
    sqlite_where=IN_FLIGHT,
    postgresql_where=IN_FLIGHT,
)

broadcast_workers = sa.Table(
    "broadcast_workers",
    metadata,
    # One row per running sender (a ``kyrbot serve`` or ``kyrbot broadcast send`` process);
    # a delivery left "sending" by a worker that stopped beating is reported as unknown.
    sa.Column("id", sa.String, primary_key=True),
    sa.Column("host", sa.String, nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("started_at", UtcDateTime, nullable=False),
    sa.Column("heartbeat_at", UtcDateTime, nullable=False),
)

send_rate = sa.Table(
    "send_rate",
    metadata,
    # Per channel, the moment (Unix seconds) from which sending time is still free: every
    # instance reserves its sending time here, so the rate limit holds across instances.
    sa.Column("channel", sa.String, primary_key=True),
    sa.Column("next_free_at", sa.Double, nullable=False),
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("actor", sa.LargeBinary, nullable=False),  # encrypted organizer name
    sa.Column("action", sa.String, nullable=False),
    sa.Column("detail", sa.JSON, nullable=False),
)

console_tokens = sa.Table(
    "console_tokens",
    metadata,
    # The web console's login links and sessions. Only a SHA-256 hash of each token is kept,
    # so the database cannot be used to log in; the organizer is an allow-listed Telegram id.
    sa.Column("token_hash", sa.String, primary_key=True),
    sa.Column("kind", sa.String, nullable=False),
    sa.Column("organizer", sa.BigInteger, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("expires_at", UtcDateTime, nullable=False, index=True),
)

tickets = sa.Table(
    "tickets",
    metadata,
    # A handoff to volunteers (schema step "handoff tickets"). Never a message text, never an
    # address: the person is the contact's row id, erased with the contact.
    sa.Column("id", sa.String, primary_key=True),
    sa.Column(
        "contact_id",
        Id,
        sa.ForeignKey("contacts.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("channel", sa.String, nullable=False),
    sa.Column("locale", sa.String, nullable=False),
    sa.Column("page", sa.String, nullable=True),
    sa.Column("status", sa.String, nullable=False),
    sa.Column("opened_at", UtcDateTime, nullable=False),
    sa.Column("last_activity_at", UtcDateTime, nullable=False),
    # The volunteer who answered first ("telegram:<user id>"): a volunteer, not the person.
    sa.Column("claimed_by", sa.String, nullable=True),
    sa.Column("first_answer_at", UtcDateTime, nullable=True),
    sa.Column("closed_at", UtcDateTime, nullable=True),
    sa.Column("close_reason", sa.String, nullable=True),
    sa.Column("to_volunteers", sa.Integer, nullable=False, server_default="0"),
    sa.Column("to_person", sa.Integer, nullable=False, server_default="0"),
)

outbox = sa.Table(
    "outbox",
    metadata,
    # Replies to people, stored until the provider took them (then the row is deleted). The
    # payload is the rendered reply; a final failure erases it. No address: contact_id only.
    sa.Column("id", Id, primary_key=True),
    sa.Column(
        "contact_id",
        Id,
        sa.ForeignKey("contacts.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("channel", sa.String, nullable=False),
    sa.Column("payload", sa.Text, nullable=True),
    sa.Column("status", sa.String, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Column("expires_at", UtcDateTime, nullable=False),
    sa.Column("not_before", UtcDateTime, nullable=True),
    sa.Column("claimed_by", sa.String, nullable=True),
    sa.Column("claimed_at", UtcDateTime, nullable=True),
    sa.Column("error", sa.String, nullable=True),
)

sa.Index("ix_outbox_status", outbox.c.status)
