"""Priorities in the request budget, on a fake clock: the polls that can change a decision go first,
then writes, then deferrable requests (other polls, the read-back), whatever was queued earlier;
writes leave a reserve for decisive polls, deferrable requests leave the room a switch needs; and
no 60-second window ever holds more than the budget."""

from __future__ import annotations

import random

import anyio
import anyio.abc
import pytest

from tests.support import FakeClock
from watcher.genesys import Priority, RequestBudget, request_priority
from watcher.genesys.budget import COUNTED_SECONDS

pytestmark = pytest.mark.anyio

DECISIVE, WRITE, DEFERRABLE = Priority.DECISIVE, Priority.WRITE, Priority.DEFERRABLE


async def serve_all(
    clock: FakeClock, budget: RequestBudget, arrivals: list[tuple[str, Priority | None]]
) -> list[str]:
    """Start every caller in order on a spent window, then let time run: the order they get a slot."""
    served: list[str] = []

    async def caller(name: str, priority: Priority | None) -> None:
        await budget.acquire(priority)  # None: unmarked
        served.append(name)

    while budget.available >= 1:  # spend the window first: everyone below has to wait
        await budget.acquire()
    async with anyio.create_task_group() as tg:
        for name, priority in arrivals:
            tg.start_soon(caller, name, priority)
            await anyio.wait_all_tasks_blocked()  # arrival order is the order of this list
        await anyio.wait_all_tasks_blocked()
        while len(served) < len(arrivals):
            wake = clock.next_wake
            assert wake is not None, f"nobody is waiting, yet only {served} were served"
            clock.advance(wake - clock.now)
            await anyio.wait_all_tasks_blocked()
    return served


async def deferrable_request(tg: anyio.abc.TaskGroup, budget: RequestBudget) -> anyio.Event:
    """Start one deferrable request (a read-back) and let it run until it blocks; set when served."""
    done = anyio.Event()

    async def read_back() -> None:
        with request_priority(DEFERRABLE):
            await budget.acquire()
        done.set()

    tg.start_soon(read_back)
    await anyio.wait_all_tasks_blocked()
    return done


async def test_writes_jump_ahead_of_deferrable_polls_queued_before_them() -> None:
    clock = FakeClock()
    budget = RequestBudget(10, clock=clock, sleep=clock.sleep)  # a window of 10
    arrivals = [("poll-a", DEFERRABLE), ("poll-b", DEFERRABLE), ("put-1", WRITE), ("put-2", WRITE)]

    served = await serve_all(clock, budget, arrivals)

    assert served == ["put-1", "put-2", "poll-a", "poll-b"]


async def test_the_failing_regions_poll_goes_before_the_writes_queued_ahead_of_it() -> None:
    # A switch queues all its writes at once; a poll of the failing region (or of a candidate)
    # arriving during the drain does not wait for the whole queue, so detection and hysteresis go
    # on. But no two decisive polls in a row while a write waits: polls never starve the writes.
    clock = FakeClock()
    budget = RequestBudget(10, clock=clock, sleep=clock.sleep)
    arrivals = [
        ("put-1", WRITE),
        ("other-poll", DEFERRABLE),
        ("put-2", WRITE),
        ("failing-region-poll", DECISIVE),
        ("put-3", WRITE),
        ("candidate-poll", DECISIVE),
    ]

    served = await serve_all(clock, budget, arrivals)

    assert served == ["failing-region-poll", "put-1", "candidate-poll", "put-2", "put-3", "other-poll"]


async def test_decisive_polls_that_fill_the_budget_do_not_starve_the_writes() -> None:
    # Many regions settling at once, or a budget too small for the polls: decisive polls keep
    # arriving faster than tokens. A write still gets every other token.
    clock = FakeClock()
    budget = RequestBudget(10, clock=clock, sleep=clock.sleep)
    arrivals = [(f"poll-{i}", DECISIVE) for i in range(6)] + [("put-1", WRITE), ("put-2", WRITE)]
    arrivals += [(f"poll-{i}", DECISIVE) for i in range(6, 10)]

    served = await serve_all(clock, budget, arrivals)

    assert served[:5] == ["poll-0", "put-1", "poll-1", "put-2", "poll-2"]
    assert served[5:] == [f"poll-{i}" for i in range(3, 10)]


async def test_unmarked_requests_go_first_in_arrival_order() -> None:
    # Start-up reads and one-shot commands carry no priority: first come first served, and the
    # queue of marked requests waits for them (as when they reserved a token at once).
    clock = FakeClock()
    budget = RequestBudget(10, clock=clock, sleep=clock.sleep)
    arrivals: list[tuple[str, Priority | None]] = [
        ("put-1", WRITE),
        ("read-1", None),
        ("poll", DECISIVE),
        ("read-2", None),
    ]
    served = await serve_all(clock, budget, arrivals)
    assert served == ["read-1", "read-2", "poll", "put-1"]
    assert clock.now == pytest.approx(1000.0 + COUNTED_SECONDS)  # all four in the next window


async def test_deferrable_callers_are_served_in_arrival_order_when_alone() -> None:
    clock = FakeClock()
    budget = RequestBudget(10, clock=clock, sleep=clock.sleep)
    arrivals = [(f"poll-{i}", DEFERRABLE) for i in range(4)]

    served = await serve_all(clock, budget, arrivals)

    assert served == [name for name, _ in arrivals]
    # The window is spent: they all go when it frees, not one by one at an average rate.
    assert clock.now == pytest.approx(1000.0 + COUNTED_SECONDS)


async def test_without_priorities_every_request_is_served_first_come_first_served() -> None:
    # `genesys.write_priority = false`: the old path, kept for comparison in the benchmark.
    clock = FakeClock()
    budget = RequestBudget(10, clock=clock, sleep=clock.sleep, prioritized=False)
    arrivals = [("poll-a", DEFERRABLE), ("put-1", WRITE), ("poll-b", DECISIVE), ("put-2", WRITE)]

    served = await serve_all(clock, budget, arrivals)

    assert served == ["poll-a", "put-1", "poll-b", "put-2"]  # arrival order, whatever the priority


async def test_an_exhausted_platform_window_holds_deferrable_requests_too() -> None:
    clock = FakeClock()
    budget = RequestBudget(300, clock=clock, sleep=clock.sleep)
    budget.follow_platform(count=300, allowed=300, reset_seconds=4)

    async with anyio.create_task_group() as tg:
        done = await deferrable_request(tg, budget)
        clock.advance(3.9)
        await anyio.wait_all_tasks_blocked()
        assert not done.is_set()
        clock.advance(10.0)
    assert done.is_set()


async def test_a_cancelled_deferrable_waiter_lets_the_next_one_in() -> None:
    clock = FakeClock()
    budget = RequestBudget(10, clock=clock, sleep=clock.sleep)
    while budget.available >= 1:
        await budget.acquire()
    served: list[str] = []

    async def poll(name: str) -> None:
        with request_priority(DEFERRABLE):
            await budget.acquire()
        served.append(name)

    async with anyio.create_task_group() as tg:
        async with anyio.create_task_group() as doomed:
            doomed.start_soon(poll, "cancelled")
            await anyio.wait_all_tasks_blocked()
            tg.start_soon(poll, "next")
            await anyio.wait_all_tasks_blocked()
            assert budget.waiting == 2
            doomed.cancel_scope.cancel()
        await anyio.wait_all_tasks_blocked()
        assert budget.waiting == 1
        clock.advance(COUNTED_SECONDS)
    assert served == ["next"]
    assert budget.waiting == 0


@pytest.mark.parametrize("per_minute", [30, 60])
async def test_no_sixty_second_window_holds_more_than_the_budget_whatever_the_mix(per_minute: int) -> None:
    clock = FakeClock()
    budget = RequestBudget(per_minute, clock=clock, sleep=clock.sleep)
    rng = random.Random(per_minute)
    sent: list[float] = []
    total = per_minute * 2 + 7

    async def caller(priority: Priority | None) -> None:
        await budget.acquire(priority)  # None: unmarked, a reservation
        sent.append(clock.now)

    async with anyio.create_task_group() as tg:
        for _ in range(total):
            tg.start_soon(caller, rng.choice([None, DECISIVE, WRITE, DEFERRABLE]))
        await anyio.wait_all_tasks_blocked()
        while len(sent) < total:
            wake = clock.next_wake
            assert wake is not None
            clock.advance(wake - clock.now)
            await anyio.wait_all_tasks_blocked()
    sent.sort()
    for i, start in enumerate(sent):
        assert sum(1 for t in sent[i:] if t < start + 60.0) <= per_minute


async def test_deferrable_requests_leave_the_kept_share_for_the_writes_of_a_switch() -> None:
    # A read-back of every strategy and rule each minute, or polls that change no decision, must
    # not spend the window: when a region dies, its writes find the kept share there.
    clock = FakeClock(autojump=True)
    budget = RequestBudget(300, clock=clock, sleep=clock.sleep)  # kept 60, decisive reserve 10
    assert (budget.kept, budget.decisive_reserve) == (60, 10)
    started = clock.now
    served: list[float] = []
    left: list[float] = []
    with request_priority(DEFERRABLE):
        for _ in range(480):
            await budget.acquire()
            served.append(clock.now)
            left.append(budget.available)
    # Deferrable traffic gets everything above the kept share, at once: 240 of each window of 300 ...
    assert served.count(started) == 240
    assert served.count(started + COUNTED_SECONDS) == 240
    # ... and never spends the kept share.
    assert min(left) >= budget.kept
    # The switch that comes next: its writes go at once down to the decisive reserve, and the
    # decisive polls still find theirs.
    before = clock.now
    with request_priority(WRITE):
        for _ in range(budget.kept - budget.decisive_reserve):
            await budget.acquire()
    assert clock.now == before  # 50 writes at once, no waiting
    with request_priority(DECISIVE):
        for _ in range(budget.decisive_reserve):
            await budget.acquire()
    assert clock.now == before


async def test_a_write_arriving_while_deferrable_requests_wait_goes_at_once() -> None:
    clock = FakeClock()
    budget = RequestBudget(300, clock=clock, sleep=clock.sleep)
    while budget.available > budget.kept:
        await budget.acquire()  # the spare is down to the kept share: deferrable requests wait
    served: list[str] = []

    async def caller(name: str, priority: Priority) -> None:
        with request_priority(priority):
            await budget.acquire()
        served.append(name)

    async with anyio.create_task_group() as tg:
        tg.start_soon(caller, "poll", DEFERRABLE)
        await anyio.wait_all_tasks_blocked()
        assert served == []
        tg.start_soon(caller, "put", WRITE)
        await anyio.wait_all_tasks_blocked()
        assert served == ["put"]  # the write does not wait behind the deferrable poll
        while len(served) < 2:
            clock.advance(clock.next_wake - clock.now if clock.next_wake else 1.0)
            await anyio.wait_all_tasks_blocked()
    assert served == ["put", "poll"]


async def test_writes_leave_the_decisive_reserve_and_a_decisive_poll_finds_it() -> None:
    # A mass failover spends the window; the polls of the failing region and the candidate go on.
    clock = FakeClock()
    budget = RequestBudget(300, clock=clock, sleep=clock.sleep)
    served: list[str] = []

    async def caller(name: str, priority: Priority) -> None:
        with request_priority(priority):
            await budget.acquire()
        served.append(name)

    async with anyio.create_task_group() as tg:
        for i in range(300):
            tg.start_soon(caller, f"put-{i}", WRITE)
        await anyio.wait_all_tasks_blocked()
        assert len(served) == 290  # everything but the decisive reserve, at once
        for i in range(10):
            tg.start_soon(caller, f"poll-{i}", DECISIVE)
        await anyio.wait_all_tasks_blocked()
        assert served[290:] == [f"poll-{i}" for i in range(10)]  # at once, in the reserve
        assert budget.available == 0
        clock.advance(COUNTED_SECONDS)
    assert served[300:] == [f"put-{i}" for i in range(290, 300)]


async def test_a_mass_failovers_writes_spend_the_spare_of_the_platforms_window_at_once() -> None:
    # Issue 21: 200 of the platform's 300 spent by the start-up reads, the region dies 8 s later:
    # 80 writes (40 strategies and their rules) fit in the spare, so they all go at once.
    clock = FakeClock()
    budget = RequestBudget(300, clock=clock, sleep=clock.sleep)
    budget.follow_platform(count=200, allowed=300, reset_seconds=52)
    started = clock.now
    with request_priority(WRITE):
        for _ in range(80):
            await budget.acquire()
    assert clock.now == started
    assert budget.available == 20


async def test_a_budget_configured_above_the_platforms_keeps_deferrable_requests_going() -> None:
    # requests_per_minute = 6000 against a platform that allows 300: the burst of 600 can never be
    # reached (the platform's headers cap the bucket at what its window has left), so the reserve
    # follows the platform's window; a deferrable request must not wait for ever.
    clock = FakeClock()
    budget = RequestBudget(6000, clock=clock, sleep=clock.sleep)
    budget.follow_platform(count=20, allowed=300, reset_seconds=40)

    async with anyio.create_task_group() as tg:
        done = await deferrable_request(tg, budget)
        assert done.is_set()  # 280 left in the platform's window: more than its tenth
