"""The client-side request budget: one token bucket shared by every call of one OAuth client.

Genesys Cloud limits requests per token (300/min by default for client credentials). Staying under the
budget ourselves keeps 429s rare, so the failover PUT is not the request that gets throttled.

Requests may carry a priority (`request_priority`, a context variable the caller sets). Marked
requests wait in one queue, served by priority and then in arrival order, and a waiter takes a
token only when one is free: nobody holds a slot ahead of time, so a request that matters more can
always go before the ones already waiting. In a mass failover the polls that can change a decision
(DECISIVE: few, paced by the poll interval) go first, so detection and hysteresis go on, then the
writes (WRITE), and the other polls and the read-back (DEFERRABLE) wait behind them. One exception
keeps a write from starving: a decisive poll never takes two tokens in a row while a write waits
(polls of many settling regions, or a budget too small for the polls, would otherwise hold every
write back for as long as they last). And deferrable requests spend only what would overflow the
bucket: they take a token only while it is full, so the burst is always there for the writes of a
switch when a region dies (a read-back of every strategy and rule each minute would otherwise keep
the bucket empty, and the first writes would wait for the refill). Over time they get the same
share: what decisive polls and writes leave of the refill. When the platform's headers show a
window smaller than the configured budget, the burst kept is a tenth of the platform's window,
one the bucket can reach.
Unmarked requests (start-up reads, webhook registration, one-shot commands) reserve a token at once
and sleep their share of the deficit, first come first served, as before.
"""

from __future__ import annotations

import contextlib
import contextvars
import enum
import itertools
import math
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping

import anyio

_EPSILON = 1e-9  # a refill computed to the last bit still counts as a whole token


class Priority(enum.IntEnum):
    """Lower is served first."""

    DECISIVE = 0  # a poll of a region that can change a decision now
    WRITE = 1  # a write and the reads it needs (a switch, a repair)
    DEFERRABLE = 2  # a poll that can change no decision, the periodic read-back


_PRIORITY: contextvars.ContextVar[Priority | None] = contextvars.ContextVar(
    "watcher_request_priority", default=None
)


@contextlib.contextmanager
def request_priority(priority: Priority) -> Iterator[None]:
    """The priority of every request made inside the block (and in tasks started from it)."""
    token = _PRIORITY.set(priority)
    try:
        yield
    finally:
        _PRIORITY.reset(token)


class _Waiter:
    __slots__ = ("key", "priority", "wake")

    def __init__(self, priority: Priority, seq: int) -> None:
        self.priority = priority
        self.key = (int(priority), seq)
        self.wake = anyio.Event()


class RequestBudget:
    """A token bucket refilled at `per_minute / 60` per second, holding at most `burst` tokens.

    Unmarked callers reserve a token synchronously (the bucket may go negative) and then sleep
    their share of the deficit, so they are served in arrival order without a lock. Callers with a
    priority (`request_priority`) wait in a queue by priority instead, holding no slot, and take
    a token when one is free and nobody more urgent waits (`prioritized=False`: they reserve too).

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
        self._queue: list[_Waiter] = []  # in arrival order; `_head` picks the next to get a token
        self._seq = itertools.count()
        self._last: Priority | None = None  # the priority the last token went to
        # What deferrable requests leave in the bucket: the burst, less the token they take.
        self._reserve = self.capacity - 1.0

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
        priority = priority if priority is not None else _PRIORITY.get()
        if priority is not None and self.prioritized:
            await self._queued(priority)
            return
        delay = self.reserve()
        if delay > 0:
            await self._sleep(delay)

    @property
    def waiting(self) -> int:
        """Marked requests waiting for a token now."""
        return len(self._queue)

    def _head(self) -> _Waiter:
        """The next waiter to get a token: the most urgent, the earliest among equals; but a write
        after a decisive poll, when one waits (a write is never starved by polls)."""
        head = min(self._queue, key=lambda w: w.key)
        if head.priority is Priority.DECISIVE and self._last is Priority.DECISIVE:
            writes = [w for w in self._queue if w.priority is Priority.WRITE]
            if writes:
                return min(writes, key=lambda w: w.key)
        return head

    async def _queued(self, priority: Priority) -> None:
        """Wait in the queue; the head takes a token once one is free, then wakes the next head."""
        needed = self._needed(priority)
        # Nobody waits: this request would be the head at once. Take a free token without
        # queueing (the common case at steady state, twenty times a second).
        if not self._queue and self._take(priority, needed):
            return
        me = _Waiter(priority, next(self._seq))
        self._queue.append(me)
        try:
            while True:
                if self._head() is not me:
                    await me.wake.wait()  # the head hands over when it leaves
                    me.wake = anyio.Event()
                    continue
                if self._take(priority, needed):
                    return
                # Someone more urgent may arrive meanwhile: it becomes the head, and this waiter
                # finds out when it wakes.
                await self._sleep((needed - self._tokens) / self.rate)
        finally:
            self._queue.remove(me)
            if self._queue:
                # Whoever is the head now (this one took a token, or left the queue cancelled).
                self._head().wake.set()

    def _take(self, priority: Priority, needed: float) -> bool:
        """Take a token for `priority` if the bucket holds `needed`; say whether it did."""
        self._refill()
        if self._tokens < needed - _EPSILON:
            return False
        self._tokens -= 1.0
        self._last = priority
        return True

    def _needed(self, priority: Priority) -> float:
        """The tokens the bucket must hold for `priority` to take one: a deferrable request leaves
        the burst whole (it takes the token that would overflow a full bucket)."""
        return 1.0 + self._reserve if priority is Priority.DEFERRABLE else 1.0

    @property
    def available(self) -> float:
        self._refill()
        return self._tokens

    def follow_platform(self, count: float, allowed: float, reset_seconds: float) -> None:
        """The platform's own count (`inin-ratelimit-*` headers): never believe in more room than it
        says is left in its window. With nothing left, nothing goes out until the window ends."""
        self._refill()
        # The platform's window never holds more room than `allowed`: a budget configured above
        # it must not keep a reserve the platform could never let the bucket reach (deferrable
        # requests would wait for ever). The burst kept is then a tenth of the platform's window.
        self._reserve = max(0.0, min(self.capacity, allowed / 10.0) - 1.0)
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
