"""The fake Telegram Bot API the webhook benchmarks send replies to: in this loop or a child.

A child process keeps it off the measured bot's event loop and CPU, as Telegram is elsewhere in
production; its clock (``time.monotonic``, CLOCK_MONOTONIC) is the parent's, so the arrival
times it records compare with the parent's send times.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from multiprocessing.connection import Connection
from typing import Any

from tests.fakes.telegram_server import FakeBotApi


class FakeHandle:
    """Where the fake Bot API listens, and how many messages it has received."""

    def __init__(self, port: int) -> None:
        self.base_url = f"http://127.0.0.1:{port}/bot"

    async def sent(self) -> int:
        """Messages received so far."""
        raise NotImplementedError

    async def arrivals(self, start: int) -> list[tuple[int, float]]:
        """``(chat_id, monotonic time)`` of each message received after the first ``start``."""
        raise NotImplementedError

    async def close(self) -> None:
        """Stop the fake."""


class LoopFake(FakeHandle):
    """The fake in the benchmark's own event loop."""

    def __init__(self, fake: FakeBotApi) -> None:
        assert fake.port is not None
        super().__init__(fake.port)
        self._fake = fake

    async def sent(self) -> int:
        return len(self._fake.sent)

    async def arrivals(self, start: int) -> list[tuple[int, float]]:
        return [(message.chat_id, message.at) for message in self._fake.sent[start:]]

    async def close(self) -> None:
        await self._fake.stop()


def _serve_fake(conn: Connection) -> None:
    """Child process: run a fake, answer "count", ``("arrivals", n)`` and "stop" over ``conn``."""

    async def serve() -> None:
        async with FakeBotApi() as fake:
            conn.send(fake.port)
            loop = asyncio.get_running_loop()
            while True:
                command = await loop.run_in_executor(None, conn.recv)
                if isinstance(command, tuple):
                    conn.send([(m.chat_id, m.at) for m in fake.sent[command[1] :]])
                    continue
                conn.send(len(fake.sent))
                if command == "stop":
                    return

    asyncio.run(serve())


class ProcessFake(FakeHandle):
    """The fake in a child process, off the bot's event loop and CPU."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_serve_fake, args=(child,), daemon=True)
        self._process.start()
        super().__init__(self._conn.recv())

    async def _ask(self, command: object) -> Any:
        self._conn.send(command)
        return await asyncio.get_running_loop().run_in_executor(None, self._conn.recv)

    async def sent(self) -> int:
        count: int = await self._ask("count")
        return count

    async def arrivals(self, start: int) -> list[tuple[int, float]]:
        answer: list[tuple[int, float]] = await self._ask(("arrivals", start))
        return answer

    async def close(self) -> None:
        await self._ask("stop")
        self._process.join(timeout=5)


async def start_fake(where: str) -> FakeHandle:
    """A running fake Bot API, ``where`` being "process" or "loop"."""
    if where == "process":
        return ProcessFake()
    fake = FakeBotApi()
    await fake.start()
    return LoopFake(fake)
