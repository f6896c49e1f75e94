"""Encrypting a database an older kyrbot wrote in plain text: in place, in batches, resumable.

Schema step 4 (:mod:`bot.storage.sql.migrations`) adds the encrypted columns; this fills them
when a store opens with keys, then removes the plain text:

1. organizer names in ``broadcasts.author`` and ``audit_log.actor`` are encrypted;
2. contacts are taken in id order, a batch per transaction: each address is normalised
   (phone numbers to E.164, :func:`bot.phone_numbers.to_e164`; other ids as given), hashed
   and encrypted. Two rows that turn out to be one person are merged into the older one
   (:func:`_merge`). A batch that was cut off rolls back; the next open carries on from the
   first contact without a hash;
3. the plain-text column is dropped (SQLite: the table is rebuilt), and the freed pages are
   overwritten (SQLite: ``VACUUM`` and a truncating WAL checkpoint; PostgreSQL: the values
   are nulled first, then ``VACUUM FULL``), so the numbers do not linger in free space.

While the plain-text column exists the database is "not yet encrypted": only this module
writes contacts then, because the store finishes the job before it serves.
"""

from __future__ import annotations

import logging
import sqlite3
from datetime import date
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Connection

from bot.errors import StorageError
from bot.messages import Address
from bot.phone_numbers import to_e164
from bot.privacy import AddressVault
from bot.storage.sql import tables
from bot.storage.sql.broadcasts import ACTOR_FIELD, AUTHOR_FIELD
from bot.storage.sql.database import Database, begin_write
from bot.storage.sql.erasure import contact_references

logger = logging.getLogger(__name__)

PHONE_CHANNELS: Final = frozenset({"sms", "whatsapp", "voice"})
"""Channels whose addresses are phone numbers, normalised before hashing. A Telegram chat id
is digits too, but never a phone number, so it is hashed as it is."""

BATCH_SIZE: Final = 500

_legacy = sa.Table(
    "contacts",
    sa.MetaData(),
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("channel", sa.String),
    sa.Column("address", sa.String),
    sa.Column("address_hash", sa.LargeBinary),
    sa.Column("address_cipher", sa.LargeBinary),
    sa.Column("locale", sa.String),
    sa.Column("subscribed", sa.Boolean),
    sa.Column("consent_at", tables.UtcDateTime),
    sa.Column("opted_out", sa.Boolean),
    sa.Column("unreachable", sa.Boolean),
    sa.Column("last_seen_day", sa.Date),
)
"""The contacts table while it still has its plain-text ``address`` column."""

_NAMES: Final = (("broadcasts", "author", AUTHOR_FIELD), ("audit_log", "actor", ACTOR_FIELD))


def normalised(channel: str, address: str, phone_region: str) -> str:
    """The id a contact is hashed and encrypted as: E.164 for phone numbers, else as given."""
    if channel in PHONE_CHANNELS:
        return to_e164(address, phone_region) or address
    return address


async def is_plaintext(db: Database) -> bool:
    """Whether the database still has plain-text addresses (the encryption is unfinished)."""
    return await db.run("privacy: inspect the database", _has_plain_column)


async def encrypt_plaintext(
    db: Database, *, phone_region: str, batch_size: int = BATCH_SIZE
) -> int:
    """Encrypt a plain-text database in place (nothing to do on an encrypted one).

    Returns how many contacts were encrypted.

    Raises:
        StorageError: the database failed; whatever batches were done stay done.
    """
    if not await is_plaintext(db):
        return 0
    logger.warning("the database keeps addresses in plain text: encrypting them now")
    await db.run("encrypt organizer names", _seal_names, db.vault)
    done = 0
    while batch := await db.run(
        "encrypt addresses", _seal_batch, db.vault, phone_region, batch_size
    ):
        done += batch
        logger.info("encrypted %d contacts so far", done)
    if db.sqlite:
        db.on_driver("drop the plain-text addresses", _rebuild_sqlite)
        db.on_driver("overwrite the freed pages", _compact_sqlite)
    else:
        await db.run("drop the plain-text addresses", _drop_plain_column_pg)
        async with db.engine.connect() as conn:
            auto = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await auto.exec_driver_sql("VACUUM FULL contacts")
    logger.warning("the database's addresses are encrypted (%d contacts)", done)
    return done


async def check_keys(db: Database) -> None:
    """Refuse keys that do not fit the database: a wrong key would split every contact in two.

    Decrypts the first and the last contact and recomputes their blind index.

    Raises:
        StorageError: an address is under a key that is not configured, or
            ``privacy.hash_key`` is not the one the contacts were indexed under.
    """
    vault = db.vault
    for channel, lookup, blob in await db.run("privacy: check the keys", _samples):
        address = vault.reveal(channel, blob)
        if vault.lookup(address) != bytes(lookup):
            raise StorageError(
                "privacy.hash_key is not the key this database's contacts were indexed "
                "under; set it back (it must never change)"
            )


def _has_plain_column(conn: Connection) -> bool:
    return any(c["name"] == "address" for c in sa.inspect(conn).get_columns("contacts"))


def _samples(conn: Connection) -> list[Any]:
    c = tables.contacts
    rows: list[Any] = []
    for order in (c.c.id.asc(), c.c.id.desc()):
        query = sa.select(c.c.channel, c.c.address_hash, c.c.address_cipher).order_by(order)
        rows.extend(conn.execute(query.limit(1)).all())
    return rows


def _seal_names(conn: Connection, vault: AddressVault) -> None:
    begin_write(conn)
    for table, column, field in _NAMES:
        for row_id, value in conn.execute(sa.text(f"SELECT id, {column} FROM {table}")):  # noqa: S608 -- fixed names
            if isinstance(value, str):
                plain = value
            elif value and bytes(value[:1]) != b"\x01":  # PostgreSQL: UTF-8 bytes after step 4
                plain = bytes(value).decode("utf-8")
            else:
                continue  # already a ciphertext
            conn.execute(
                sa.text(f"UPDATE {table} SET {column} = :sealed WHERE id = :id"),  # noqa: S608
                {"sealed": vault.seal_text(plain, field), "id": row_id},
            )


def _seal_batch(conn: Connection, vault: AddressVault, phone_region: str, limit: int) -> int:
    begin_write(conn)
    c = _legacy
    rows = conn.execute(
        sa.select(c).where(c.c.address_hash.is_(None)).order_by(c.c.id).limit(limit)
    ).all()
    for row in rows:
        address = Address(row.channel, normalised(row.channel, row.address, phone_region))
        lookup = vault.lookup(address)
        keep = conn.execute(
            sa.select(c).where(c.c.channel == row.channel, c.c.address_hash == lookup)
        ).first()
        if keep is None:
            conn.execute(
                c.update()
                .where(c.c.id == row.id)
                .values(address_hash=lookup, address_cipher=vault.seal(address))
            )
        else:
            _merge(conn, keep, row)
    return len(rows)


def _merge(conn: Connection, keep: Any, dup: Any) -> None:
    """Make two rows of one person one contact: the older row stays, with both histories.

    An opt-out on either wins (a STOP is never undone by a merge); a subscription on either
    stands otherwise, from its earliest consent; language and reachability come from the
    row seen last.
    """
    opted_out = bool(keep.opted_out or dup.opted_out)
    subscribed = bool(keep.subscribed or dup.subscribed) and not opted_out
    consents = [r.consent_at for r in (keep, dup) if r.subscribed and r.consent_at is not None]
    latest, other = sorted((keep, dup), key=lambda r: (r.last_seen_day or date.min, r.id))[::-1]
    c = _legacy
    conn.execute(
        c.update()
        .where(c.c.id == keep.id)
        .values(
            opted_out=opted_out,
            subscribed=subscribed,
            consent_at=min(consents) if consents else keep.consent_at,
            unreachable=bool(latest.unreachable),
            locale=latest.locale or other.locale,
            last_seen_day=latest.last_seen_day or other.last_seen_day,
        )
    )
    _move_rows(conn, dup.id, keep.id)
    conn.execute(c.delete().where(c.c.id == dup.id))
    logger.info("merged two contacts of one person (ids %d and %d)", keep.id, dup.id)


def _move_rows(conn: Connection, from_id: int, to_id: int) -> None:
    s, d = tables.sessions, tables.deliveries
    mine = conn.execute(sa.select(s.c.updated_at).where(s.c.contact_id == to_id)).scalar()
    theirs = conn.execute(sa.select(s.c.updated_at).where(s.c.contact_id == from_id)).scalar()
    if theirs is not None and (mine is None or theirs > mine):
        conn.execute(s.delete().where(s.c.contact_id == to_id))
        conn.execute(s.update().where(s.c.contact_id == from_id).values(contact_id=to_id))
    conn.execute(s.delete().where(s.c.contact_id == from_id))
    # One delivery per broadcast and person: the kept contact's own stays.
    already = sa.select(d.c.broadcast_id).where(d.c.contact_id == to_id).scalar_subquery()
    conn.execute(d.delete().where(d.c.contact_id == from_id, d.c.broadcast_id.in_(already)))
    conn.execute(d.update().where(d.c.contact_id == from_id).values(contact_id=to_id))
    for table, column in contact_references(conn):
        if table not in (s.name, d.name):
            ref = sa.table(table, sa.column(column))
            conn.execute(ref.update().where(ref.c[column] == from_id).values({column: to_id}))


def _rebuild_sqlite(driver: sqlite3.Connection) -> None:
    """Rebuild contacts without the plain-text column (SQLite cannot drop a UNIQUE column).

    SQLite's documented procedure: foreign keys off (so dropping the old table cascades to
    nothing), one transaction, a foreign key check before the commit.
    """
    dialect = sqlite.dialect()
    driver.execute("PRAGMA foreign_keys=OFF")
    try:
        driver.execute("BEGIN IMMEDIATE")
        try:
            columns = [row[1] for row in driver.execute("PRAGMA table_info(contacts)")]
            if "address" not in columns:
                driver.execute("ROLLBACK")
                return
            if driver.execute("SELECT 1 FROM contacts WHERE address_hash IS NULL").fetchone():
                raise StorageError("some contacts are not encrypted yet; not dropping them")
            ddl = str(sa.schema.CreateTable(tables.contacts).compile(dialect=dialect))
            driver.execute(ddl.replace("CREATE TABLE contacts ", "CREATE TABLE contacts_new ", 1))
            common = ", ".join(c.name for c in tables.contacts.columns if c.name in columns)
            driver.execute(
                f"INSERT INTO contacts_new ({common}) SELECT {common} FROM contacts"  # noqa: S608
            )
            driver.execute("DROP TABLE contacts")
            driver.execute("ALTER TABLE contacts_new RENAME TO contacts")
            for index in tables.contacts.indexes:
                driver.execute(str(sa.schema.CreateIndex(index).compile(dialect=dialect)))
            if driver.execute("PRAGMA foreign_key_check").fetchone():
                raise StorageError("rebuilding contacts would break a foreign key")
            driver.execute("COMMIT")
        except BaseException:
            if driver.in_transaction:
                driver.execute("ROLLBACK")
            raise
    finally:
        driver.execute("PRAGMA foreign_keys=ON")


def _compact_sqlite(driver: sqlite3.Connection) -> None:
    # secure_delete zeroed the freed cells; VACUUM rewrites every page, and the checkpoint
    # empties the WAL that still holds page images with the old numbers.
    driver.execute("VACUUM")
    driver.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def _drop_plain_column_pg(conn: Connection) -> None:
    conn.exec_driver_sql("LOCK TABLE contacts IN ACCESS EXCLUSIVE MODE")
    if not _has_plain_column(conn):
        return
    if conn.exec_driver_sql("SELECT 1 FROM contacts WHERE address_hash IS NULL").first():
        raise StorageError("some contacts are not encrypted yet; not dropping them")
    # Dropping a column leaves its values in the rows; nulled first, VACUUM FULL then
    # rewrites the table from the live rows only.
    conn.exec_driver_sql("ALTER TABLE contacts ALTER COLUMN address DROP NOT NULL")
    conn.exec_driver_sql("UPDATE contacts SET address = NULL")
    conn.exec_driver_sql("ALTER TABLE contacts DROP COLUMN address")
    conn.exec_driver_sql(
        "ALTER TABLE contacts ALTER COLUMN address_hash SET NOT NULL, "
        "ALTER COLUMN address_cipher SET NOT NULL"
    )
