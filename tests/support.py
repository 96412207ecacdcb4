"""Test support for the whole suite: one fake clock, one way to wait for a condition, metric reads.

Tests never sleep as synchronisation: they wait on a condition with a deadline (`until`, or
`until_sync` where no event loop runs), and code that reads the time or sleeps is given a `FakeClock`
where the test is about time. Metrics are read by their public names (`metric_value` from a
registry, `sample` from exposition text). A daemon as a real process is `tests.harness`.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import anyio.lowlevel
import httpx

from watcher.metrics import WatcherMetrics


class FakeClock:
    """A monotonic clock (a callable returning seconds) that moves only when told.

    `advance(dt)` moves it and wakes every `sleep` whose end has passed. With `autojump=True` a
    `sleep` moves the clock itself and returns at once, so retries and backoff cost no real time;
    every sleep is recorded in `sleeps` either way.

        clock = FakeClock()
        budget = RequestBudget(60, clock=clock, sleep=clock.sleep)
        clock.advance(1.0)
    """

    def __init__(self, now: float = 1000.0, *, autojump: bool = False) -> None:
        self.now = now
        self.autojump = autojump
        self.sleeps: list[float] = []
        self._sleepers: list[tuple[float, anyio.Event]] = []

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
        due = [s for s in self._sleepers if s[0] <= self.now]
        self._sleepers = [s for s in self._sleepers if s[0] > self.now]
        for _, wake in due:
            wake.set()

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        if self.autojump or seconds <= 0:
            self.advance(max(0.0, seconds))
            await anyio.lowlevel.checkpoint()
            return
        sleeper = (self.now + seconds, anyio.Event())
        self._sleepers.append(sleeper)
        try:
            await sleeper[1].wait()
        finally:  # cancelled: no longer asleep
            if sleeper in self._sleepers:
                self._sleepers.remove(sleeper)

    @property
    def sleeping(self) -> int:
        """How many tasks are asleep on this clock (a test advances once they all are)."""
        return len(self._sleepers)

    @property
    def next_wake(self) -> float | None:
        """When the earliest sleeper is due (None: nobody sleeps)."""
        return min((at for at, _ in self._sleepers), default=None)


Check = Callable[[], object]
READING_INTERVAL = 0.01  # between two checks that read memory
ASKING_INTERVAL = 0.05  # between two checks that ask a server


class _Wait:
    """One wait for a condition: its deadline, what it last saw, and the failure that names both.

    The same semantics for `until` and `until_sync`: the condition holds when `check()` is truthy; a
    check that raises `httpx.TransportError` has not held yet (the server is not answering, yet or any
    more); anything else it raises fails the test at once.
    """

    def __init__(self, check: Check, message: str, timeout: float, now: float) -> None:
        self.check = check
        self.message = message
        self.timeout = timeout
        self.deadline = now + timeout
        self.last: object = "nothing (never checked)"

    def held(self, result: object) -> bool:
        self.last = result
        return bool(result)

    def missed(self, error: httpx.TransportError) -> None:
        self.last = f"{type(error).__name__}: {error}"

    def failure(self, detail: object = None, *, with_detail: bool = False) -> AssertionError:
        what = self.message or _describe(self.check)
        text = f"not true within {self.timeout:g}s: {what}; last observed: {self.last!r}"
        if with_detail:
            text += f"; last seen: {detail!r}"
        return AssertionError(text)


def _describe(check: Check) -> str:
    """The source of a lambda (`lambda: d.seen("x")`), else the function's name."""
    name = getattr(check, "__qualname__", repr(check))
    if name.endswith("<lambda>"):
        try:
            return inspect.getsource(check).strip()
        except (OSError, TypeError):
            pass
    return str(name)


async def until(
    check: Callable[[], object | Awaitable[object]],
    message: str = "",
    timeout: float = 15.0,
    *,
    interval: float | None = None,
    detail: Callable[[], object | Awaitable[object]] | None = None,
) -> None:
    """Wait until `check()` (sync or async) is truthy, polling every `interval` (the condition lives
    in another task or process); fail with `message`, the last value `check()` returned and, given
    `detail`, what `detail()` shows, if it does not hold within `timeout` seconds.

    `interval` defaults to 0.01 s for a check that reads memory, 0.05 s for one that awaits (it asks
    a server: /status, /metrics, the simulator)."""
    wait = _Wait(check, message, timeout, anyio.current_time())
    while True:
        try:
            result: Any = check()
            if inspect.isawaitable(result):
                interval = ASKING_INTERVAL if interval is None else interval
                result = await result
            if wait.held(result):
                return
        except httpx.TransportError as error:
            wait.missed(error)
        if anyio.current_time() >= wait.deadline:
            seen: object = None
            if detail is not None:
                seen = detail()
                if inspect.isawaitable(seen):
                    seen = await seen
            raise wait.failure(seen, with_detail=detail is not None)
        await anyio.sleep(READING_INTERVAL if interval is None else interval)


def until_sync(
    check: Callable[[], object],
    message: str = "",
    timeout: float = 15.0,
    *,
    interval: float = READING_INTERVAL,
    detail: Callable[[], object] | None = None,
) -> None:
    """`until` where no event loop runs (a fixture starting a server, a thread): the same semantics,
    waiting with `time.sleep` between checks."""
    wait = _Wait(check, message, timeout, time.monotonic())
    while True:
        try:
            if wait.held(check()):
                return
        except httpx.TransportError as error:
            wait.missed(error)
        if time.monotonic() >= wait.deadline:
            raise wait.failure(detail() if detail is not None else None, with_detail=detail is not None)
        time.sleep(interval)  # the poll interval of a condition wait, not synchronisation


# Metrics are read the way Prometheus reads them: by their public sample names, never through a
# metric object's private attributes.


def metric_value(metrics: WatcherMetrics, name: str, **labels: str) -> float:
    """The sample `name` (as exposed: `..._total` for a counter) with exactly `labels`."""
    value = metrics.registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


def sample(metrics_text: str, name: str, **labels: str) -> float | None:
    """The value of one series in Prometheus text, or None when absent."""
    for line in metrics_text.splitlines():
        if not line.startswith(name + "{") and line.split(" ")[0] != name:
            continue
        series, _, value = line.rpartition(" ")
        if all(f'{k}="{v}"' in series for k, v in labels.items()):
            return float(value)
    return None
