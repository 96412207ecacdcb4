"""The client-side request budget: one token bucket shared by every call of one OAuth client.

Genesys Cloud limits requests per token (300/min by default for client credentials). Staying under the
budget ourselves keeps 429s rare, so the failover PUT is not the request that gets throttled.

Requests have a priority (`request_priority`, a context variable set by the caller). URGENT ones
(writes, and the polls that can change a decision) reserve a token at once and are served in
arrival order. DEFERRABLE ones (polls of regions that cannot change a decision, the periodic
read-back) hold no reservation while they wait: they take a token only when one is free and no
urgent request is owed it, so during a mass failover they yield to the writes instead of sitting
ahead of them in the queue.
"""

from __future__ import annotations

import contextlib
import contextvars
import enum
import math
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping

import anyio

_EPSILON = 1e-9


class Priority(enum.Enum):
    URGENT = "urgent"  # the default: writes, polls that can change a decision, anything unmarked
    DEFERRABLE = "deferrable"  # waits behind every urgent request


_PRIORITY: contextvars.ContextVar[Priority] = contextvars.ContextVar(
    "watcher_request_priority", default=Priority.URGENT
)


@contextlib.contextmanager
def request_priority(priority: Priority) -> Iterator[None]:
    """The priority of every request made inside the block (and in tasks started from it)."""
    token = _PRIORITY.set(priority)
    try:
        yield
    finally:
        _PRIORITY.reset(token)


def current_priority() -> Priority:
    return _PRIORITY.get()


class RequestBudget:
    """A token bucket refilled at `per_minute / 60` per second, holding at most `burst` tokens.

    Callers reserve a token synchronously (the bucket may go negative) and then sleep their share
    of the deficit, so waiting callers are served in arrival order without a lock.

    >>> budget = RequestBudget(per_minute=300)
    >>> # await budget.acquire()  # before each request
    """

    def __init__(
        self,
        per_minute: float,
        *,
        burst: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
        prioritized: bool = True,
    ) -> None:
        if per_minute <= 0:
            raise ValueError("per_minute must be positive")
        # A tenth of the minute as burst: a poll cycle of all regions goes out at once. The refill
        # rate leaves room for that burst, so no 60-second window ever holds more than
        # `per_minute` requests (burst + rate x 60 = per_minute): the platform counts windows.
        self.capacity = burst if burst is not None else max(1.0, per_minute / 10.0)
        self.capacity = min(self.capacity, per_minute)
        self.rate = max(per_minute - self.capacity, 1.0) / 60.0
        self._tokens = self.capacity
        self._clock = clock
        self._sleep = sleep
        self._updated = clock()
        # False: every request is served in arrival order, whatever its priority (the old path).
        self.prioritized = prioritized
        self._deferred = anyio.Lock()  # deferrable requests wait one at a time, in arrival order
        self.deferred_waiting = 0

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self.rate)
        self._updated = now

    def reserve(self) -> float:
        """Take one token now; return how long the caller must wait before using it."""
        self._refill()
        self._tokens -= 1.0
        return 0.0 if self._tokens >= 0 else -self._tokens / self.rate

    async def acquire(self, priority: Priority | None = None) -> None:
        """Wait until a request may be sent (`priority`: the context's, `request_priority`)."""
        if (priority or _PRIORITY.get()) is Priority.DEFERRABLE and self.prioritized:
            await self._acquire_deferred()
            return
        delay = self.reserve()
        if delay > 0:
            await self._sleep(delay)

    async def _acquire_deferred(self) -> None:
        """Take a token only when one is free now: urgent reservations made meanwhile (which drive
        the bucket below zero) push the waiter back, so it never holds a slot a write could use."""
        self.deferred_waiting += 1
        try:
            async with self._deferred:
                while True:
                    self._refill()
                    if self._tokens >= 1.0 - _EPSILON:  # a refill computed to the last bit
                        self._tokens -= 1.0
                        return
                    await self._sleep((1.0 - self._tokens) / self.rate)
        finally:
            self.deferred_waiting -= 1

    @property
    def available(self) -> float:
        self._refill()
        return self._tokens

    def follow_platform(self, count: float, allowed: float, reset_seconds: float) -> None:
        """The platform's own count (`inin-ratelimit-*` headers): never believe in more room than it
        says is left in its window. With nothing left, nothing goes out until the window ends."""
        self._refill()
        remaining = allowed - count
        if remaining <= 0:
            self._tokens = min(self._tokens, -max(0.0, reset_seconds) * self.rate)
        else:
            self._tokens = min(self._tokens, remaining)

    def follow_headers(self, headers: Mapping[str, str]) -> None:
        """`follow_platform` from `inin-ratelimit-count/allowed/reset`, when all three are numbers."""
        raw = [headers.get(f"inin-ratelimit-{k}") for k in ("count", "allowed", "reset")]
        if any(v is None for v in raw):
            return
        try:
            count, allowed, reset = (float(v) for v in raw if v is not None)
        except ValueError:
            return
        if all(math.isfinite(x) for x in (count, allowed, reset)) and allowed > 0:
            self.follow_platform(count, allowed, reset)
