"""Authenticated encryption of short identifiers: AES-256-GCM, a random nonce, a key id.

Why AES-GCM rather than Fernet: it is an AEAD, so each ciphertext is bound to where it is
stored (``context``: the table, column and channel) and cannot be moved elsewhere unnoticed;
a ciphertext names its key by id, so during a rotation the right key is picked at once
instead of tried in turn (MultiFernet); it carries no timestamp (a Fernet token says when it
was made); it uses a 256-bit key; and a phone number takes 45 bytes instead of Fernet's 120
characters of base64. Nonces are 96 random bits: far below the 2^32 encryptions per key at
which random nonces start to risk repeating.

A ciphertext is ``version (1 byte) | key id (4) | nonce (12) | AES-GCM(text) with its tag``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from bot.errors import StorageError
from bot.privacy.keys import KEY_ID_BYTES, key_id

VERSION: Final = 1
NONCE_BYTES: Final = 12
_HEADER: Final = 1 + KEY_ID_BYTES
_PREFIX: Final = bytes([VERSION])


class AddressCipher:
    """Encrypts under the current key; decrypts under it or any previous one.

    Args:
        current: the key new ciphertexts are written under.
        previous: older keys, still accepted for reading.
    """

    def __init__(self, current: bytes, previous: Sequence[bytes] = ()) -> None:
        self._current_id = key_id(current)
        self._current = AESGCM(current)
        self._by_id = {key_id(key): AESGCM(key) for key in (*previous, current)}
        self._current_header = _PREFIX + self._current_id

    @property
    def current_key_id(self) -> bytes:
        """The id of the key new ciphertexts carry."""
        return self._current_id

    def encrypt(self, text: str, context: bytes) -> bytes:
        """``text`` encrypted under the current key, bound to ``context``."""
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._current.encrypt(nonce, text.encode("utf-8"), context)
        return self._current_header + nonce + sealed

    def decrypt(self, blob: bytes, context: bytes) -> str:
        """The text in ``blob``.

        Raises:
            StorageError: the blob is under a key that is not configured, or was altered or
                moved from another ``context``.
        """
        blob = bytes(blob)  # PostgreSQL hands back memoryview-like bytes
        if len(blob) < _HEADER + NONCE_BYTES or blob[0] != VERSION:
            raise StorageError("a stored address is not a ciphertext this kyrbot knows")
        aead = self._by_id.get(blob[1:_HEADER])
        if aead is None:
            raise StorageError(
                f"a stored address is encrypted under key id {blob[1:_HEADER].hex()}, which "
                "is neither privacy.encryption_key nor in privacy.previous_keys"
            )
        try:
            data = aead.decrypt(
                blob[_HEADER : _HEADER + NONCE_BYTES], blob[_HEADER + NONCE_BYTES :], context
            )
        except InvalidTag:
            raise StorageError("a stored address failed its integrity check") from None
        return data.decode("utf-8")

    def is_current(self, blob: bytes) -> bool:
        """Whether ``blob`` is already under the current key (nothing to rotate)."""
        return bytes(blob[:_HEADER]) == self._current_header

    def knows(self, blob: bytes) -> bool:
        """Whether ``blob`` names a configured key (it can be decrypted, if intact)."""
        return len(blob) > _HEADER and bytes(blob[1:_HEADER]) in self._by_id
