"""The async kit every long-running part of the watcher stands on: sleep, backoff, guard.

Three small things, each written once: an interruptible sleep (every loop sleeps through it, so a
stop event ends the daemon at once instead of after the longest interval), one backoff formula
(every retry waits by it), and a guard for never-ending tasks (a background task that dies silently
is the worst failure a watchdog can have: the process looks alive while nothing is watched).

It sits at the bottom of the layers and knows nothing of the watcher: callers pass callbacks.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Literal

import anyio
import structlog

log = structlog.get_logger("watcher.tasks")

Sleeper = Callable[[float], Awaitable[None]]


def _shortest(delays: float | Iterable[float | None] | None) -> float | None:
    if delays is None or isinstance(delays, int | float):
        return delays
    known = [d for d in delays if d is not None]
    return min(known) if known else None


async def sleep(
    delays: float | Iterable[float | None] | None,
    wakeup: anyio.Event | None = None,
    *,
    sleeper: Sleeper | None = None,
) -> bool:
    """Sleep the shortest of `delays` (None: no deadline) or until `wakeup` is set; True if woken.

    `sleeper` replaces `anyio.sleep`, so a fake clock can drive a loop in tests; the wake-up event
    still interrupts it.

    >>> # woken = await sleep([interval, deadline - now], stop)
    """
    delay = _shortest(delays)
    if wakeup is None:
        if delay is not None and delay > 0:
            await (sleeper or anyio.sleep)(delay)
        return False
    if wakeup.is_set():
        return True
    if delay is not None and delay <= 0:
        return False
    if sleeper is None:
        with anyio.move_on_after(delay if delay is not None else float("inf")):
            await wakeup.wait()
            return True
        return False
    woken = False
    async with anyio.create_task_group() as tg:

        async def wake() -> None:
            nonlocal woken
            await wakeup.wait()
            woken = True
            tg.cancel_scope.cancel()

        tg.start_soon(wake)
        await (anyio.sleep_forever() if delay is None else sleeper(delay))
        tg.cancel_scope.cancel()
    return woken


@dataclass(frozen=True)
class Backoff:
    """Capped exponential backoff with jitter: the one formula every retry in the watcher waits by.

    `full` jitter draws the delay uniformly in [0, min(cap, base * 2**(attempt-1))], which spreads
    retries of many clients best (the AWS architecture blog's result); `half` keeps at least half of
    it, for restarts that must not come back at once.

    >>> Backoff(1.0, 4.0).delay(10, random.Random(0)) <= 4.0
    True
    """

    base: float
    cap: float
    jitter: Literal["full", "half", "none"] = "full"

    def ceiling(self, attempt: int) -> float:
        return float(min(self.cap, self.base * 2 ** max(0, attempt - 1)))

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """The wait before retry number `attempt` (1 = the first retry)."""
        top = self.ceiling(attempt)
        draw = (rng or random).random()
        if self.jitter == "full":
            return top * draw
        if self.jitter == "half":
            return top * (0.5 + draw / 2)
        return top


RESTART_BACKOFF = Backoff(0.5, 30.0, "half")


async def guard(
    name: str,
    body: Callable[[], Awaitable[None]],
    *,
    stop: anyio.Event,
    endless: bool = True,
    on_crash: Callable[[str], None] | None = None,
    backoff: Backoff = RESTART_BACKOFF,
) -> None:
    """Run `body` until `stop`; if it raises, log at once and restart it after a backoff.

    An `endless` task that returns while the daemon runs is a bug of its own (its loop ended): it is
    logged as one, so it cannot pass unnoticed. Cancellation is not an error and passes through.
    """
    failures = 0
    while not stop.is_set():
        try:
            await body()
        except Exception as exc:
            failures += 1
            delay = backoff.delay(failures)
            log.error("task crashed; restarting", task=name, error=repr(exc), restart_in=round(delay, 2))
            if on_crash is not None:
                on_crash(name)
            await sleep(delay, stop)
            continue
        if endless and not stop.is_set():
            log.error("a never-ending task returned; it is not running any more", task=name)
        return
