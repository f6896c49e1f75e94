"""The Storage lifecycle on every store: open and close, closed stores, cancellation, retention."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from bot.errors import StorageError
from bot.storage import DeliveryOutcome, PruneResult, Storage
from tests.support.storage import (
    ALICE,
    BOB,
    NOW,
    TODAY,
    Backend,
    started_broadcast,
    subscribers,
    tally,
)


async def test_open_and_close_are_idempotent(backend: Backend) -> None:
    store = backend.storage()
    await store.open()
    await store.open()
    assert await store.claim_inbound("sms", "m1", NOW)
    await store.close()
    await store.close()


async def test_calls_on_a_closed_storage_raise_storage_error(backend: Backend) -> None:
    store = backend.storage()
    with pytest.raises(StorageError, match="not open"):
        await store.claim_inbound("sms", "m", NOW)
    async with store as opened:
        assert opened is store
    with pytest.raises(StorageError, match="not open"):
        await store.get_contact(ALICE)
    with pytest.raises(StorageError, match="not open"):
        await store.list_broadcasts()
    with pytest.raises(StorageError, match="not open"):
        await store.list_workers()


async def test_what_was_written_is_there_after_reopening(backend: Backend) -> None:
    async with backend.storage() as store:
        contact, _ = await store.load_conversation(ALICE, TODAY)
        contact.locale = "es"
        await store.save_conversation(contact, {"node": "a"}, NOW)
    async with backend.storage() as store:
        again, session = await store.load_conversation(ALICE, TODAY)
    assert (again.id, again.locale) == (contact.id, "es")
    assert session is not None


async def test_a_cancelled_call_leaves_the_storage_usable(storage: Storage) -> None:
    contact, _ = await storage.load_conversation(ALICE, TODAY)
    tasks = [
        asyncio.create_task(storage.save_conversation(contact, {"node": str(n)}, NOW))
        for n in range(10)
    ]
    await asyncio.sleep(0)
    for task in tasks[::2]:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)

    assert await storage.claim_inbound("sms", "after", NOW)
    _, session = await storage.load_conversation(ALICE, TODAY)
    assert session is not None


async def test_prune_removes_only_rows_older_than_each_window(storage: Storage) -> None:
    old, new = NOW - timedelta(days=30), NOW - timedelta(hours=1)
    cutoff = NOW - timedelta(days=1)
    stale, fresh = await subscribers(storage, [("sms", "en"), ("telegram", "en")])
    await storage.save_conversation(stale, {"node": "a"}, old)
    await storage.save_conversation(fresh, {"node": "b"}, new)
    await storage.claim_inbound("sms", "old", old)
    await storage.claim_inbound("sms", "new", new)
    broadcast_id = await started_broadcast(storage, now=old)
    [sent] = await storage.claim_deliveries(
        broadcast_id, channel="telegram", worker="w", limit=5, now=old
    )
    await storage.record_deliveries("w", [DeliveryOutcome(sent.id, "sent")], new)

    result = await storage.prune(
        sessions_before=cutoff, inbound_before=cutoff, deliveries_before=cutoff
    )

    assert result == PruneResult(sessions=1, inbound_ids=1, deliveries=1)
    assert (await storage.load_conversation(stale.address, TODAY))[1] is None
    assert (await storage.load_conversation(fresh.address, TODAY))[1] is not None
    assert await tally(storage, broadcast_id) == {("telegram", "sent"): 1}
    assert await storage.get_contact(stale.address) is not None  # not pruned by age
    assert not await storage.claim_inbound("sms", "new", NOW)
    # The old id is forgotten, so the same id would now be answered again.
    assert await storage.claim_inbound("sms", "old", NOW)


async def test_prune_uses_each_window_separately(storage: Storage) -> None:
    contact, _ = await storage.load_conversation(ALICE, TODAY)
    await storage.save_conversation(contact, {"node": "a"}, NOW - timedelta(days=2))
    await storage.claim_inbound("sms", "m", NOW - timedelta(days=2))
    other, _ = await storage.load_conversation(BOB, TODAY)
    await storage.save_conversation(other, {"node": "b"}, NOW - timedelta(days=3))
    await subscribers(storage, [("sms", "en")])
    await started_broadcast(storage, now=NOW)

    result = await storage.prune(  # what was written exactly at a window's start stays
        sessions_before=NOW - timedelta(days=3),
        inbound_before=NOW - timedelta(days=1),
        deliveries_before=NOW,
    )

    assert result == PruneResult(sessions=0, inbound_ids=1, deliveries=0)
    assert (await storage.load_conversation(BOB, TODAY))[1] is not None
