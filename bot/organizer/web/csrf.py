"""CSRF tokens for the console's forms: an HMAC of the session, checked on every POST.

The token is derived from the session token with a key only this server knows, so a page
on another site cannot know it; the session cookie is also ``SameSite=Strict``. Nothing is
stored: any instance with the same key checks any form.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Final

FIELD: Final = "csrf"
"""The form field (and ``X-CSRF-Token`` header for the page's own fetches)."""
HEADER: Final = "X-CSRF-Token"


class Csrf:
    """Makes and checks CSRF tokens.

    Args:
        key: the HMAC key (``privacy.hash_key`` when set, so instances agree; else random).
    """

    def __init__(self, key: str | None = None) -> None:
        self._key = (key or secrets.token_hex(32)).encode("utf-8")

    def token(self, session_token: str) -> str:
        """The CSRF token for forms shown to this session."""
        digest = hmac.new(self._key, b"csrf:" + session_token.encode("utf-8"), hashlib.sha256)
        return digest.hexdigest()

    def valid(self, session_token: str, given: str | None) -> bool:
        """Whether ``given`` is this session's token (compared in constant time)."""
        if not given:
            return False
        return hmac.compare_digest(self.token(session_token), given)
