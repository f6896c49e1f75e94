"""Measures conversation-storage throughput: claim + load + save per message, printed as msg/s.

Usage: python -m bench.storage [--url URL] [--messages N] [--contacts N] [--concurrency N]
Without --url it uses a fresh SQLite file in a temporary directory.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.messages import Address
from bot.privacy import AddressVault
from bot.storage import SqlStorage


async def _one(storage: SqlStorage, run_id: str, n: int, address: Address) -> None:
    now = datetime.now(UTC)
    if not await storage.claim_inbound(address.channel, f"{run_id}-{n}", now):
        raise AssertionError("duplicate claim")
    contact, _session = await storage.load_conversation(address, now.date())
    state = {"node": "sop130.menu", "back": ["sop130.menu"], "misses": n % 3}
    contact.unreachable = False
    await storage.save_conversation(contact, state, now)


async def run(
    url: str, messages: int, contacts: int, concurrency: int, **engine_kwargs: Any
) -> float:
    storage = SqlStorage(url, vault=AddressVault.throwaway(), engine_kwargs=engine_kwargs)
    await storage.open()
    try:
        addresses = [Address("sms", f"+1414555{i:04d}") for i in range(contacts)]
        for address in addresses:  # first contact creation is not the steady state
            await storage.load_conversation(address, datetime.now(UTC).date())
        queue = iter(range(messages))
        run_id = uuid.uuid4().hex

        async def worker() -> None:
            for n in queue:
                await _one(storage, run_id, n, addresses[n % contacts])

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
    finally:
        await storage.close()
    return messages / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url")
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--contacts", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.url or f"sqlite+aiosqlite:///{Path(tmp) / 'bench.sqlite3'}"
        rate = asyncio.run(run(url, args.messages, args.contacts, args.concurrency))
    backend = SqlStorage(url, vault=AddressVault.throwaway()).dialect_name
    print(
        f"{backend}: {rate:,.0f} messages/s (claim_inbound + load_conversation + "
        f"save_conversation), {args.messages} messages, {args.contacts} contacts, "
        f"concurrency {args.concurrency}"
    )


if __name__ == "__main__":
    main()
