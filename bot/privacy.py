"""Keyed hashes that stand for people's addresses in logs and counters."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from bot.messages import Address

_key: bytes = secrets.token_bytes(32)


def set_hash_key(key: str | None) -> None:
    """Use ``key`` for address hashes from now on; ``None`` keeps the random per-process key."""
    global _key
    if key:
        _key = key.encode("utf-8")


def address_hash(address: Address) -> str:
    """A short keyed hash of an address: stable within a run, useless without the key."""
    digest = hmac.digest(_key, f"{address.channel}:{address.id}".encode(), hashlib.sha256)
    return f"{address.channel}:{digest.hex()[:12]}"
