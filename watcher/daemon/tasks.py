"""Small building blocks for never-ending tasks: an interruptible sleep and a restart guard."""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable

import anyio
import structlog

from watcher.metrics import WatcherMetrics

log = structlog.get_logger("watcher.tasks")


async def sleep(delay: float, wakeup: anyio.Event) -> bool:
    """Sleep `delay` seconds or until `wakeup` is set; True if woken early.

    Every periodic loop sleeps through this, so a stop event ends the daemon at once instead of after
    the longest interval.
    """
    if delay <= 0:
        return wakeup.is_set()
    with anyio.move_on_after(delay):
        await wakeup.wait()
        return True
    return False


async def guarded(
    name: str,
    body: Callable[[], Awaitable[None]],
    *,
    stop: anyio.Event,
    metrics: WatcherMetrics | None = None,
    base_backoff: float = 0.5,
    max_backoff: float = 30.0,
) -> None:
    """Run `body` until `stop`; if it raises, log at once and restart it with capped backoff.

    A background task that dies silently is the worst failure a watchdog can have: the process looks
    alive while nothing is watched. Cancellation is not an error and passes through.
    """
    failures = 0
    while not stop.is_set():
        try:
            await body()
            return
        except Exception as exc:
            failures += 1
            delay = min(max_backoff, base_backoff * 2 ** (failures - 1)) * (0.5 + random.random() / 2)
            log.error("task crashed; restarting", task=name, error=repr(exc), restart_in=round(delay, 2))
            if metrics is not None:
                metrics.task_restarts.labels(task=name).inc()
            await sleep(delay, stop)
