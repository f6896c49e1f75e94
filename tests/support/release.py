"""A database made by the last release that kept addresses in plain text, by that release's code.

The release's ``bot`` package is taken from git history into a scratch directory and run in
a subprocess, so the database is exactly what an existing deployment has: schema version 3,
addresses as text, organizer names as text. Every number is a fictional 555-01xx one.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any, Final

import pytest

from tests.support.paths import ROOT

PLAINTEXT_RELEASE: Final = "c31e7385a25f5b1cf44682c9a8971e8a2f818e39"
"""The last commit whose database keeps addresses in plain text."""

ANA = ("+14145550101", "(414) 555-0101")
"""One person written two ways (an older import): one contact after the migration."""
BEA = ("+14145550102", "414-555-0102")
"""One person who subscribed under one spelling and sent STOP under the other."""
CARL_CHAT = "4145550103"
"""A Telegram chat id that happens to look like a phone number: it must stay as it is."""
ORGANIZER = "telegram:6012345601"
CANARY_TEXT = "canary message: they took my brother from the bus stop"
"""A message text the old database is seeded with (in a session), for the audit to find."""

_SCRIPT: Final = r"""
import asyncio, json, sys
from datetime import UTC, datetime, timedelta
from bot.messages import Address
from bot.storage import SqlStorage

url, schema, data = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
kwargs = {"connect_args": {"server_settings": {"search_path": schema}}} if schema else None
NOW = datetime(2026, 3, 5, 12, tzinfo=UTC)
TODAY = NOW.date()


async def person(store, channel, address, *, days_ago, state, **fields):
    day = TODAY - timedelta(days=days_ago)
    contact, _ = await store.load_conversation(Address(channel, address), day)
    for name, value in fields.items():
        setattr(contact, name, value)
    await store.save_conversation(contact, state, NOW - timedelta(days=days_ago))
    return contact


async def main():
    async with SqlStorage(url, engine_kwargs=kwargs) as store:
        ana_old, ana_new = data["ana"]
        bea_old, bea_new = data["bea"]
        await person(store, "sms", ana_old, days_ago=3, state={"node": "kyr.menu"},
                     subscribed=True, consent_at=NOW - timedelta(days=30), locale="es")
        await person(store, "sms", bea_old, days_ago=5, state={"node": "kyr.menu"},
                     subscribed=True, consent_at=NOW - timedelta(days=20), locale="es")
        await person(store, "telegram", data["carl"], days_ago=1,
                     state={"node": "kyr.menu", "said": data["canary"]}, locale="en")
        broadcast = await store.create_broadcast(
            author=data["organizer"], texts={"en": "Hi", "es": "Hola"}, allow_fallback=True,
            now=NOW,
        )
        await store.start_broadcast(broadcast.id, NOW)
        while await store.materialize_deliveries(
            broadcast.id, locales={"en": "en", "es": "es"}, default_locale="en",
            batch_size=10, now=NOW,
        ):
            pass
        await store.add_audit(actor=data["organizer"], action="send",
                              detail={"broadcast": broadcast.id}, now=NOW)
        # Later, the same two people under their other spellings.
        await person(store, "sms", ana_new, days_ago=0, state={"node": "kyr.rights"}, locale="en")
        await person(store, "sms", bea_new, days_ago=0, state={"node": "kyr.menu"}, opted_out=True)


asyncio.run(main())
"""


def release_code(scratch: Path) -> Path:
    """The release's ``bot`` package, unpacked under ``scratch`` (skips without the history)."""
    target = scratch / "release"
    if (target / "bot").is_dir():
        return target
    try:
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", PLAINTEXT_RELEASE, "bot"],
            capture_output=True, check=True, timeout=60,
        ).stdout  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        pytest.skip(f"git history with {PLAINTEXT_RELEASE[:7]} is not available")
    target.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(target, filter="data")
    return target


def make_plaintext_database(
    scratch: Path, url: str, engine_kwargs: dict[str, Any] | None = None
) -> None:
    """Write the people above into ``url`` with the release's own code."""
    import json

    code = release_code(scratch)
    schema = ""
    if engine_kwargs:
        schema = engine_kwargs["connect_args"]["server_settings"]["search_path"]
    data = {
        "ana": ANA, "bea": BEA, "carl": CARL_CHAT, "organizer": ORGANIZER, "canary": CANARY_TEXT,
    }  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(code)}
    subprocess.run(
        [sys.executable, "-c", _SCRIPT, url, schema, json.dumps(data)],
        cwd=code, env=env, check=True, timeout=120,
    )  # fmt: skip
