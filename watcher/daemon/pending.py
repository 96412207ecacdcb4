"""Events on their way into the outbox: stored at once when the disk allows, kept in memory (in
order, bounded) when it does not, and stored as soon as it allows again (SPEC §4.2 "Durable means
durable": nothing is lost while the process lives).

The outbox is local, so only a broken disk (full, read-only, hung) refuses an event; a switch never
waits for it. `keep_storing` retries every half second and rechecks a failing state dir off the
event loop, abandoning a check that hangs.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import anyio
import structlog

from watcher.aio import sleep
from watcher.daemon.statedir import StateDisk
from watcher.events import Dispatcher
from watcher.metrics import WatcherMetrics

log = structlog.get_logger("watcher.announce")

UNSTORED_LIMIT = 10_000
UNSTORED_RETRY_SECONDS = 0.5
RECHECK_TIMEOUT_SECONDS = 5.0


class PendingEvents:
    """The events the outbox could not store yet, and the one way an event is stored.

    >>> # pending = PendingEvents(dispatcher, disk, metrics)
    >>> # await pending.store(event, ordering_key="strategy-1")   # in the outbox, or kept in memory
    """

    def __init__(self, dispatcher: Dispatcher | None, disk: StateDisk, metrics: WatcherMetrics) -> None:
        self.dispatcher = dispatcher
        self.disk = disk
        self.metrics = metrics
        self._unstored: deque[tuple[dict[str, Any], str]] = deque()

    async def store(self, event: dict[str, Any], ordering_key: str) -> None:
        """Store `event` in the outbox, or keep it in memory behind the ones already waiting."""
        if self.dispatcher is None:
            return
        if self._unstored:  # behind events still waiting: keep the order
            self._keep(event, ordering_key)
            await self.store_unstored()
            return
        try:
            await self.dispatcher.publish(event, ordering_key=ordering_key)
        except Exception as exc:  # the outbox is local: only a broken disk gets here
            self.disk.failed("outbox", exc)
            log.error(
                "could not store event in the outbox",
                type=event.get("type"),
                error=repr(exc),
                kept="in memory, stored as soon as the disk allows",
            )
            self._keep(event, ordering_key)
        else:
            self.disk.succeeded("outbox")

    def _keep(self, event: dict[str, Any], ordering_key: str) -> None:
        if len(self._unstored) >= UNSTORED_LIMIT:
            self.metrics.events_dropped.inc()
            log.error("event dropped: the outbox cannot store and the memory buffer is full", id=event["id"])
            return
        self._unstored.append((event, ordering_key))
        self.metrics.events_unstored.set(len(self._unstored))

    @property
    def unstored(self) -> int:
        """Events waiting in memory for the outbox to accept them."""
        return len(self._unstored)

    async def store_unstored(self) -> bool:
        """Store the events kept in memory, oldest first; True when none is left."""
        if self.dispatcher is None:
            return not self._unstored
        stored = 0
        while self._unstored:
            event, key = self._unstored[0]
            try:
                await self.dispatcher.publish(event, ordering_key=key)
            except Exception as exc:
                self.disk.failed("outbox", exc, count=False)
                return False
            self._unstored.popleft()
            stored += 1
            self.metrics.events_unstored.set(len(self._unstored))
        if stored:
            log.info("events kept in memory are stored in the outbox", count=stored)
        self.disk.succeeded("outbox")
        return True

    async def keep_storing(self, stop: anyio.Event) -> None:
        """Retry the events kept in memory, and recheck a failing state dir, until stopped (the
        disk may free at any time)."""
        while not await sleep(UNSTORED_RETRY_SECONDS, stop):
            if self._unstored:
                await self.store_unstored()
            if self.disk.failing and not self.disk.checking:
                # A hung disk hangs the check: it is abandoned (and not started again until it ends).
                with anyio.move_on_after(RECHECK_TIMEOUT_SECONDS):
                    await anyio.to_thread.run_sync(self.disk.recheck, abandon_on_cancel=True)
