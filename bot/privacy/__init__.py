"""Privacy: keyed hashes for logs, encrypted addresses at rest, and the audit for leaks.

One concept per module: :mod:`~bot.privacy.loghash` (the short hashes logs use),
:mod:`~bot.privacy.keys` (key text, key ids, derived keys), :mod:`~bot.privacy.cipher`
(AES-256-GCM for addresses), :mod:`~bot.privacy.blind_index` (the keyed hash lookups use),
:mod:`~bot.privacy.vault` (both, as storage uses them) and :mod:`~bot.privacy.audit` (what
``kyrbot privacy audit`` looks for).
"""

from __future__ import annotations

from bot.privacy.keys import Keyring, new_key
from bot.privacy.loghash import address_hash, set_hash_key
from bot.privacy.vault import AddressVault

__all__ = ["AddressVault", "Keyring", "address_hash", "new_key", "set_hash_key"]
