"""What the SQL fan-out store writes when a batch of delivery rows is written again.

SQL only: a crash between writing a batch and moving the cursor can only be staged by
changing the broadcast row underneath the store.
"""

from __future__ import annotations

from bot.storage import SqlStorage
from tests.support.storage import NOW, SqlBackend, started_broadcast, subscribers


async def test_writing_delivery_rows_again_after_a_crash_adds_nothing(
    storage: SqlStorage, backend: SqlBackend
) -> None:
    made = await subscribers(storage, [("sms", "es"), ("telegram", "en")] * 5)
    broadcast_id = await started_broadcast(storage, batch_size=3)

    # The cursor back at the start: a crash before it moved, or a second instance.
    await backend.execute(
        "UPDATE broadcasts SET materialized_upto = 0, materialized = :f", f=False
    )
    while await storage.materialize_deliveries(
        broadcast_id, locales={"en": "en", "es": "es"}, default_locale="en", batch_size=4, now=NOW
    ):
        pass

    assert await backend.count("deliveries") == len(made)
    rows = await backend.rows("SELECT contact_id, locale FROM deliveries ORDER BY contact_id")
    assert rows == [(c.id, c.locale) for c in made]
