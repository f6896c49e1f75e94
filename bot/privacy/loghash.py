"""Keyed hashes that stand for people's addresses in logs and counters."""

from __future__ import annotations

import hashlib
import secrets

from bot.messages import Address

_KEY_BYTES = 64  # the longest key BLAKE2b takes
_key: bytes = secrets.token_bytes(32)


def set_hash_key(key: str | None) -> None:
    """Use ``key`` for address hashes from now on; ``None`` keeps the random per-process key."""
    global _key
    if key:
        raw = key.encode("utf-8")
        # A longer key is first hashed down to one BLAKE2b accepts.
        _key = raw if len(raw) <= _KEY_BYTES else hashlib.blake2b(raw).digest()


def address_hash(address: Address) -> str:
    """A short keyed hash of an address: stable within a run, useless without the key.

    Keyed BLAKE2b, a MAC in one call: it runs on every inbound message, and an HMAC through
    OpenSSL costs several times as much there.
    """
    data = f"{address.channel}:{address.id}".encode()
    return f"{address.channel}:{hashlib.blake2b(data, key=_key, digest_size=6).hexdigest()}"
