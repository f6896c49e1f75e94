"""Re-encrypting every stored identifier under the current key, in batches, while serving.

Each batch is one short transaction that decrypts the rows still under an older key and
writes them under the current one (a row is only replaced if it is still what was read, so
nothing written meanwhile is lost). Which key a row is under is written in the row itself
(the ciphertext's key id), so a rotation cut off at any point is resumed by running it
again: rows already done are skipped. The blind index is not touched: it is under
``privacy.hash_key``, which stays the same for the life of the database.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bot.privacy import AddressVault
from bot.storage.sql.broadcasts import ACTOR_FIELD, AUTHOR_FIELD
from bot.storage.sql.database import Database, begin_write
from bot.storage.sql.tables import audit_log, broadcasts, contacts

logger = logging.getLogger(__name__)

_HEADER_BYTES: Final = 5  # version and key id: which key a ciphertext is under


@dataclass(frozen=True, slots=True)
class RotationProgress:
    """How far a rotation has come."""

    rotated: int
    """Rows re-encrypted by this run so far."""
    remaining: int
    """Rows still under an older key (0: the rotation is complete)."""


def _not_current(column: Any, vault: AddressVault) -> Any:
    header = b"\x01" + vault.cipher.current_key_id
    return sa.func.substr(column, 1, _HEADER_BYTES) != header


async def remaining(db: Database) -> int:
    """How many stored identifiers are still under a key other than the current one."""
    return await db.run("rotate-key: count", _remaining, db.vault)


async def rotate_keys(
    db: Database,
    *,
    batch_size: int = 200,
    pause: float = 0.0,
    progress: Callable[[RotationProgress], None] | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> RotationProgress:
    """Re-encrypt everything under the current key; returns the final progress.

    Args:
        db: the open database; its vault's current key is the new one, and the old keys are
            among its previous keys.
        batch_size: rows per transaction.
        pause: seconds to wait between batches, leaving the database to the serving process.
        progress: told after every batch.
        sleep: how to wait (tests pass a fake clock's).

    Raises:
        StorageError: the database failed, or a row is under a key that is not configured.
        ValueError: ``batch_size`` is below 1.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    vault = db.vault
    rotated = await db.run("rotate-key: organizer names", _rotate_names, vault)
    after = 0
    while True:
        after, count = await db.run("rotate-key", _rotate_batch, vault, after, batch_size)
        if after == 0:
            break
        rotated += count
        if progress is not None:
            progress(RotationProgress(rotated, await remaining(db)))
        if pause:
            await sleep(pause)
    final = RotationProgress(rotated, await remaining(db))
    logger.info("key rotation: %d rows re-encrypted, %d left", final.rotated, final.remaining)
    return final


def _remaining(conn: Connection, vault: AddressVault) -> int:
    total = 0
    for column in (contacts.c.address_cipher, broadcasts.c.author, audit_log.c.actor):
        query = sa.select(sa.func.count()).where(_not_current(column, vault))
        total += int(conn.execute(query).scalar() or 0)
    return total


def _rotate_batch(
    conn: Connection, vault: AddressVault, after: int, limit: int
) -> tuple[int, int]:
    """Re-encrypt the next ``limit`` contacts under an old key; (last id, 0) when none."""
    begin_write(conn)
    c = contacts
    rows = conn.execute(
        sa.select(c.c.id, c.c.channel, c.c.address_cipher)
        .where(c.c.id > after, _not_current(c.c.address_cipher, vault))
        .order_by(c.c.id)
        .limit(limit)
    ).all()
    for row_id, channel, blob in rows:
        sealed = vault.seal(vault.reveal(channel, blob))
        conn.execute(
            c.update()
            .where(c.c.id == row_id, c.c.address_cipher == blob)
            .values(address_cipher=sealed)
        )
    return (int(rows[-1][0]), len(rows)) if rows else (0, 0)


def _rotate_names(conn: Connection, vault: AddressVault) -> int:
    begin_write(conn)
    count = 0
    for table, column, field in (
        (broadcasts, broadcasts.c.author, AUTHOR_FIELD),
        (audit_log, audit_log.c.actor, ACTOR_FIELD),
    ):
        rows = conn.execute(sa.select(table.c.id, column).where(_not_current(column, vault))).all()
        for row_id, blob in rows:
            sealed = vault.seal_text(vault.reveal_text(blob, field), field)
            conn.execute(table.update().where(table.c.id == row_id).values({column.name: sealed}))
        count += len(rows)
    return count
