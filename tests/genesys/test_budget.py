"""The request budget: the platform's window on a fake clock, shared by every call of one client
(SPEC §9: spend what the window allows, never more; no average-rate drip)."""

from __future__ import annotations

from typing import Any

import anyio
import anyio.lowlevel
import pytest

from tests.support import FakeClock
from watcher.genesys import RequestBudget
from watcher.genesys.budget import COUNTED_SECONDS

from ._support import (
    HEALTH_PATH,
    REGIONS_PATH,
    STRATEGY_PATH,
    FakeGenesys,
    json_response,
    strategy_body,
)

pytestmark = pytest.mark.anyio


async def test_the_window_is_spent_at_once_then_frees_as_its_sends_leave(fake_time: FakeClock) -> None:
    # 6 a minute: six requests go at once (no drip), the seventh waits for the first to leave the
    # window (a minute, and the second of margin kept for the platform's own clock).
    budget = RequestBudget(6, clock=fake_time, sleep=fake_time.sleep)
    started = fake_time.now
    for _ in range(6):
        await budget.acquire()
    assert fake_time.now == started
    assert budget.available == 0
    await budget.acquire()
    assert fake_time.now == pytest.approx(started + COUNTED_SECONDS)
    fake_time.now += 1000.0
    assert budget.available == pytest.approx(6.0)  # a whole window again, no further


async def test_the_default_window_is_the_whole_minute(fake_time: FakeClock) -> None:
    budget = RequestBudget(300, clock=fake_time, sleep=fake_time.sleep)
    assert budget.window == 300
    started = fake_time.now
    for _ in range(300):
        await budget.acquire()
    assert fake_time.now == started  # 300 requests at once: the window allows them
    await budget.acquire()
    assert fake_time.now == pytest.approx(started + COUNTED_SECONDS)


@pytest.mark.parametrize("per_minute", [60, 300, 1000])
async def test_no_sixty_second_window_holds_more_than_the_budget(
    fake_time: FakeClock, per_minute: int
) -> None:
    # The platform counts requests per window: a greedy caller must never exceed it.
    budget = RequestBudget(per_minute, clock=fake_time, sleep=fake_time.sleep)
    sent: list[float] = []
    for _ in range(per_minute * 3):
        await budget.acquire()
        sent.append(fake_time.now)
    for i, start in enumerate(sent):
        in_window = sum(1 for t in sent[i:] if t < start + 60.0)
        assert in_window <= per_minute


def test_budget_refuses_a_non_positive_rate() -> None:
    with pytest.raises(ValueError, match="positive"):
        RequestBudget(0)


def test_budget_refuses_reserves_that_make_no_sense() -> None:
    with pytest.raises(ValueError, match="decisive_reserve"):
        RequestBudget(300, decisive_reserve=-1)
    with pytest.raises(ValueError, match="kept_share"):
        RequestBudget(300, kept_share=1.0)


async def test_acquire_sleeps_until_the_window_frees(fake_time: FakeClock) -> None:
    budget = RequestBudget(2, clock=fake_time, sleep=fake_time.sleep)
    for _ in range(4):
        await budget.acquire()
    # The third caller waits for the first two to leave the window; the fourth finds it free.
    assert fake_time.sleeps == [pytest.approx(COUNTED_SECONDS)]


async def test_concurrent_callers_beyond_the_window_go_in_arrival_order_when_it_frees() -> None:
    clock = FakeClock()
    budget = RequestBudget(2, clock=clock, sleep=clock.sleep)
    served: list[int] = []

    async def caller(i: int) -> None:
        await budget.acquire()
        served.append(i)

    async with anyio.create_task_group() as tg:
        for i in range(5):
            tg.start_soon(caller, i)
            await anyio.wait_all_tasks_blocked()
        assert served == [0, 1]
        assert budget.waiting == 3
        clock.advance(COUNTED_SECONDS)
        await anyio.wait_all_tasks_blocked()
        assert served == [0, 1, 2, 3]
        clock.advance(COUNTED_SECONDS)
    assert served == [0, 1, 2, 3, 4]


async def test_one_budget_is_shared_by_every_call(
    api: FakeGenesys, fake_time: FakeClock, client_factory: Any
) -> None:
    api.on("GET", HEALTH_PATH, json_response(200, {"status": "HEALTHY"}))
    api.on("GET", STRATEGY_PATH, json_response(200, strategy_body()))
    api.on("GET", REGIONS_PATH, json_response(200, {"entities": [{"id": "us-east-1"}]}))
    async with client_factory(requests_per_minute=6) as client:  # a window of 6
        assert client.budget.capacity == 6
        for _ in range(3):
            await client.region_health("us-east-1")
            await client.get_strategy("strategy-1")
            await client.list_regions()
    assert len(api.api_requests()) == 9
    # Six calls at once, whatever the endpoint; the 7th waits for the window to free, and the 8th
    # and 9th go with it.
    assert fake_time.sleeps == [pytest.approx(COUNTED_SECONDS)]


async def test_the_platforms_count_caps_the_room_believed_left(fake_time: FakeClock) -> None:
    budget = RequestBudget(300, clock=fake_time, sleep=fake_time.sleep)
    budget.follow_platform(count=295, allowed=300, reset_seconds=20)
    assert budget.available == pytest.approx(5.0)
    budget.follow_platform(count=300, allowed=300, reset_seconds=2)
    started = fake_time.now
    await budget.acquire()
    assert fake_time.now == pytest.approx(started + 2.0)  # nothing until the window ends ...
    assert budget.available == pytest.approx(299.0)  # ... then a new one of `allowed` is open


async def test_the_spare_is_the_platforms_less_what_we_sent_since_its_answer(fake_time: FakeClock) -> None:
    budget = RequestBudget(300, clock=fake_time, sleep=fake_time.sleep)
    budget.follow_platform(count=200, allowed=300, reset_seconds=50)
    assert budget.available == pytest.approx(100.0)
    for _ in range(30):
        await budget.acquire()
    assert budget.available == pytest.approx(70.0)
    # An older answer read late (its count is lower) is no news: the room believed does not grow.
    budget.follow_platform(count=180, allowed=300, reset_seconds=50)
    assert budget.available == pytest.approx(70.0)
    # Someone else spends on the same token: the platform's count says so, and we believe it.
    budget.follow_platform(count=290, allowed=300, reset_seconds=49)
    assert budget.available == pytest.approx(10.0)
    # The window ends: a new one of `allowed`, less what we sent in the last minute (our own log
    # still counts them, so a platform counting a rolling window never sees more than `allowed`).
    fake_time.now += 49.0
    assert budget.available == pytest.approx(270.0)


async def test_a_platform_window_smaller_than_the_budget_is_the_window(fake_time: FakeClock) -> None:
    budget = RequestBudget(600, clock=fake_time, sleep=fake_time.sleep)
    budget.follow_platform(count=0, allowed=100, reset_seconds=0)  # its window ends now
    assert budget.window == 100
    started = fake_time.now
    for _ in range(100):
        await budget.acquire()
    assert fake_time.now == started
    await budget.acquire()
    assert fake_time.now == pytest.approx(started + COUNTED_SECONDS)


async def test_rate_limit_headers_feed_the_budget(
    api: FakeGenesys, fake_time: FakeClock, client_factory: Any
) -> None:
    exhausted = {"inin-ratelimit-count": "300", "inin-ratelimit-allowed": "300", "inin-ratelimit-reset": "3"}
    api.on(
        "GET",
        STRATEGY_PATH,
        json_response(200, strategy_body(), **exhausted),
        json_response(200, strategy_body()),
    )
    async with client_factory() as client:
        await client.get_strategy("strategy-1")
        slept = len(fake_time.sleeps)
        await client.get_strategy("strategy-1")
    assert fake_time.sleeps[slept:]
    assert sum(fake_time.sleeps[slept:]) >= 3.0  # waited for the platform's window to end


@pytest.mark.parametrize(
    "headers",
    [
        {"inin-ratelimit-count": "x", "inin-ratelimit-allowed": "300", "inin-ratelimit-reset": "3"},
        {"inin-ratelimit-count": "300", "inin-ratelimit-allowed": "0", "inin-ratelimit-reset": "3"},
        {"inin-ratelimit-count": "300", "inin-ratelimit-allowed": "300"},
        {"inin-ratelimit-count": "nan", "inin-ratelimit-allowed": "300", "inin-ratelimit-reset": "3"},
    ],
)
def test_headers_that_are_not_three_numbers_are_ignored(
    fake_time: FakeClock, headers: dict[str, str]
) -> None:
    budget = RequestBudget(300, clock=fake_time, sleep=fake_time.sleep)
    budget.follow_headers(headers)
    assert budget.available == 300
    assert budget.window == 300
