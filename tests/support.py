"""Test support for the whole suite: one fake clock, and one way to wait for a condition.

Tests never sleep as synchronisation: they wait on a predicate with a deadline (`until`), and code
that reads the time or sleeps is given a `FakeClock` where the test is about time.
"""

from __future__ import annotations

from collections.abc import Callable

import anyio
import anyio.lowlevel
import pytest


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


async def until(
    predicate: Callable[[], object], *, timeout: float = 15.0, interval: float = 0.01, message: str = ""
) -> None:
    """Wait until `predicate()` is true, polling every `interval` (the condition lives in another
    task); fail the test with `message` if it is not true within `timeout` seconds."""
    deadline = anyio.current_time() + timeout
    while not predicate():
        if anyio.current_time() >= deadline:
            what = message or getattr(predicate, "__qualname__", repr(predicate))
            pytest.fail(f"not true within {timeout:g}s: {what}")
        await anyio.sleep(interval)
