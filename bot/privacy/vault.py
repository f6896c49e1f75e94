"""How storage keeps addresses and organizer names: a blind index to find, a cipher to send."""

from __future__ import annotations

from typing import Final

from bot.messages import Address
from bot.privacy.blind_index import BlindIndex
from bot.privacy.cipher import AddressCipher
from bot.privacy.keys import Keyring

_ADDRESS: Final = b"contacts.address\x00"


class AddressVault:
    """The keyed hash and the encryption storage applies to every identifier it keeps.

    Args:
        keys: the current and previous encryption keys and the hash key.
    """

    def __init__(self, keys: Keyring) -> None:
        self.keys = keys
        self.index = BlindIndex(keys.hash_key)
        self.cipher = AddressCipher(keys.current, keys.previous)

    @classmethod
    def throwaway(cls) -> AddressVault:
        """A vault with random keys, for a database that dies with this process."""
        return cls(Keyring.throwaway())

    def lookup(self, address: Address) -> bytes:
        """The blind index of ``address``: what finds its contact."""
        return self.index.of(address.channel, address.id)

    def seal(self, address: Address) -> bytes:
        """``address.id`` encrypted, bound to its channel."""
        return self.cipher.encrypt(address.id, _ADDRESS + address.channel.encode())

    def reveal(self, channel: str, blob: bytes) -> Address:
        """The address sealed in ``blob`` (StorageError when it cannot be decrypted)."""
        return Address(channel, self.cipher.decrypt(blob, _ADDRESS + channel.encode()))

    def seal_text(self, text: str, field: str) -> bytes:
        """Another identifier (an organizer's name in the audit log) encrypted for ``field``."""
        return self.cipher.encrypt(text, field.encode())

    def reveal_text(self, blob: bytes, field: str) -> str:
        """The text :meth:`seal_text` sealed for ``field``."""
        return self.cipher.decrypt(blob, field.encode())
