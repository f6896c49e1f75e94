"""The blind index: a keyed hash of an address that lookups and dedup use instead of it.

Keyed BLAKE2b (a MAC in one call, cheaper than HMAC on the per-message path) under a key
derived from ``privacy.hash_key`` for this purpose alone, so it never equals the log hash.
128 bits: collisions between two people are not a practical concern. It must stay stable:
a contact is found by it, so it is not changed by key rotation (docs/PRIVACY.md).
"""

from __future__ import annotations

import hashlib
from typing import Final

from bot.privacy.keys import derive

DIGEST_BYTES: Final = 16


class BlindIndex:
    """Keyed hashes of ``(channel, address id)``.

    Args:
        hash_key: the secret (``privacy.hash_key``).
    """

    def __init__(self, hash_key: bytes) -> None:
        self._key = derive(hash_key, "kyrbot blind index v1")

    def of(self, channel: str, address_id: str) -> bytes:
        """The index value of one address on one channel."""
        data = f"{channel}\x00{address_id}".encode()
        return hashlib.blake2b(data, key=self._key, digest_size=DIGEST_BYTES).digest()
