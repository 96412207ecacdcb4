"""The poll scheduler on its own: a fake health source, and the fake clock where time is the point.

Where the rhythm is asserted, the scheduler's sleeps run on a `FakeClock` (autojump), so the gaps
between polls are exact and cost no real time; where concurrency or promptness is asserted, it runs
in real time with short intervals.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass, field

import anyio
import anyio.lowlevel
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support import FakeClock, until
from watcher.config import HealthSettings
from watcher.core import Observation
from watcher.daemon.scheduler import PollScheduler
from watcher.health import Throttled
from watcher.metrics import WatcherMetrics


@dataclass
class FakeHealth:
    """A health source that answers HEALTHY at once, unless told to hang, throttle or take a while."""

    clock: FakeClock | None = None
    delay: float = 0.0
    hanging: set[str] = field(default_factory=set)
    throttled: set[str] = field(default_factory=set)
    calls: list[tuple[str, float]] = field(default_factory=list)
    in_flight: int = 0
    most_in_flight: int = 0
    name: str = "fake"

    def now(self) -> float:
        return self.clock() if self.clock is not None else anyio.current_time()

    def polled(self, region: str) -> list[float]:
        return [at for r, at in self.calls if r == region]

    async def observe(self, region: str) -> Observation:
        self.calls.append((region, self.now()))
        if region in self.throttled:
            raise Throttled("request budget exhausted")
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            if region in self.hanging:
                await anyio.sleep_forever()
            if self.delay:
                await anyio.sleep(self.delay)
            else:
                await anyio.lowlevel.checkpoint()
        finally:
            self.in_flight -= 1
        return Observation(region, ok=True, at=self.now(), reason="status=HEALTHY", status="HEALTHY")


@dataclass
class Delivered:
    observations: list[Observation] = field(default_factory=list)

    async def __call__(self, obs: Observation) -> None:
        self.observations.append(obs)


def health(**values: float) -> HealthSettings:
    defaults: dict[str, float] = {"interval_seconds": 1.0, "timeout_seconds": 0.5, "jitter": 0.1}
    return HealthSettings(**{**defaults, **values})


async def drive(clock: FakeClock, loops: int, stop: anyio.Event) -> None:
    """Virtual time for several loops: once all of them sleep, jump to the earliest wake-up."""
    while True:
        await until(lambda: clock.sleeping >= loops or stop.is_set(), interval=0.001)
        due = clock.next_wake
        if stop.is_set() or due is None:
            return
        clock.advance(due - clock())


def gaps(times: list[float]) -> list[float]:
    return [b - a for a, b in itertools.pairwise(times)]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(min_value=0, max_value=2**32 - 1), jitter=st.sampled_from([0.0, 0.1, 0.25, 0.5]))
@pytest.mark.anyio
async def test_polls_are_an_interval_apart_within_the_jitter(seed: int, jitter: float) -> None:
    clock = FakeClock(autojump=True)
    source, stop = FakeHealth(clock), anyio.Event()
    interval = 2.0

    async def deliver(_obs: Observation) -> None:
        if len(source.calls) >= 20:
            stop.set()

    sched = PollScheduler(
        ["us-east-1"],
        source,
        health(interval_seconds=interval, jitter=jitter),
        deliver,
        lambda _region: False,
        stop=stop,
        clock=clock,
        sleeper=clock.sleep,
        rng=random.Random(seed),
    )
    start = clock()
    with anyio.fail_after(5):
        await sched.run()
    times = source.polled("us-east-1")
    assert len(times) == 20
    assert 0 <= times[0] - start <= interval * jitter  # the first poll at a random offset
    for gap in gaps(times):
        assert interval * (1 - jitter) - 1e-9 <= gap <= interval * (1 + jitter) + 1e-9, gaps(times)
    if jitter:
        assert len({round(g, 9) for g in gaps(times)}) > 1, "the gaps are jittered, not constant"


@pytest.mark.anyio
async def test_a_settling_region_is_polled_at_the_settling_interval() -> None:
    clock = FakeClock()
    source, stop = FakeHealth(clock), anyio.Event()
    settling = {"eu-west-1"}

    async def deliver(_obs: Observation) -> None:
        if len(source.polled("us-east-1")) >= 10:
            stop.set()

    cfg = health(interval_seconds=1.0, fast_interval_seconds=0.25, jitter=0.1)
    sched = PollScheduler(
        ["us-east-1", "eu-west-1"],
        source,
        cfg,
        deliver,
        lambda region: region in settling,
        stop=stop,
        clock=clock,
        sleeper=clock.sleep,
        rng=random.Random(7),
    )
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(drive, clock, 2, stop)
            await sched.run()
    steady, fast = gaps(source.polled("us-east-1")), gaps(source.polled("eu-west-1"))
    assert all(0.9 - 1e-9 <= g <= 1.1 + 1e-9 for g in steady), steady
    assert len(fast) >= 30
    assert all(0.225 - 1e-9 <= g <= 0.275 + 1e-9 for g in fast), fast
    # The settling polls wake with the others: on the steady polls' 50 ms grid, not one of their own.
    later = source.polled("eu-west-1")[1:] + source.polled("us-east-1")[1:]
    assert all(abs(t / 0.05 - round(t / 0.05)) < 1e-6 for t in later), later


@pytest.mark.anyio
async def test_the_concurrency_cap_is_never_exceeded() -> None:
    source, stop, delivered = FakeHealth(delay=0.02), anyio.Event(), Delivered()
    regions = [f"region-{i}" for i in range(12)]
    sched = PollScheduler(
        regions,
        source,
        health(interval_seconds=0.05, timeout_seconds=0.04, jitter=0.1, concurrency=2),
        delivered,
        lambda _region: False,
        stop=stop,
    )
    async with anyio.create_task_group() as tg:
        tg.start_soon(sched.run)
        await until(lambda: len(delivered.observations) >= 40, message="40 polls delivered")
        stop.set()
    assert source.most_in_flight == 2  # reached, never passed
    assert {obs.region for obs in delivered.observations} == set(regions)


@pytest.mark.anyio
async def test_a_hanging_region_does_not_delay_the_others() -> None:
    source, stop, delivered = FakeHealth(hanging={"ap-south-1"}), anyio.Event(), Delivered()
    sched = PollScheduler(
        ["ap-south-1", "us-east-1", "eu-west-1"],
        source,
        health(interval_seconds=0.05, timeout_seconds=0.04, jitter=0.1),
        delivered,
        lambda _region: False,
        stop=stop,
    )
    async with anyio.create_task_group() as tg:
        tg.start_soon(sched.run)
        await until(
            lambda: len(source.polled("us-east-1")) >= 10 and len(source.polled("eu-west-1")) >= 10,
            timeout=5,
            message="10 polls of each region that answers",
        )
        tg.cancel_scope.cancel()
    assert len(source.polled("ap-south-1")) == 1  # still waiting for its first answer
    assert "ap-south-1" not in {obs.region for obs in delivered.observations}


@pytest.mark.anyio
async def test_a_throttled_poll_counts_as_an_attempt_but_not_as_a_poll() -> None:
    clock = FakeClock()
    metrics, delivered = WatcherMetrics(), Delivered()
    source = FakeHealth(clock, throttled={"us-east-1"})
    sched = PollScheduler(
        ["us-east-1"],
        source,
        health(),
        delivered,
        lambda _region: False,
        stop=anyio.Event(),
        metrics=metrics,
        clock=clock,
    )
    clock.advance(5.0)
    assert await sched.poll_once("us-east-1") is None
    assert sched.last_attempt_at == clock()
    assert sched.last_poll_at is None
    assert not sched.first_poll.is_set()
    assert sched.polls == 0
    assert delivered.observations == []
    throttled = {"region": "us-east-1", "result": "throttled"}
    assert metrics.registry.get_sample_value("failover_watcher_health_checks_total", throttled) == 1.0

    # The next good poll moves both.
    source.throttled.clear()
    clock.advance(1.0)
    obs = await sched.poll_once("us-east-1")
    assert obs is not None
    assert sched.last_poll_at == sched.last_attempt_at == clock()
    assert delivered.observations == [obs]


@pytest.mark.anyio
async def test_the_stop_event_ends_the_loops_promptly() -> None:
    source, stop, delivered = FakeHealth(), anyio.Event(), Delivered()
    regions = ["us-east-1", "eu-west-1", "ap-south-1"]
    sched = PollScheduler(
        regions,
        source,
        health(interval_seconds=60.0, jitter=0.0),  # every loop is asleep for a minute after its poll
        delivered,
        lambda _region: False,
        stop=stop,
    )
    async with anyio.create_task_group() as tg:
        tg.start_soon(sched.run)
        await until(lambda: len(delivered.observations) == len(regions), message="one poll per region")
        stopped_at = anyio.current_time()
        stop.set()
    assert anyio.current_time() - stopped_at < 1.0
    assert len(source.calls) == len(regions)


@pytest.mark.anyio
async def test_reconfigure_restarts_the_loops_with_the_new_regions() -> None:
    source, stop, delivered = FakeHealth(), anyio.Event(), Delivered()
    cfg = health(interval_seconds=0.02, timeout_seconds=0.01, jitter=0.1)
    sched = PollScheduler(["us-east-1", "eu-west-1"], source, cfg, delivered, lambda _r: False, stop=stop)
    async with anyio.create_task_group() as tg:
        tg.start_soon(sched.run)
        await until(lambda: len(source.polled("us-east-1")) >= 2 and len(source.polled("eu-west-1")) >= 2)
        sched.reconfigure(["ap-south-1"], cfg)
        await until(lambda: len(source.polled("ap-south-1")) >= 1, message="the new region polled")
        before = len(source.polled("us-east-1")), len(source.polled("eu-west-1"))
        await until(lambda: len(source.polled("ap-south-1")) >= 10, message="10 polls of the new region")
        after = len(source.polled("us-east-1")), len(source.polled("eu-west-1"))
        stop.set()
    assert after == before  # the old regions' loops are gone
    assert sched.regions == ["ap-south-1"]


@pytest.mark.anyio
async def test_many_regions_share_wake_ups_on_a_grid_within_the_jitter() -> None:
    """A hundred regions every second wake the loop a few times a second, not a hundred: after its
    first poll, every poll is due on a 50 ms grid of the clock (the gap still within the jitter)."""
    clock = FakeClock()
    source, stop = FakeHealth(clock), anyio.Event()
    regions = [f"r{i:03d}" for i in range(100)]

    async def deliver(_obs: Observation) -> None:
        if len(source.calls) >= 500:
            stop.set()

    sched = PollScheduler(
        regions,
        source,
        health(interval_seconds=1.0, jitter=0.1),
        deliver,
        lambda _region: False,
        stop=stop,
        clock=clock,
        sleeper=clock.sleep,
        rng=random.Random(7),
    )
    with anyio.fail_after(20):
        async with anyio.create_task_group() as tg:
            tg.start_soon(sched.run)
            await drive(clock, len(regions), stop)
    later = [t for r in regions for t in source.polled(r)[1:]]
    assert len(later) >= 300
    off = [t for t in later if abs(t / 0.05 - round(t / 0.05)) >= 1e-6]
    assert not off, f"polls off the grid: {off[:5]}"
    assert len({round(t, 6) for t in later}) <= len(later) / 4, "few polls share a wake-up"
    for r in regions:
        for gap in gaps(source.polled(r)):
            assert 0.9 - 1e-9 <= gap <= 1.1 + 1e-9
