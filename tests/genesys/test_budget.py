"""The request budget: a token bucket on a fake clock, shared by every call of one client."""

from __future__ import annotations

from typing import Any

import anyio
import anyio.lowlevel
import pytest

from tests.support import FakeClock
from watcher.genesys import RequestBudget

from ._support import (
    HEALTH_PATH,
    REGIONS_PATH,
    STRATEGY_PATH,
    FakeGenesys,
    json_response,
    strategy_body,
)

pytestmark = pytest.mark.anyio


def test_burst_then_rate(fake_time: FakeClock) -> None:
    # 66/min with a burst of 6: the refill is (66 - 6)/60 = 1 token per second.
    budget = RequestBudget(66, burst=6, clock=fake_time, sleep=fake_time.sleep)
    assert [budget.reserve() for _ in range(6)] == [0.0] * 6
    # One token per second after the burst; waiting callers queue up behind each other.
    assert budget.reserve() == pytest.approx(1.0)
    assert budget.reserve() == pytest.approx(2.0)
    fake_time.now += 2.0
    assert budget.available == pytest.approx(0.0)
    fake_time.now += 0.5
    assert budget.reserve() == pytest.approx(0.5)
    fake_time.now += 1000.0
    assert budget.available == pytest.approx(6.0)  # refills up to the burst, no further


def test_default_burst_is_a_tenth_of_the_minute(fake_time: FakeClock) -> None:
    budget = RequestBudget(300, clock=fake_time, sleep=fake_time.sleep)
    assert budget.capacity == 30
    assert budget.rate == pytest.approx(4.5)  # (300 - 30) / 60: burst + a minute of refill = 300
    assert [budget.reserve() for _ in range(31)][-1] == pytest.approx(1 / 4.5)


@pytest.mark.parametrize("per_minute", [60, 300, 1000])
def test_no_sixty_second_window_holds_more_than_the_budget(fake_time: FakeClock, per_minute: int) -> None:
    # The platform counts requests per window: a greedy caller must never exceed it.
    budget = RequestBudget(per_minute, clock=fake_time, sleep=fake_time.sleep)
    sent: list[float] = []
    for _ in range(per_minute * 3):
        fake_time.now += budget.reserve()
        sent.append(fake_time.now)
    for i, start in enumerate(sent):
        in_window = sum(1 for t in sent[i:] if t < start + 60.0)
        assert in_window <= per_minute


def test_budget_refuses_a_non_positive_rate() -> None:
    with pytest.raises(ValueError, match="positive"):
        RequestBudget(0)


async def test_acquire_sleeps_the_deficit(fake_time: FakeClock) -> None:
    budget = RequestBudget(122, burst=2, clock=fake_time, sleep=fake_time.sleep)
    for _ in range(4):
        await budget.acquire()
    # The fake sleep moves the clock, so each caller after the burst waits one refill (0.5 s).
    assert fake_time.sleeps == [pytest.approx(0.5), pytest.approx(0.5)]


async def test_concurrent_callers_are_spaced_by_the_rate(fake_time: FakeClock) -> None:
    asked: list[float] = []

    async def frozen_sleep(seconds: float) -> None:  # time stands still while all four arrive
        asked.append(seconds)
        await anyio.lowlevel.checkpoint()

    budget = RequestBudget(61, burst=1, clock=fake_time, sleep=frozen_sleep)
    async with anyio.create_task_group() as tg:
        for _ in range(4):
            tg.start_soon(budget.acquire)
    assert sorted(asked) == [pytest.approx(1.0), pytest.approx(2.0), pytest.approx(3.0)]


async def test_one_budget_is_shared_by_every_call(
    api: FakeGenesys, fake_time: FakeClock, client_factory: Any
) -> None:
    api.on("GET", HEALTH_PATH, json_response(200, {"status": "HEALTHY"}))
    api.on("GET", STRATEGY_PATH, json_response(200, strategy_body()))
    api.on("GET", REGIONS_PATH, json_response(200, {"entities": [{"id": "us-east-1"}]}))
    async with client_factory(requests_per_minute=60) as client:  # burst 6, then (60 - 6)/60 = 0.9/s
        assert client.budget.capacity == 6
        for _ in range(3):
            await client.region_health("us-east-1")
            await client.get_strategy("strategy-1")
            await client.list_regions()
    assert len(api.api_requests()) == 9
    assert fake_time.sleeps == [pytest.approx(1 / 0.9)] * 3  # the 7th, 8th and 9th call, whatever endpoint


def test_the_platforms_count_caps_the_room_believed_left(fake_time: FakeClock) -> None:
    budget = RequestBudget(300, clock=fake_time, sleep=fake_time.sleep)
    budget.follow_platform(count=295, allowed=300, reset_seconds=20)
    assert budget.available == pytest.approx(5.0)
    budget.follow_platform(count=300, allowed=300, reset_seconds=2)
    assert budget.reserve() == pytest.approx(2.0 + 1 / 4.5)  # nothing until the window ends


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
