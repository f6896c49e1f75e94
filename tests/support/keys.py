"""The fixed keys tests encrypt under (made up for the tests; never used anywhere else)."""

from __future__ import annotations

from typing import Final

from bot.privacy import AddressVault, Keyring

TEST_ENCRYPTION_KEY: Final = "S33a-NpFNs-WJfK5lApB5lP0ANqXOt-s1Ou4jZZFtL4="
TEST_HASH_KEY: Final = "kyrbot-tests-hash-key-not-secret"
TEST_PRIVACY: Final = {"encryption_key": TEST_ENCRYPTION_KEY, "hash_key": TEST_HASH_KEY}
"""The ``privacy:`` section of a test config."""

TEST_VAULT: Final = AddressVault(
    Keyring.from_settings(encryption_key=TEST_ENCRYPTION_KEY, hash_key=TEST_HASH_KEY)
)
