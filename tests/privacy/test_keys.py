"""Keys, the cipher and the blind index; and a bot that will not start without its keys."""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path

import pytest
import yaml

from bot.cli import main
from bot.errors import ConfigError, StorageError
from bot.messages import Address
from bot.phone_numbers import to_e164
from bot.privacy import AddressVault, Keyring, new_key
from bot.privacy.cipher import AddressCipher
from bot.privacy.keys import parse_key
from bot.storage import SqlStorage
from tests.conftest import ROOT
from tests.support.keys import TEST_ENCRYPTION_KEY, TEST_HASH_KEY, TEST_PRIVACY, TEST_VAULT

PERSON = Address("sms", "+14145550142")


def test_an_address_comes_back_only_with_its_key_and_in_its_place() -> None:
    sealed = TEST_VAULT.seal(PERSON)
    assert b"4145550142" not in sealed
    assert sealed != TEST_VAULT.seal(PERSON)  # a fresh nonce each time
    assert TEST_VAULT.reveal("sms", sealed) == PERSON
    with pytest.raises(StorageError, match="integrity"):
        TEST_VAULT.reveal("telegram", sealed)  # moved to another channel
    tampered = sealed[:-1] + bytes([sealed[-1] ^ 1])
    with pytest.raises(StorageError, match="integrity"):
        TEST_VAULT.reveal("sms", tampered)
    with pytest.raises(StorageError, match=r"neither privacy\.encryption_key"):
        AddressVault.throwaway().reveal("sms", sealed)


def test_during_a_rotation_old_ciphertexts_still_open_and_new_ones_use_the_new_key() -> None:
    old = AddressCipher(parse_key(TEST_ENCRYPTION_KEY, "old"))
    sealed = old.encrypt("7012345678", b"ctx")
    rotating = AddressCipher(parse_key(new_key(), "new"), [parse_key(TEST_ENCRYPTION_KEY, "old")])
    assert rotating.decrypt(sealed, b"ctx") == "7012345678"
    assert not rotating.is_current(sealed)
    assert rotating.is_current(rotating.encrypt("7012345678", b"ctx"))


def test_the_blind_index_is_stable_keyed_and_not_the_log_hash() -> None:
    again = AddressVault(Keyring.from_settings(encryption_key=new_key(), hash_key=TEST_HASH_KEY))
    assert again.lookup(PERSON) == TEST_VAULT.lookup(PERSON)  # the encryption key is not in it
    assert TEST_VAULT.lookup(PERSON) != TEST_VAULT.lookup(Address("telegram", PERSON.id))
    other = AddressVault(Keyring.from_settings(encryption_key=new_key(), hash_key=new_key()))
    assert other.lookup(PERSON) != TEST_VAULT.lookup(PERSON)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"hash_key": TEST_HASH_KEY}, "encryption_key is not set"),
        ({"encryption_key": TEST_ENCRYPTION_KEY}, "hash_key must be set"),
        ({"encryption_key": TEST_ENCRYPTION_KEY, "hash_key": "short"}, "at least 16"),
        ({"encryption_key": "not a key", "hash_key": TEST_HASH_KEY}, "not a key"),
    ],
)
def test_missing_or_malformed_keys_are_refused_with_what_to_do(
    settings: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        Keyring.from_settings(**{"encryption_key": None, "hash_key": None, **settings})


def test_new_key_prints_a_usable_key(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["privacy", "new-key"]) == 0
    printed = capsys.readouterr().out.strip()
    assert len(parse_key(printed, "printed")) == 32


def test_phone_numbers_become_e164_and_other_text_is_not_a_number() -> None:
    assert to_e164("(414) 555-0142", "US") == "+14145550142"
    assert to_e164("+52 55 1234 5678", "US") == "+525512345678"
    assert to_e164("55 1234 5678", "MX") == "+525512345678"
    assert to_e164("whatsapp:someone", "US") is None
    assert to_e164("", "US") is None


def _config(tmp_path: Path, **privacy: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "database": {"url": f"sqlite+aiosqlite:///{tmp_path / 'kyrbot.sqlite3'}"},
                "content": {
                    "dialogs_dir": str(ROOT / "dialogs"),
                    "locales_dir": str(ROOT / "locales"),
                },
                "server": {"port": 0},
                "organization": {"hotline": "(414) 555-0100", "org_phone": "(414) 555-0100"},
                **({"privacy": privacy} if privacy else {}),
            }
        ),
        encoding="utf-8",
    )
    return path


def test_serve_refuses_without_the_key_and_with_the_wrong_key_in_plain_words(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async def encrypted_database() -> None:
        url = f"sqlite+aiosqlite:///{tmp_path / 'kyrbot.sqlite3'}"
        async with SqlStorage(url, vault=TEST_VAULT) as store:
            await store.load_conversation(PERSON, date(2026, 3, 5))

    asyncio.run(encrypted_database())

    code = main(["serve", "--config", str(_config(tmp_path))])
    err = capsys.readouterr().err
    assert code == 2
    assert "privacy.encryption_key is not set" in err and "Traceback" not in err

    wrong = {**TEST_PRIVACY, "encryption_key": new_key()}
    code = main(["serve", "--config", str(_config(tmp_path, **wrong))])
    err = capsys.readouterr().err
    assert code == 2
    assert "neither privacy.encryption_key nor in privacy.previous_keys" in err
    assert "Traceback" not in err
