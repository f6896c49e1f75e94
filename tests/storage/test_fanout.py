"""The fan-out store's contract, on every store: deliveries, claims, results, workers, rate."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from bot.storage import DeliveryOutcome, Storage
from tests.support.storage import NOW, Backend, started_broadcast, subscribers, tally


async def test_delivery_rows_are_written_once_per_subscriber_in_their_language(
    storage: Storage,
) -> None:
    made = await subscribers(
        storage, [("sms", "es"), ("telegram", "en"), ("sms", None), ("telegram", "fr")] * 3
    )
    await subscribers(storage, [("sms", "es")], subscribed=False)
    draft = await storage.create_broadcast(
        author="cli:ana", texts={"en": "Hi", "es": "Hola"}, allow_fallback=False, now=NOW
    )
    assert await storage.start_broadcast(draft.id, NOW)
    await subscribers(storage, [("sms", "es")])  # joined after Send: not a recipient
    broadcast_id, batches = draft.id, []
    while covered := await storage.materialize_deliveries(
        broadcast_id, locales={"en": "en", "es": "es"}, default_locale="en", batch_size=5, now=NOW
    ):
        batches.append(covered)
    assert batches == [5, 5, 2]

    assert await tally(storage, broadcast_id) == {
        ("sms", "pending"): 6,
        ("telegram", "pending"): 6,
    }
    claimed = [
        (c.contact_id, c.locale, c.address)
        for channel in ("sms", "telegram")
        for c in await storage.claim_deliveries(
            broadcast_id, channel=channel, worker="w", limit=100, now=NOW
        )
    ]
    expected_locale = {"es": "es", "en": "en", None: "en", "fr": "en"}
    assert sorted(claimed) == [(c.id, expected_locale[c.locale], c.address) for c in made]
    broadcast = await storage.get_broadcast(broadcast_id)
    assert broadcast is not None
    assert broadcast.materialized


async def test_materializing_needs_a_broadcast_being_sent_and_a_sane_batch(
    storage: Storage,
) -> None:
    await subscribers(storage, [("sms", "en")])
    draft = await storage.create_broadcast(
        author="cli:ana", texts={"en": "Hi"}, allow_fallback=True, now=NOW
    )
    locales = {"en": "en"}

    assert not await storage.materialize_deliveries(
        draft.id, locales=locales, default_locale="en", batch_size=5, now=NOW
    )
    assert not await storage.materialize_deliveries(
        999, locales=locales, default_locale="en", batch_size=5, now=NOW
    )
    with pytest.raises(ValueError, match="batch_size"):
        await storage.materialize_deliveries(
            draft.id, locales=locales, default_locale="en", batch_size=0, now=NOW
        )
    assert await storage.delivery_tally(draft.id) == []


async def test_claims_never_give_one_delivery_to_two_instances(backend: Backend) -> None:
    async with backend.storage() as setup:
        await subscribers(setup, [("telegram", "en")] * 60)
        broadcast_id = await started_broadcast(setup)
    one, two = backend.storage(), backend.storage()  # two processes
    await one.open()
    await two.open()
    try:

        async def drain(store: Storage, worker: str) -> list[int]:
            got: list[int] = []
            while batch := await store.claim_deliveries(
                broadcast_id, channel="telegram", worker=worker, limit=7, now=NOW
            ):
                assert {item.attempts for item in batch} == {1}
                got.extend(item.id for item in batch)
                await asyncio.sleep(0)
            return got

        first, second = await asyncio.gather(drain(one, "w1"), drain(two, "w2"))
        assert await tally(one, broadcast_id) == {("telegram", "sending"): 60}
    finally:
        await one.close()
        await two.close()

    assert not set(first) & set(second)
    assert len(first) + len(second) == 60


async def test_claims_close_deliveries_of_people_who_left_meanwhile(storage: Storage) -> None:
    stays, stops, leaves = await subscribers(storage, [("sms", "en")] * 3)
    broadcast_id = await started_broadcast(storage)
    stops.opted_out = True
    leaves.subscribed = False
    await storage.update_contact(stops)
    await storage.update_contact(leaves)

    claimed = await storage.claim_deliveries(
        broadcast_id, channel="sms", worker="w", limit=10, now=NOW
    )

    assert [c.contact_id for c in claimed] == [stays.id]
    assert claimed[0].address == stays.address
    assert claimed[0].attempts == 1
    assert await tally(storage, broadcast_id) == {
        ("sms", "sending"): 1,
        ("sms", "opted_out"): 1,
        ("sms", "skipped"): 1,
    }


async def test_outcomes_are_recorded_and_retries_wait_for_their_time(storage: Storage) -> None:
    sent, retry, stopped, blocked = await subscribers(storage, [("sms", "en")] * 4)
    broadcast_id = await started_broadcast(storage)
    claimed = await storage.claim_deliveries(
        broadcast_id, channel="sms", worker="w", limit=10, now=NOW
    )
    ids = {c.contact_id: c.id for c in claimed}
    later = NOW + timedelta(minutes=1)
    # Another worker cannot record over rows it does not hold.
    await storage.record_deliveries("intruder", [DeliveryOutcome(ids[sent.id], "failed")], NOW)
    assert await tally(storage, broadcast_id) == {("sms", "sending"): 4}

    await storage.record_deliveries(
        "w",
        [
            DeliveryOutcome(ids[sent.id], "sent", provider_id="SM1"),
            DeliveryOutcome(ids[retry.id], "pending", error="RateLimited", retry_at=later),
            DeliveryOutcome(
                ids[stopped.id], "opted_out", contact_id=stopped.id, mark_contact="opted_out"
            ),
            DeliveryOutcome(
                ids[blocked.id], "failed", contact_id=blocked.id, mark_contact="unreachable"
            ),
        ],
        NOW,
    )
    # A result lands once: a finished row is not rewritten, even by its worker.
    await storage.record_deliveries("w", [DeliveryOutcome(ids[sent.id], "failed")], NOW)
    await storage.record_deliveries("w", [], NOW)

    assert await tally(storage, broadcast_id) == {
        ("sms", "sent"): 1,
        ("sms", "pending"): 1,
        ("sms", "opted_out"): 1,
        ("sms", "failed"): 1,
    }
    assert (
        await storage.claim_deliveries(broadcast_id, channel="sms", worker="w", limit=10, now=NOW)
        == []
    )
    assert await storage.next_pending_at(broadcast_id, channel="sms") == later
    [again] = await storage.claim_deliveries(
        broadcast_id, channel="sms", worker="w", limit=10, now=later
    )
    assert again.attempts == 2
    await storage.release_deliveries("intruder", [again.id], later)  # not theirs: no effect
    assert await tally(storage, broadcast_id) == {
        ("sms", "sent"): 1,
        ("sms", "sending"): 1,
        ("sms", "opted_out"): 1,
        ("sms", "failed"): 1,
    }
    await storage.release_deliveries("w", [again.id], later)  # never attempted: attempt undone
    [same] = await storage.claim_deliveries(
        broadcast_id, channel="sms", worker="w2", limit=10, now=later
    )
    assert (same.id, same.attempts) == (again.id, 2)
    marked_stopped = await storage.get_contact(stopped.address)
    marked_blocked = await storage.get_contact(blocked.address)
    assert marked_stopped is not None
    assert marked_blocked is not None
    assert (marked_stopped.opted_out, marked_stopped.subscribed) == (True, False)
    assert marked_blocked.unreachable
    assert await storage.next_pending_at(broadcast_id, channel="telegram") is None


async def test_a_pending_delivery_without_a_retry_time_is_due_at_once(storage: Storage) -> None:
    await subscribers(storage, [("sms", "en")])
    broadcast_id = await started_broadcast(storage)

    due = await storage.next_pending_at(broadcast_id, channel="sms")

    assert due is not None
    assert due <= NOW


async def test_a_dead_instances_in_flight_deliveries_become_unknown_for_good(
    storage: Storage,
) -> None:
    await subscribers(storage, [("telegram", "en")] * 4)
    broadcast_id = await started_broadcast(storage)
    await storage.register_worker("dead", host="h", pid=1, now=NOW)
    await storage.register_worker("alive", host="h", pid=2, now=NOW)
    await storage.claim_deliveries(
        broadcast_id, channel="telegram", worker="dead", limit=2, now=NOW
    )
    [mine] = await storage.claim_deliveries(
        broadcast_id, channel="telegram", worker="alive", limit=1, now=NOW
    )
    [ghost] = await storage.claim_deliveries(  # a claimer that never registered
        broadcast_id, channel="telegram", worker="ghost", limit=1, now=NOW
    )
    assert await storage.heartbeat("alive", NOW + timedelta(seconds=5))

    lost = await storage.reap_workers(
        ["dead"], orphaned_before=NOW - timedelta(minutes=1), now=NOW
    )

    assert lost == 2
    assert [w.id for w in await storage.list_workers()] == ["alive"]
    assert not await storage.heartbeat("dead", NOW)
    assert await tally(storage, broadcast_id) == {
        ("telegram", "sending"): 2,
        ("telegram", "unknown"): 2,
    }
    assert (
        await storage.claim_deliveries(
            broadcast_id, channel="telegram", worker="alive", limit=5, now=NOW
        )
        == []
    )
    # An unregistered claimer is an orphan once its claim is old enough.
    assert await storage.reap_workers([], orphaned_before=NOW, now=NOW) == 0
    assert await storage.reap_workers([], orphaned_before=NOW + timedelta(seconds=1), now=NOW) == 1
    # The claimer's own result still lands, over "unknown": it knows better.
    await storage.record_deliveries("ghost", [DeliveryOutcome(ghost.id, "sent")], NOW)
    await storage.record_deliveries("alive", [DeliveryOutcome(mine.id, "sent")], NOW)
    assert await tally(storage, broadcast_id) == {
        ("telegram", "sent"): 2,
        ("telegram", "unknown"): 2,
    }


async def test_registering_again_keeps_the_worker_and_refreshes_its_heartbeat(
    storage: Storage,
) -> None:
    later = NOW + timedelta(seconds=30)
    await storage.register_worker("w1", host="a", pid=1, now=NOW)
    await storage.register_worker("w0", host="b", pid=2, now=NOW)

    await storage.register_worker("w1", host="a", pid=1, now=later)

    workers = await storage.list_workers()
    assert [(w.id, w.host, w.pid) for w in workers] == [("w0", "b", 2), ("w1", "a", 1)]
    assert (workers[1].started_at, workers[1].heartbeat_at) == (NOW, later)


async def test_delivery_reports_find_their_delivery_by_provider_id(storage: Storage) -> None:
    delivered, stopped = await subscribers(storage, [("sms", "en")] * 2)
    broadcast_id = await started_broadcast(storage)
    claimed = await storage.claim_deliveries(
        broadcast_id, channel="sms", worker="w", limit=5, now=NOW
    )
    await storage.record_deliveries(
        "w",
        [DeliveryOutcome(c.id, "sent", provider_id=f"SM{c.contact_id}") for c in claimed],
        NOW,
    )

    assert await storage.apply_delivery_report(
        f"SM{delivered.id}", status="delivered", error=None, opted_out=False, now=NOW
    )
    assert await storage.apply_delivery_report(
        f"SM{stopped.id}", status="opted_out", error="failed 21610", opted_out=True, now=NOW
    )
    # A late "failed" after "delivered" changes nothing, but the id is known.
    assert await storage.apply_delivery_report(
        f"SM{delivered.id}", status="failed", error="x", opted_out=False, now=NOW
    )
    assert not await storage.apply_delivery_report(
        "SMnobody", status="delivered", error=None, opted_out=False, now=NOW
    )

    assert await tally(storage, broadcast_id) == {("sms", "delivered"): 1, ("sms", "opted_out"): 1}
    marked = await storage.get_contact(stopped.address)
    assert marked is not None
    assert (marked.opted_out, marked.subscribed) == (True, False)


async def test_sending_time_is_shared_between_instances_without_overlap(backend: Backend) -> None:
    one, two = backend.storage(), backend.storage()
    await one.open()
    await two.open()
    try:
        starts = await asyncio.gather(
            *(store.reserve_send_time("sms", 0.5, 1000.0) for store in (one, two) * 10)
        )
        await one.pause_sending("sms", 5000.0)
        after_pause = await two.reserve_send_time("sms", 0.5, 1000.0)
        await one.pause_sending("sms", 10.0)  # a pause never shortens the reserved time
        after_short_pause = await two.reserve_send_time("sms", 0.5, 1000.0)
        other_channel = await two.reserve_send_time("telegram", 0.1, 1000.0)
        with pytest.raises(ValueError, match="negative"):
            await one.reserve_send_time("sms", -1.0, 1000.0)
    finally:
        await one.close()
        await two.close()

    assert sorted(starts) == [1000.0 + 0.5 * n for n in range(20)]
    assert after_pause == 5000.0
    assert after_short_pause == 5000.5
    assert other_channel == 1000.0
