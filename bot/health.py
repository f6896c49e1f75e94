"""What the server says about itself: liveness, readiness, the storage probe, channel states.

``GET /healthz`` is liveness: the process serves HTTP and is not stopping. ``GET /readyz``
is readiness: 503 while the storage cannot take writes (the probe below failed, or a write
failed), 200 otherwise; its JSON body gives each channel's state and the outbox counts. A
provider outage alone leaves readiness green: the channel is ``down`` in the body, its
replies wait in the outbox, and the other channels serve.

The storage is probed every :data:`PROBE_SECONDS` (:meth:`bot.storage.base.Storage.check_health`:
the SQLite files are the ones opened and writable, and a write goes through). A failure is
logged at ERROR once, with its cause; until a probe passes again, messages are refused
(webhooks get 503, so providers deliver them again later) rather than answered without
being stored.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, Final

from bot.errors import StorageError
from bot.storage.base import Storage

logger = logging.getLogger(__name__)

PROBE_SECONDS: Final = 2.0
"""How often the storage is probed while serving."""


class ChannelState:
    """A channel's state as ``/readyz`` reports it."""

    STARTING: Final = "starting"
    UP: Final = "up"
    DOWN: Final = "down"
    """Its provider could not be reached; registration is retried in the background."""


class Health:
    """The server's health: the storage's last word, and each channel's state.

    Args:
        storage: the store to probe.
        stopping: whether the server is shutting down (then it is neither live nor ready).
    """

    def __init__(self, storage: Storage, *, stopping: Callable[[], bool] = lambda: False) -> None:
        self._storage = storage
        self._stopping = stopping
        self.storage_failure: str | None = None
        """Why the storage cannot take writes, or None while it can."""
        self.channels: dict[str, str] = {}
        """Channel name -> :class:`ChannelState`."""

    def accepting(self) -> bool:
        """Whether messages may be taken in: the storage can store them, and not stopping.

        Checks the storage's files on every call (a few ``stat`` calls), so a database file
        deleted or made read-only is noticed at the next message, not the next probe.
        """
        if self.storage_failure is not None or self._stopping():
            return False
        try:
            self._storage.check_files()
        except StorageError as exc:
            self.storage_failed(str(exc))
            return False
        return True

    def storage_failed(self, cause: str) -> None:
        """Record a storage failure; the first one (until it recovers) is logged at ERROR."""
        if self.storage_failure is None:
            logger.error(
                "Storage failure: %s. Messages are refused (503) until it recovers; "
                "/readyz reports it",
                cause,
            )
        self.storage_failure = cause

    async def probe(self) -> bool:
        """Probe the storage now; True when it can take writes."""
        try:
            await self._storage.check_health()
        except StorageError as exc:
            self.storage_failed(str(exc))
            return False
        if self.storage_failure is not None:
            logger.warning("Storage recovered; taking messages again")
            self.storage_failure = None
        return True

    async def run(self, seconds: float = PROBE_SECONDS) -> None:
        """Probe every ``seconds`` until cancelled."""
        while True:
            await self.probe()
            await asyncio.sleep(seconds)

    def live(self) -> bool:
        """Liveness: serving and not stopping."""
        return not self._stopping()

    async def readiness(self) -> tuple[bool, dict[str, Any]]:
        """Readiness and the body ``/readyz`` answers with."""
        ready = self.accepting()
        body: dict[str, Any] = {
            "ready": ready,
            "storage": "ok" if self.storage_failure is None else self.storage_failure,
            "channels": dict(sorted(self.channels.items())),
        }
        if self.storage_failure is None:
            try:
                body["outbox"] = await self._storage.outbox.outbox_counts()
            except StorageError as exc:
                self.storage_failed(str(exc))
                return False, {**body, "ready": False, "storage": str(exc)}
        return ready, body
