"""The client-side request budget: the platform's window, shared by every call of one OAuth client.

Genesys Cloud limits requests per token in a window (SPEC §9): `inin-ratelimit-allowed` requests per
window, `inin-ratelimit-count` of them spent, the window ending in `inin-ratelimit-reset` seconds.
The budget spends what the window allows, never more, so the failover PUT is not the request that
gets throttled; and it spends it when it is needed: a mass failover sends its writes as fast as the
spare of the window allows, not at an average rate.

**The window.** Every request sent is logged with its time. With no headers from the platform,
`requests_per_minute` is the window: never more than that many sends in any 60 s (a sliding log,
kept a second longer than the minute, as a send is counted by the platform a little after we send
it). With the headers, the spare is `allowed - count` as of that answer, less what we sent since;
when the platform's window ends (`reset`), a new one of `allowed` opens, and our own log still
bounds it (a platform that counts a rolling window, as the simulator does, then never sees more than
`allowed` either). An answer saying there is more room than we believe is taken only once the window
we know of has ended (answers can arrive out of order; a lower count is never the newer news), and
requests still in flight when an answer is read, which its count may miss, are in our own log. The
smaller of `requests_per_minute` and `allowed` is the window's size.

**Priorities.** Requests may carry a priority (`request_priority`, a context variable the caller
sets). Waiting requests are served by priority and then in arrival order, and a waiter takes a slot
only when one is free: nobody holds a slot ahead of time, so a request that matters more can always
go before the ones already waiting.

- Unmarked requests (start-up reads, webhook registration, one-shot commands) go first, in arrival
  order, as long as the window has a slot (as before, when they reserved a token at once).
- DECISIVE: the polls that can change a decision. They may spend the window to its last slot.
- WRITE: the writes of a switch or a repair, and the reads they need. They go out at once while the
  spare stays above the **decisive reserve**: `decisive_reserve` slots (default a thirtieth of the
  window, 10 of 300: the polls of the failing region and of the candidate every 5 s for 25 s, while
  the sends of the last minute leave the window), so detection and hysteresis go on after a
  switch has spent the window. One exception keeps a write from starving: a decisive poll never
  takes two slots in a row while a write waits, where the write may take one (above the reserve),
  or where the window is spent and its slots come back one by one (the write then takes the next
  slot, reserve or not): polls of many settling regions, or a window too small for the polls,
  would otherwise hold every write back.
- DEFERRABLE: the polls that can change no decision, the periodic read-back. They spend only while
  the spare stays above the **kept share**: `kept_share` of the window (default 20 %, the share of
  the budget the configuration keeps out of the polls' reach, `POLL_BUDGET_SHARE`) and never less
  than the decisive reserve. So when a region dies, the switch finds that room for its writes at
  once, however busy the read-back was.

`prioritized=False` (the old path, kept for the benchmark's comparison): every request is served in
arrival order, whatever its priority, with no reserve.

>>> budget = RequestBudget(per_minute=300)
>>> # await budget.acquire()  # before each request
"""

from __future__ import annotations

import collections
import contextlib
import contextvars
import enum
import itertools
import math
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass

import anyio

WINDOW_SECONDS = 60.0
"""The window of `requests_per_minute` (and of the platform: SPEC §2, requests per minute)."""
COUNTED_SECONDS = WINDOW_SECONDS + 1.0
"""How long a send stays in our log: the platform counts it from when it arrives, a little later."""
KEPT_SHARE = 0.2
"""Default share of the window deferrable requests leave for a switch (1 - `POLL_BUDGET_SHARE`)."""
_EPSILON = 1e-9
_MIN_WAIT = 1e-3


class Priority(enum.IntEnum):
    """Lower is served first."""

    DECISIVE = 0  # a poll of a region that can change a decision now
    WRITE = 1  # a write and the reads it needs (a switch, a repair)
    DEFERRABLE = 2  # a poll that can change no decision, the periodic read-back


_UNMARKED = -1  # the queue key of an unmarked request (and of every request when not prioritized)

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

    def __init__(self, priority: Priority | None, seq: int) -> None:
        self.priority = priority
        self.key = (_UNMARKED if priority is None else int(priority), seq)
        self.wake = anyio.Event()


@dataclass
class _PlatformWindow:
    """What the platform's last answer said: `spare` slots left then, `since` sent after it."""

    allowed: int
    spare: float
    ends_at: float
    since: int = 0

    def left(self) -> float:
        return self.spare - self.since


class RequestBudget:
    """At most `per_minute` sends in any 60 s, or what the platform's window says is left.

    `acquire()` before each request. `follow_headers` after each answer. `decisive_reserve` and
    `kept_share`: the room writes leave for decisive polls, and deferrable requests for a switch
    (see the module's docstring).
    """

    def __init__(
        self,
        per_minute: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
        prioritized: bool = True,
        decisive_reserve: int | None = None,
        kept_share: float = KEPT_SHARE,
    ) -> None:
        if not per_minute > 0:
            raise ValueError("per_minute must be positive")
        if decisive_reserve is not None and decisive_reserve < 0:
            raise ValueError("decisive_reserve must not be negative")
        if not 0.0 <= kept_share < 1.0:
            raise ValueError("kept_share must be at least 0 and less than 1")
        self.capacity = max(1, math.floor(per_minute))  # the window: sends allowed in any 60 s
        self._decisive_reserve = decisive_reserve
        self._kept_share = kept_share
        self._clock = clock
        self._sleep = sleep
        # False: every request is served in arrival order, whatever its priority (the old path).
        self.prioritized = prioritized
        self._sent: collections.deque[float] = collections.deque()  # our send times, oldest first
        self._platform: _PlatformWindow | None = None
        self._allowed: int | None = None  # the platform's window size, once it said
        self._queue: list[_Waiter] = []  # in arrival order; `_head` picks the next to get a slot
        self._seq = itertools.count()
        self._last: Priority | None = None  # the priority the last slot went to
        self._last_left = float(self.capacity)  # and the spare it left

    # ----------------------------------------------------------------- the window

    @property
    def window(self) -> int:
        """Sends allowed per window now: `per_minute`, or the platform's `allowed` when smaller."""
        return self.capacity if self._allowed is None else max(1, min(self.capacity, self._allowed))

    @property
    def decisive_reserve(self) -> int:
        """The slots writes leave for the polls that can change a decision."""
        reserve = self._decisive_reserve
        if reserve is None:
            reserve = max(1, round(self.window / 30))
        return min(reserve, self.window - 1)

    @property
    def kept(self) -> int:
        """The slots deferrable requests leave for the writes of a switch."""
        return min(max(self.decisive_reserve, math.ceil(self.window * self._kept_share)), self.window - 1)

    def _expire(self, now: float) -> None:
        horizon = now - COUNTED_SECONDS + _EPSILON
        sent = self._sent
        while sent and sent[0] <= horizon:
            sent.popleft()

    def _spare(self, now: float) -> float:
        """Slots free now: our own window's, and the platform's while its window lasts."""
        self._expire(now)
        spare = float(self.window - len(self._sent))
        platform = self._platform
        if platform is not None:
            if now < platform.ends_at:
                spare = min(spare, platform.left())
            else:
                self._platform = None  # its window ended: a new one of `allowed` is open
        return spare

    def _room_at(self, needed: int, now: float) -> float:
        """The earliest time the spare will be `needed` if nothing else is sent."""
        self._expire(now)
        at = now
        platform = self._platform
        if platform is not None and now < platform.ends_at and platform.left() < needed:
            at = platform.ends_at
        leaving = len(self._sent) - (self.window - needed)  # our sends that must leave the window
        if leaving > 0:
            at = max(at, self._sent[leaving - 1] + COUNTED_SECONDS)
        return at

    @property
    def available(self) -> float:
        """Slots free in the window now (any priority; writes and deferrable keep their reserves)."""
        return self._spare(self._clock())

    @property
    def waiting(self) -> int:
        """Requests waiting for a slot now."""
        return len(self._queue)

    # ----------------------------------------------------------------- taking a slot

    async def acquire(self, priority: Priority | None = None) -> None:
        """Wait until a request may be sent (`priority`: the context's, `request_priority`)."""
        priority = priority if priority is not None else _PRIORITY.get()
        if not self.prioritized:
            priority = None
        # Nobody waits: this request would be the head at once. Take a free slot without
        # queueing (the common case at steady state, many times a second).
        if not self._queue and self._take(priority, self._needed(priority)):
            return
        me = _Waiter(priority, next(self._seq))
        self._queue.append(me)
        try:
            while True:
                head = self._head()
                if head is not me:
                    # The head may have changed while this one slept (time moved, turns changed):
                    # make sure it is awake, then wait for it to hand over when it leaves.
                    head.wake.set()
                    await me.wake.wait()
                    me.wake = anyio.Event()
                    continue
                needed = self._needed(priority)
                if self._take(priority, needed):
                    return
                # Someone more urgent may arrive meanwhile: it becomes the head, and this waiter
                # finds out when it wakes. (The floor: never a busy loop, whatever the float sums.)
                now = self._clock()
                await self._sleep(max(self._room_at(needed, now) - now, _MIN_WAIT))
        finally:
            self._queue.remove(me)
            if self._queue:
                # Whoever is the head now (this one took a slot, or left the queue cancelled).
                self._head().wake.set()

    def _head(self) -> _Waiter:
        """The next waiter to get a slot: the most urgent, the earliest among equals; but a write
        after a decisive poll, when one waits and may take the slot (a write is never starved by
        polls)."""
        head = min(self._queue, key=lambda w: w.key)
        if head.priority is Priority.DECISIVE and self._last is Priority.DECISIVE:
            writes = [w for w in self._queue if w.priority is Priority.WRITE]
            if writes and (self._turn() or self._spare(self._clock()) >= 1 + self.decisive_reserve):
                return min(writes, key=lambda w: w.key)
        return head

    def _turn(self) -> bool:
        """Whether a waiting write may take the next slot from the decisive reserve: the last went
        to a decisive poll that spent the window's last slot, so slots now come back one by one,
        and without this the polls could take every one of them while a write waits."""
        return self._last is Priority.DECISIVE and self._last_left < 1.0 - _EPSILON

    def _needed(self, priority: Priority | None) -> int:
        """The spare there must be for `priority` to take a slot (the slot and what it leaves)."""
        if priority is Priority.WRITE:
            if self._turn() and any(w.priority is Priority.DECISIVE for w in self._queue):
                return 1  # its turn after a decisive poll, in a spent window
            return 1 + self.decisive_reserve
        if priority is Priority.DEFERRABLE:
            return 1 + self.kept
        return 1

    def _take(self, priority: Priority | None, needed: int) -> bool:
        """Take a slot if the spare is `needed`; say whether it did."""
        now = self._clock()
        spare = self._spare(now)
        if spare < needed - _EPSILON:
            return False
        self._last_left = spare - 1.0
        self._sent.append(now)
        if self._platform is not None:
            self._platform.since += 1
        self._last = priority
        return True

    # ----------------------------------------------------------------- the platform's count

    def follow_platform(self, count: float, allowed: float, reset_seconds: float) -> None:
        """The platform's own count (`inin-ratelimit-*` headers): its window holds `allowed`, of
        which `count` are spent, and ends in `reset_seconds`. Never believe in more room than it
        says is left; with nothing left, nothing goes out until its window ends."""
        now = self._clock()
        self._allowed = max(1, math.floor(allowed))
        left = allowed - count
        current = self._platform
        if current is not None and now < current.ends_at and current.left() <= left:
            return  # no news: the window we know of leaves less (an older answer, read late)
        self._platform = _PlatformWindow(self._allowed, left, now + max(0.0, reset_seconds))

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
