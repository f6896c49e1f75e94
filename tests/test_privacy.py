"""Address hashes: stable under one key, different under another, never the address."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.messages import Address
from bot.privacy import loghash as privacy

PHONE = Address("sms", "+15550100123")


@pytest.fixture(autouse=True)
def _restore_key() -> Iterator[None]:
    saved = privacy._key
    yield
    privacy._key = saved


def test_one_key_gives_one_short_hash_that_hides_the_address() -> None:
    privacy.set_hash_key("deployment key")
    first = privacy.address_hash(PHONE)
    assert first == privacy.address_hash(Address("sms", "+15550100123"))
    assert first.startswith("sms:") and len(first) == len("sms:") + 12
    assert "0100123" not in first
    assert first != privacy.address_hash(Address("sms", "+15550100124"))


def test_another_key_gives_another_hash_and_long_keys_work() -> None:
    privacy.set_hash_key("key one")
    one = privacy.address_hash(PHONE)
    privacy.set_hash_key("key two " * 40)  # longer than BLAKE2b takes directly
    two = privacy.address_hash(PHONE)
    assert one != two
    privacy.set_hash_key("key one")
    assert privacy.address_hash(PHONE) == one


def test_no_key_keeps_the_random_key_of_this_process() -> None:
    before = privacy.address_hash(PHONE)
    privacy.set_hash_key(None)
    assert privacy.address_hash(PHONE) == before
