"""The SQL store's tables: every column it may have, and that no address is stored in any.

SQL only: these are facts about the tables at rest (what a database dump would show).
"""

from __future__ import annotations

import itertools

from bot.storage import DeliveryOutcome, SqlStorage
from tests.support.storage import ALICE, EXPECTED_COLUMNS, NOW, TODAY, SqlBackend


async def test_open_creates_exactly_the_allowed_tables_and_columns(
    storage: SqlStorage, backend: SqlBackend
) -> None:
    contact, _ = await storage.load_conversation(ALICE, TODAY)
    await storage.save_conversation(contact, {"node": "sop130.menu"}, NOW)

    assert await backend.columns() == EXPECTED_COLUMNS


async def test_no_column_holds_the_address_or_the_organizer_in_plain_text(
    storage: SqlStorage, backend: SqlBackend
) -> None:
    contact, _ = await storage.load_conversation(ALICE, TODAY)
    contact.subscribed = True
    contact.consent_at = NOW
    await storage.save_conversation(contact, {"node": "sop130.menu", "locale": "es"}, NOW)
    await storage.claim_inbound(ALICE.channel, "SM123", NOW)
    await storage.add_topic_counts({(TODAY, "sop130.menu", "es", ALICE.channel): 1})
    # A broadcast delivered to Alice, with a worker and a rate reservation on record.
    broadcast = await storage.create_broadcast(
        author="cli:ana", texts={"en": "Hi"}, allow_fallback=True, now=NOW
    )
    await storage.start_broadcast(broadcast.id, NOW)
    await storage.materialize_deliveries(
        broadcast.id, locales={"en": "en"}, default_locale="en", batch_size=10, now=NOW
    )
    await storage.register_worker("w1", host="h", pid=1, now=NOW)
    [claimed] = await storage.claim_deliveries(
        broadcast.id, channel="sms", worker="w1", limit=5, now=NOW
    )
    await storage.record_deliveries(
        "w1", [DeliveryOutcome(claimed.id, "sent", provider_id="SMx")], NOW
    )
    await storage.reserve_send_time("sms", 1.0, 1000.0)
    await storage.add_audit(actor="cli:ana", action="send", detail={"broadcast": 1}, now=NOW)
    assert [entry.actor for entry in await storage.audit_log()] == ["cli:ana"]
    assert (await storage.get_broadcast(broadcast.id)).author == "cli:ana"  # type: ignore[union-attr]

    found = []
    for table, columns in EXPECTED_COLUMNS.items():
        for column, needle in itertools.product(sorted(columns), (ALICE.id, "ana")):
            ((hits,),) = await backend.rows(
                f'SELECT count(*) FROM {table} WHERE CAST("{column}" AS TEXT) LIKE :needle',
                needle=f"%{needle}%",
            )
            if hits:
                found.append((table, column, hits))
    assert found == []
