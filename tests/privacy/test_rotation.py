"""Key rotation: batches, both keys accepted meanwhile, and a rotation killed and resumed."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.errors import StorageError
from bot.messages import Address
from bot.privacy import AddressVault, Keyring, new_key
from bot.storage import SqlStorage
from bot.storage.sql.rotation import RotationProgress, remaining, rotate_keys
from tests.support.keys import TEST_ENCRYPTION_KEY, TEST_HASH_KEY, TEST_VAULT
from tests.support.storage import NOW, TODAY, sql_database

NEW_KEY = new_key()
PEOPLE = [Address("sms", f"+1414555{n:04d}") for n in range(101, 105)] + [
    Address("telegram", str(7_000_000_000 + n)) for n in range(4)
]


def vault(current: str, *previous: str) -> AddressVault:
    return AddressVault(
        Keyring.from_settings(
            encryption_key=current, previous_keys=list(previous), hash_key=TEST_HASH_KEY
        )
    )


async def fill(store: SqlStorage) -> None:
    for address in PEOPLE:
        contact, _ = await store.load_conversation(address, TODAY)
        contact.subscribed = True
        contact.consent_at = NOW
        await store.update_contact(contact)
    await store.create_broadcast(
        author="telegram:6012345601", texts={"en": "Hi"}, allow_fallback=True, now=NOW
    )
    await store.add_audit(actor="telegram:6012345601", action="send", detail={}, now=NOW)


async def all_addresses(store: SqlStorage) -> list[Address]:
    return [c.address for batch in [await store.subscribers(after=0, limit=100)] for c in batch]


async def filled(kind: str, tmp_path: Path) -> Any:
    async for database in sql_database(kind, tmp_path):
        async with SqlStorage(
            database.url, vault=TEST_VAULT, engine_kwargs=database.engine_kwargs
        ) as store:
            await fill(store)
        yield database


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    async for database in filled(request.param, tmp_path):
        yield database


@pytest.fixture
async def sqlite_db(tmp_path: Path) -> Any:
    """SQLite only: the command runs in a process of its own, on the config's URL alone."""
    async for database in filled("sqlite", tmp_path):
        yield database


def storage(db: Any, keys: AddressVault) -> SqlStorage:
    return SqlStorage(db.url, vault=keys, engine_kwargs=db.engine_kwargs)


async def test_rotation_re_encrypts_in_batches_while_both_keys_are_accepted(db: Any) -> None:
    rotating = vault(NEW_KEY, TEST_ENCRYPTION_KEY)
    seen: list[RotationProgress] = []
    async with storage(db, rotating) as store:
        assert await remaining(store.database) == len(PEOPLE) + 2  # and the two organizer names
        # A message during the rotation: the person is found (blind index unchanged).
        final = await rotate_keys(store.database, batch_size=3, progress=seen.append)
        contact, _ = await store.load_conversation(PEOPLE[0], TODAY)
        assert contact.subscribed
    assert [p.remaining for p in seen] == [5, 2, 0]  # after the names and each batch of 3
    assert final == RotationProgress(rotated=len(PEOPLE) + 2, remaining=0)

    async with storage(db, vault(NEW_KEY)) as store:  # the old key is no longer needed
        assert await all_addresses(store) == PEOPLE
        assert [e.actor for e in await store.audit_log()] == ["telegram:6012345601"]
    with pytest.raises(StorageError, match=r"neither privacy\.encryption_key"):
        await storage(db, TEST_VAULT).open()  # and no longer works


async def test_a_rotation_killed_mid_way_is_resumed_by_running_it_again(
    sqlite_db: Any, tmp_path: Path
) -> None:
    db = sqlite_db
    config = tmp_path / "config.yaml"
    database: dict[str, Any] = {"url": db.url}
    config.write_text(
        yaml.safe_dump(
            {
                "database": database,
                "privacy": {
                    "encryption_key": "${NEW_KEY}",
                    "previous_keys": ["${OLD_KEY}"],
                    "hash_key": TEST_HASH_KEY,
                },
            }
        ),
        encoding="utf-8",
    )
    env = {**os.environ, "NEW_KEY": NEW_KEY, "OLD_KEY": TEST_ENCRYPTION_KEY}

    async def rotate(*extra: str) -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "privacy", "rotate-key", "--config", str(config),
            "--batch-size", "1", *extra,
            env=env, cwd=tmp_path, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip

    # A long pause after each batch: the kill surely lands between two batches.
    first = await rotate("--pause", "600")
    assert first.stdout is not None
    line = await asyncio.wait_for(first.stdout.readline(), 60)
    assert line.startswith(b"re-encrypted 3,"), line  # two organizer names and a contact
    first.send_signal(signal.SIGKILL)
    await first.wait()
    assert first.returncode == -signal.SIGKILL

    both = vault(NEW_KEY, TEST_ENCRYPTION_KEY)
    async with storage(db, both) as store:
        assert await remaining(store.database) == len(PEOPLE) - 1
        assert await all_addresses(store) == PEOPLE  # every row readable, old key or new
    with pytest.raises(StorageError, match=r"neither privacy\.encryption_key"):
        await storage(db, vault(NEW_KEY)).open()  # not done: the old key is still needed

    second = await rotate()
    out, err = await asyncio.wait_for(second.communicate(), 120)
    assert second.returncode == 0, err.decode()
    assert b"Done: 7 rows re-encrypted" in out
    async with storage(db, vault(NEW_KEY)) as store:
        assert await remaining(store.database) == 0
        assert await all_addresses(store) == PEOPLE
