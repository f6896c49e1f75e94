"""No residue after forget-me: the erased number is in no byte of the SQLite files.

The test reads the raw bytes of the database file and its ``-wal`` file while the store is
still open (as a copy of the disk at that moment would), after a conversation and a
``BORRAR`` (forget me) through the real conversation service.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from bot.content import strings as texts
from bot.conversation.service import ConversationService
from bot.conversation.version import Content
from bot.messages import Address, Inbound
from bot.storage import open_storage
from tests.support.paths import NOW

ERASED = Address("sms", "+15550100177")
KEPT = Address("sms", "+15550100188")


def raw_bytes(database: Path) -> dict[str, bytes]:
    files = [database, database.with_name(database.name + "-wal")]
    return {path.name: path.read_bytes() for path in files if path.exists()}


async def test_an_erased_number_is_in_neither_the_database_nor_the_wal_file(
    tmp_path: Path, content: Content
) -> None:
    database = tmp_path / "residue.sqlite3"
    storage = open_storage(f"sqlite+aiosqlite:///{database}")
    await storage.open()
    try:
        service = ConversationService(content=content, storage=storage)
        for second, text in enumerate(["2", "1", "0", "1"]):
            for address in (ERASED, KEPT):
                event = Inbound(address, text, NOW + timedelta(seconds=second))
                await service.handle(event)
        assert any(ERASED.id.encode() in data for data in raw_bytes(database).values())

        [reply] = await service.handle(Inbound(ERASED, "BORRAR", NOW + timedelta(seconds=9)))
        assert reply.text == content.translator.text("es", texts.FORGOTTEN)

        files = raw_bytes(database)
        for name, data in files.items():
            assert ERASED.id.encode() not in data, f"{name} still holds the erased number"
        assert any(KEPT.id.encode() in data for data in files.values())  # the test can see
    finally:
        await storage.close()
