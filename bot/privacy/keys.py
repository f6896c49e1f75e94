"""The keys: how they are written, made and checked, their ids, and keys derived from them."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from bot.errors import ConfigError

KEY_BYTES: Final = 32
"""An encryption key is 32 random bytes (AES-256), written as URL-safe base64 (44 characters)."""

MIN_HASH_KEY_CHARS: Final = 16
"""The shortest ``privacy.hash_key`` accepted once it guards stored addresses.

Phone numbers are few enough to try them all; only the secrecy of this key keeps the keyed
hashes from being reversed that way, so a short, guessable one is refused."""

KEY_ID_BYTES: Final = 4


def new_key() -> str:
    """A fresh random key, for ``privacy.encryption_key`` or ``privacy.hash_key``."""
    return base64.urlsafe_b64encode(secrets.token_bytes(KEY_BYTES)).decode("ascii")


def parse_key(text: str, setting: str) -> bytes:
    """The 32 bytes of an encryption key written as ``kyrbot privacy new-key`` prints it.

    Raises:
        ConfigError: naming ``setting``, when the text is not such a key.
    """
    try:
        raw = base64.urlsafe_b64decode(text.strip().encode("ascii"))
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raw = b""
    if len(raw) != KEY_BYTES:
        raise ConfigError(
            f"{setting}: not a key (expected {KEY_BYTES} bytes in URL-safe base64, as "
            "'kyrbot privacy new-key' prints)"
        )
    return raw


def key_id(key: bytes) -> bytes:
    """A short public name of a key, stored with each ciphertext so rotation knows which.

    A hash of the key under a fixed label: it tells keys apart and reveals nothing of them.
    """
    return hashlib.sha256(b"kyrbot key id\x00" + key).digest()[:KEY_ID_BYTES]


def derive(secret: bytes, purpose: str) -> bytes:
    """A 32-byte key for one purpose from ``secret`` (HMAC-SHA256), so uses never mix."""
    return hmac.new(secret, purpose.encode("ascii"), hashlib.sha256).digest()


@dataclass(frozen=True, slots=True)
class Keyring:
    """The keys storage needs: the current encryption key, older ones, and the hash key.

    Attributes:
        current: the key new ciphertexts are written under.
        previous: keys still accepted for reading, during a rotation.
        hash_key: the secret of the blind index; never rotated (see docs/PRIVACY.md).
    """

    current: bytes
    previous: tuple[bytes, ...]
    hash_key: bytes

    @classmethod
    def from_settings(
        cls,
        *,
        encryption_key: str | None,
        previous_keys: Sequence[str] = (),
        hash_key: str | None,
    ) -> Keyring:
        """The keyring from ``privacy.*`` settings.

        Raises:
            ConfigError: a key is missing, malformed, or the hash key is too short.
        """
        if not encryption_key:
            raise ConfigError(
                "privacy.encryption_key is not set: the database keeps phone numbers and "
                "chat ids encrypted, and cannot be opened without it. Set it from the "
                "environment (encryption_key: ${KYRBOT_KEY}); 'kyrbot privacy new-key' "
                "prints a fresh one"
            )
        if not hash_key or len(hash_key) < MIN_HASH_KEY_CHARS:
            raise ConfigError(
                "privacy.hash_key must be set (at least "
                f"{MIN_HASH_KEY_CHARS} characters) and never change: contacts are found by "
                "a keyed hash under it. 'kyrbot privacy new-key' prints a fresh one"
            )
        current = parse_key(encryption_key, "privacy.encryption_key")
        previous = tuple(
            parse_key(text, f"privacy.previous_keys[{i}]") for i, text in enumerate(previous_keys)
        )
        return cls(
            current=current,
            previous=tuple(key for key in previous if key != current),
            hash_key=hash_key.encode("utf-8"),
        )

    @classmethod
    def throwaway(cls) -> Keyring:
        """Random keys for this process only: for a database thrown away when it ends."""
        return cls(
            current=secrets.token_bytes(KEY_BYTES),
            previous=(),
            hash_key=secrets.token_bytes(KEY_BYTES),
        )
