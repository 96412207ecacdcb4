"""Properties of the request budget over random arrival sequences, on a fake clock (SPEC §9):
never a 429 from our own pacing (no 60 s interval, nor any window of a platform counting fixed or
rolling windows, holds more sends than allowed), writes are never starved by polls, and deferrable
requests never spend the room kept for a switch."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import anyio
import anyio.lowlevel
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support import FakeClock
from watcher.genesys import Priority, RequestBudget
from watcher.genesys.budget import COUNTED_SECONDS

DECISIVE, WRITE, DEFERRABLE = Priority.DECISIVE, Priority.WRITE, Priority.DEFERRABLE
PlatformKind = Literal["none", "rolling", "fixed"]
PRIORITIES = [None, DECISIVE, WRITE, DEFERRABLE]


@dataclass
class Sent:
    at: float
    arrived: float
    priority: Priority | None
    left: float  # the budget's spare right after this send


@dataclass
class Platform:
    """A platform answering every request at once with `inin-ratelimit-*`, counting a rolling
    window (as the simulator does) or fixed windows (starting at `phase`)."""

    kind: PlatformKind
    allowed: int
    phase: float
    times: list[float] = field(default_factory=list)

    def answer(self, budget: RequestBudget, now: float) -> None:
        self.times.append(now)
        if self.kind == "rolling":
            counted = [t for t in self.times if t > now - 60.0]
            budget.follow_platform(len(counted), self.allowed, max(1, math.ceil(counted[0] + 60.0 - now)))
        elif self.kind == "fixed":
            start = self.phase + math.floor((now - self.phase) / 60.0) * 60.0
            counted = [t for t in self.times if t >= start]
            budget.follow_platform(len(counted), self.allowed, start + 60.0 - now)

    def worst(self) -> int:
        """The most sends any of its windows held."""
        if self.kind == "rolling":
            return max((sum(1 for u in self.times if t - 60.0 < u <= t) for t in self.times), default=0)
        windows: dict[int, int] = {}
        for t in self.times:
            k = math.floor((t - self.phase) / 60.0)
            windows[k] = windows.get(k, 0) + 1
        return max(windows.values(), default=0)


def run(
    per_minute: int, arrivals: list[tuple[float, Priority | None]], platform: Platform
) -> tuple[RequestBudget, list[Sent]]:
    """Each arrival waits its gap after the one before, then asks for a slot; time runs until all
    are served (or a simulated day has passed: starvation)."""
    clock = FakeClock(now=0.0)
    budget = RequestBudget(per_minute, clock=clock, sleep=clock.sleep)
    sent: list[Sent] = []

    async def caller(at: float, priority: Priority | None) -> None:
        await clock.sleep(at)
        arrived = clock.now
        await budget.acquire(priority)
        # The answer comes back before anyone else runs: its headers are followed at once.
        sent.append(Sent(clock.now, arrived, priority, budget.available))
        platform.answer(budget, clock.now)

    async def main() -> None:
        async with anyio.create_task_group() as tg:
            at = 0.0
            for gap, priority in arrivals:
                at += gap
                tg.start_soon(caller, at, priority)
            await settle()
            while len(sent) < len(arrivals):
                wake = clock.next_wake
                assert wake is not None, "nobody sleeps, yet not everyone was served"
                assert wake < 86_400.0, "still waiting after a simulated day: starved"
                clock.advance(wake - clock.now)
                await settle()

    anyio.run(main)
    return budget, sent


async def settle() -> None:
    """Let every woken task run until all are blocked again (anyio's `wait_all_tasks_blocked`
    alone waits 0.1 s of real time whenever one is runnable: thousands of examples would crawl)."""
    for _ in range(50):
        await anyio.lowlevel.checkpoint()
    await anyio.wait_all_tasks_blocked()


arrival_lists = st.lists(
    st.tuples(st.sampled_from([0.0, 0.0, 0.0, 0.1, 0.5, 1.0, 3.0, 7.0, 20.0]), st.sampled_from(PRIORITIES)),
    min_size=1,
    max_size=80,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    per_minute=st.integers(1, 40),
    arrivals=arrival_lists,
    kind=st.sampled_from(["none", "rolling", "fixed"]),
    allowed=st.integers(1, 40),
    phase=st.floats(0.0, 59.0),
)
def test_never_more_sends_in_a_window_than_allowed(
    per_minute: int,
    arrivals: list[tuple[float, Priority | None]],
    kind: PlatformKind,
    allowed: int,
    phase: float,
) -> None:
    platform = Platform(kind, allowed, phase)
    _, sent = run(per_minute, arrivals, platform)
    times = sorted(s.at for s in sent)
    for i, start in enumerate(times):
        assert sum(1 for t in times[i:] if t < start + 60.0) <= per_minute
    if kind != "none":
        # Every answer is followed before the next send (in life, a budget configured above the
        # platform's could send a first burst before any answer says so).
        assert platform.worst() <= allowed


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(per_minute=st.integers(3, 40), arrivals=arrival_lists, polls=st.integers(0, 200))
def test_writes_are_never_starved_by_polls(
    per_minute: int, arrivals: list[tuple[float, Priority | None]], polls: int
) -> None:
    # Random traffic, plus a stream of decisive polls arriving faster than the window allows.
    flood: list[tuple[float, Priority | None]] = [(0.2, DECISIVE)] * polls
    merged = [x for pair in zip(arrivals, flood, strict=False) for x in pair]
    merged += arrivals[len(flood) :] + flood[len(arrivals) :]
    _, sent = run(per_minute, merged, Platform("none", per_minute, 0.0))
    for s in sent:
        if s.priority is not WRITE:
            continue
        # Everything that could go before it: requests that arrived earlier and were still waiting
        # (unmarked ones and writes: first come first served), and the decisive polls it alternates with.
        ahead = sum(
            1
            for o in sent
            if o.priority in (None, WRITE) and o.arrived <= s.arrived and o.at >= s.arrived and o is not s
        )
        windows = 2 + 2 * math.ceil((ahead + 1) / per_minute) + ahead
        assert s.at - s.arrived <= windows * COUNTED_SECONDS, (s, ahead)
    # A deferrable request never goes while a write that arrived before it waits.
    for d in (s for s in sent if s.priority is DEFERRABLE):
        assert not any(w.priority is WRITE and w.arrived <= d.arrived and w.at > d.at for w in sent)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    per_minute=st.integers(2, 40),
    arrivals=arrival_lists,
    kind=st.sampled_from(["none", "rolling", "fixed"]),
    phase=st.floats(0.0, 59.0),
)
def test_deferrable_requests_never_spend_the_room_kept_for_a_switch(
    per_minute: int, arrivals: list[tuple[float, Priority | None]], kind: PlatformKind, phase: float
) -> None:
    budget, sent = run(per_minute, arrivals, Platform(kind, per_minute, phase))
    kept = budget.kept
    assert kept >= 1
    for i, d in enumerate(sent):
        if d.priority is not DEFERRABLE:
            continue
        assert d.left >= kept  # the budget's own view right after the send
        # And counted independently: the sends of the last minute up to this one, this one included.
        assert sum(1 for o in sent[: i + 1] if o.at > d.at - COUNTED_SECONDS + 1e-6) <= per_minute - kept
