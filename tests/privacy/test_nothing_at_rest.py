"""After real traffic, no phone number, chat id or message text is anywhere in the database.

A conversation, a subscription and a broadcast run through the real adapters (fake far
ends) on SQLite and PostgreSQL; then the raw database files (SQLite: the file, its WAL and
shared memory) or a ``pg_dump`` of the test's schema are searched for every identifier used,
as text and as stored integers, and every column of every table is queried for them.
"""

from __future__ import annotations

import glob
import shutil
import subprocess
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.messages import Address
from tests.conftest import make_config
from tests.support import traffic
from tests.support.broadcast import POSTGRES_URL, database


def _pg_dump() -> str | None:
    return shutil.which("pg_dump") or next(
        iter(sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_dump"), reverse=True)), None
    )


async def _columns_holding(engine: sa.ext.asyncio.AsyncEngine) -> list[tuple[str, str, str]]:
    """(table, column, needle) for every column where any needle is found."""

    def search(conn: sa.Connection) -> list[tuple[str, str, str]]:
        inspector = sa.inspect(conn)
        hits = []
        for table in inspector.get_table_names():
            for column in inspector.get_columns(table):
                name = column["name"]
                for needle in traffic.needles_as_text():
                    query = sa.text(
                        f'SELECT count(*) FROM {table} WHERE CAST("{name}" AS TEXT) LIKE :n'
                    )
                    count = conn.execute(query, {"n": f"%{needle}%"}).scalar()
                    if needle.lstrip("+").isdigit() and isinstance(
                        column["type"], sa.Integer | sa.BigInteger
                    ):
                        count += conn.execute(
                            sa.text(
                                f'SELECT count(*) FROM {table} WHERE CAST("{name}" AS BIGINT) = :v'
                            ).bindparams(sa.bindparam("v", type_=sa.BigInteger)),
                            {"v": int(needle)},
                        ).scalar()
                    if count:
                        hits.append((table, name, needle))
        return hits

    async with engine.connect() as conn:
        return await conn.run_sync(search)


@pytest.mark.parametrize(
    "kind", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
async def test_a_conversation_a_subscription_and_a_broadcast_leave_no_identifier_at_rest(
    kind: str, tmp_path: Path
) -> None:
    if kind == "postgresql" and not POSTGRES_URL:
        pytest.skip("KYRBOT_TEST_POSTGRES_URL is not set")
    async for db in database(kind, tmp_path):
        config = make_config(database={"url": db.url})
        store = db.storage()
        async with store:
            outcome = await traffic.run_traffic(store, config)
            # It really happened: both were answered, subscribed and got the broadcast.
            assert outcome.sms_replies >= 4 and outcome.telegram_replies >= 4
            assert outcome.broadcast_sms == [traffic.PHONE]
            assert outcome.broadcast_chats == [traffic.CHAT]
            assert await store.get_contact(Address("sms", traffic.PHONE)) is not None
            assert [e.actor for e in await store.audit_log()][-1] == (
                f"telegram:{traffic.ORGANIZER}"
            )
            assert await _columns_holding(store.engine) == []

        if kind == "sqlite":
            files = sorted(tmp_path.glob("kyrbot.sqlite3*"))
            assert files, "no database file"
            raw = {path.name: path.read_bytes() for path in files}
        else:
            dump = _pg_dump()
            if dump is None:
                pytest.skip("pg_dump is not installed")
            schema = db.engine_kwargs["connect_args"]["server_settings"]["search_path"]
            url = sa.make_url(POSTGRES_URL)
            result = subprocess.run(  # noqa: ASYNC221 -- the test's own work is done
                [dump, "-h", url.host or "127.0.0.1", "-p", str(url.port or 5432),
                 "-U", url.username or "postgres", "-n", schema, url.database or "test"],
                capture_output=True, check=True, timeout=120,
            )  # fmt: skip
            assert f"CREATE TABLE {schema}.contacts" in result.stdout.decode()
            raw = {"pg_dump": result.stdout}
        found = [
            (name, needle)
            for name, data in raw.items()
            for needle in traffic.needles_as_bytes()
            if needle in data
        ]
        assert found == []
