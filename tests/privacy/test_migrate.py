"""A database the plain-text release made is encrypted in place, one person one contact.

The database is written by that release's own code (:mod:`tests.support.release`), then
opened by this one with keys, on SQLite and PostgreSQL; a migration cut off half-way is
carried on by the next open.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.cli import main
from bot.errors import StorageError
from bot.messages import Address
from bot.storage import SqlStorage
from bot.storage.sql import plaintext
from tests.support.keys import TEST_PRIVACY, TEST_VAULT
from tests.support.release import ANA, BEA, CARL_CHAT, ORGANIZER, make_plaintext_database
from tests.support.storage import EXPECTED_COLUMNS, SqlBackend, sql_database

NOW = datetime(2026, 3, 5, 12, tzinfo=UTC)
TODAY = NOW.date()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def old_database(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    async for db in sql_database(request.param, tmp_path):
        make_plaintext_database(tmp_path, db.url, db.engine_kwargs)
        yield db


async def assert_encrypted_and_merged(db: SqlBackend, tmp_path: Path) -> None:
    assert await db.columns() == EXPECTED_COLUMNS
    assert await db.count("contacts") == 3
    async with db.storage() as store:
        ana = await store.get_contact(Address("sms", ANA[0]))
        assert ana is not None
        assert ana.subscribed and ana.consent_at == NOW - timedelta(days=30)
        assert ana.locale == "en"  # from the row seen last
        assert ana.last_seen_day == TODAY
        _, session = await store.load_conversation(Address("sms", ANA[0]), TODAY)
        assert session is not None and session.state == {"node": "kyr.rights"}  # the newer

        bea = await store.get_contact(Address("sms", BEA[0]))
        assert bea is not None and bea.opted_out and not bea.subscribed  # STOP wins
        carl = await store.get_contact(Address("telegram", CARL_CHAT))  # kept as it was
        assert carl is not None and carl.locale == "en"

        subscribers = [c for batch in [await store.subscribers(after=0, limit=10)] for c in batch]
        assert [c.address for c in subscribers] == [Address("sms", ANA[0])]
        assert [e.actor for e in await store.audit_log()] == [ORGANIZER]
        [broadcast] = await store.list_broadcasts()
        assert broadcast.author == ORGANIZER
        tally = {(t.channel, t.status): t.count for t in await store.delivery_tally(broadcast.id)}
        assert tally == {("sms", "pending"): 2}  # both kept, now on the merged contacts
    if db.name == "sqlite":
        for path in tmp_path.glob("data/kyrbot.sqlite3*"):
            data = path.read_bytes()
            for needle in ("4145550101", "555-0101", "4145550102", "6012345601"):
                assert needle.encode() not in data, (path.name, needle)


async def test_the_old_database_is_encrypted_in_place_when_opened_with_keys(
    old_database: SqlBackend, tmp_path: Path
) -> None:
    rows = await old_database.rows("SELECT address FROM contacts ORDER BY id")
    assert [r[0] for r in rows] == [ANA[0], BEA[0], CARL_CHAT, ANA[1], BEA[1]]  # really old

    store = old_database.storage()
    await store.open()
    assert store.encrypted_on_open == 5
    await store.close()

    await assert_encrypted_and_merged(old_database, tmp_path)
    async with old_database.storage() as again:  # opening again has nothing left to do
        assert again.encrypted_on_open == 0


async def test_a_migration_cut_off_half_way_carries_on_at_the_next_open(
    old_database: SqlBackend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_batch = plaintext._seal_batch
    calls = 0

    def cut_off(conn: Any, vault: Any, region: str, limit: int) -> int:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise OSError("the disk went away")
        return real_batch(conn, vault, region, 2)  # two contacts a batch

    monkeypatch.setattr(plaintext, "_seal_batch", cut_off)
    with pytest.raises(StorageError, match="disk went away"):
        await old_database.storage().open()
    # Two batches done and committed; the plain-text column is still there.
    sealed = "SELECT count(*) FROM contacts WHERE address_hash IS NOT NULL"
    assert await old_database.rows(sealed) == [(3,)]
    assert await old_database.count("contacts") == 4  # Ana's second row already merged
    assert "address" in (await old_database.columns())["contacts"]

    monkeypatch.setattr(plaintext, "_seal_batch", real_batch)
    async with old_database.storage() as store:
        assert store.encrypted_on_open == 1  # only Bea's second row was left
    await assert_encrypted_and_merged(old_database, tmp_path)


async def test_the_old_database_is_refused_without_keys_and_with_a_wrong_hash_key(
    old_database: SqlBackend,
) -> None:
    async with old_database.storage():
        pass
    from bot.privacy import AddressVault, Keyring

    wrong = AddressVault(
        Keyring(
            current=TEST_VAULT.keys.current, previous=(), hash_key=b"another-hash-key-entirely"
        )
    )
    with pytest.raises(StorageError, match="hash_key is not the key"):
        await SqlStorage(
            old_database.url, vault=wrong, engine_kwargs=old_database.engine_kwargs
        ).open()
    with pytest.raises(StorageError, match=r"neither privacy\.encryption_key"):
        await SqlStorage(
            old_database.url,
            vault=AddressVault.throwaway(),
            engine_kwargs=old_database.engine_kwargs,
        ).open()


def test_phone_numbers_are_normalised_and_other_ids_kept() -> None:
    assert plaintext.normalised("sms", "(414) 555-0101", "US") == "+14145550101"
    assert plaintext.normalised("sms", "+52 55 1234 5678", "US") == "+525512345678"
    assert plaintext.normalised("sms", "not a number", "US") == "not a number"
    assert plaintext.normalised("telegram", "4145550103", "US") == "4145550103"


def test_kyrbot_privacy_migrate_encrypts_and_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'old.sqlite3'}"
    make_plaintext_database(tmp_path, url)
    config = tmp_path / "config.yaml"
    config.write_text(
        yaml.safe_dump({"database": {"url": url}, "privacy": TEST_PRIVACY}), encoding="utf-8"
    )

    assert main(["privacy", "migrate", "--config", str(config)]) == 0
    assert "Encrypted 5 contacts" in capsys.readouterr().out
    assert main(["privacy", "migrate", "--config", str(config)]) == 0
    assert "Nothing to do" in capsys.readouterr().out
    assert b"555-0101" not in (tmp_path / "old.sqlite3").read_bytes()
