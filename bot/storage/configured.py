"""The storage a config names, with its keys: what every command that opens the database uses."""

from __future__ import annotations

from bot.config import Config
from bot.privacy import AddressVault, Keyring
from bot.storage.base import Storage
from bot.storage.memory import MemoryStorage
from bot.storage.sql import SqlStorage

MEMORY_URL = "memory://"
"""The ``database.url`` of a store kept in memory only (:class:`MemoryStorage`)."""


def vault_for(config: Config) -> AddressVault:
    """The keys from ``privacy.*``.

    Raises:
        ConfigError: a key is missing or malformed (the message says how to make one).
    """
    privacy = config.privacy
    return AddressVault(
        Keyring.from_settings(
            encryption_key=privacy.encryption_key,
            previous_keys=privacy.previous_keys,
            hash_key=privacy.hash_key,
        )
    )


def storage_for(config: Config, *, vault: AddressVault | None = None) -> Storage:
    """The storage ``database.url`` names, not yet open, with the config's keys (or ``vault``).

    Raises:
        ConfigError: a database is configured without its keys.
        StorageError: the URL cannot be parsed or names an unsupported database.
    """
    url = config.database.url
    if url == MEMORY_URL:
        return MemoryStorage()  # nothing at rest: no keys needed
    return SqlStorage(
        url, vault=vault or vault_for(config), phone_region=config.twilio.default_region
    )
