"""This instance among the broadcast senders: its registration, heartbeat, and the dead's work.

Every delivery a sender claims stays "sending" under its id. A sender whose heartbeat stops,
or whose process on this host is gone, is dead: its claimed deliveries are reported
``unknown`` and never sent again, so nobody gets a second copy.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Final

from bot.broadcast.drafts import utcnow
from bot.storage.base import Storage

logger = logging.getLogger(__name__)

_EVER: Final = datetime(1970, 1, 1, tzinfo=UTC)
"""Before every claim: reaping with this cut-off takes all of a sender's claims."""

_BEATS_PER_REAP: Final = 5


class WorkerLease:
    """One sender's place in the database: register, beat, reap the dead, deregister.

    Args:
        storage: an open storage.
        worker_id: this sender's id in the database.
        heartbeat: seconds between heartbeats.
        timeout: a sender silent this long is dead.
        now: the wall clock (timezone-aware UTC) heartbeats and reaping are counted in.
    """

    def __init__(
        self,
        storage: Storage,
        worker_id: str,
        *,
        heartbeat: float,
        timeout: float,
        now: Callable[[], datetime] = utcnow,
    ) -> None:
        self.storage = storage
        self.worker_id = worker_id
        self._heartbeat = heartbeat
        self._timeout = timeout
        self._now = now
        self._host = socket.gethostname()
        self._registered = False
        self._beat_task: asyncio.Task[None] | None = None

    async def register(self) -> None:
        """Join the senders (once), reap the dead, and start beating."""
        if self._registered:
            return
        await self.storage.register_worker(
            self.worker_id, host=self._host, pid=os.getpid(), now=self._now()
        )
        self._registered = True
        await self.reap()
        self._beat_task = asyncio.get_running_loop().create_task(self._beat())

    async def deregister(self) -> None:
        """Leave the senders; what this one still had in flight is reported unknown."""
        if not self._registered:
            return
        self._registered = False
        if self._beat_task is not None:
            self._beat_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._beat_task
            self._beat_task = None
        try:
            # Anything still "sending" was cut off mid-send: unknown, never sent again.
            lost = await self.storage.reap_workers(
                [self.worker_id], orphaned_before=_EVER, now=self._now()
            )
        except Exception:
            logger.exception("Could not deregister the broadcast sender")
            return
        if lost:
            logger.warning("%d broadcast messages were cut off mid-send: reported unknown", lost)

    async def _beat(self) -> None:
        beats = 0
        while True:
            await asyncio.sleep(self._heartbeat)
            beats += 1
            try:
                if not await self.storage.heartbeat(self.worker_id, self._now()):
                    logger.warning("This broadcast sender was presumed dead; registering again")
                    await self.storage.register_worker(
                        self.worker_id, host=self._host, pid=os.getpid(), now=self._now()
                    )
                if beats % _BEATS_PER_REAP == 0:
                    await self.reap()
            except Exception:
                logger.exception("Broadcast sender heartbeat failed")

    async def reap(self) -> int:
        """Close as ``unknown`` the in-flight deliveries of senders that died.

        A sender is dead when its heartbeat is older than the timeout, or at once when it
        ran on this host and its process is gone (a restart after a crash).
        """
        now = self._now()
        cutoff = now - timedelta(seconds=self._timeout)
        dead = [
            w.id
            for w in await self.storage.list_workers()
            if w.id != self.worker_id
            and (w.heartbeat_at < cutoff or (w.host == self._host and not _pid_alive(w.pid)))
        ]
        lost = await self.storage.reap_workers(dead, orphaned_before=cutoff, now=now)
        if dead:
            logger.info("Forgot %d stopped broadcast sender(s)", len(dead))
        if lost:
            logger.warning(
                "%d broadcast messages were in flight in a stopped sender: reported unknown, "
                "not sent again",
                lost,
            )
        return lost


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"  # a zombie is dead
    except (OSError, IndexError):
        return True
