"""The per-token budget: 429 with Retry-After, a rolling minute, a run-time change."""

from __future__ import annotations

import httpx
import pytest

from tests.support import FakeClock
from watcher.sim import SimulatorState, default_seed, running_simulator
from watcher.sim._access import RateWindow

from ._support import fetch_token

pytestmark = pytest.mark.anyio

HEALTH = "/api/v2/architecture/regions/us-east-1/health"


async def _statuses(client: httpx.AsyncClient, count: int) -> list[int]:
    return [(await client.get(HEALTH)).status_code for _ in range(count)]


async def test_over_budget_is_429_with_retry_after_until_the_window_rolls(
    clock: FakeClock,
) -> None:
    state = SimulatorState(default_seed(), per_minute=5, clock=clock)
    async with running_simulator(state) as sim, httpx.AsyncClient(base_url=sim.base_url) as api:
        token = (await fetch_token(api)).json()["access_token"]
        api.headers["Authorization"] = f"Bearer {token}"

        assert await _statuses(api, 5) == [200] * 5
        clock.advance(20)
        limited = await api.get(HEALTH)
        assert limited.status_code == 429
        assert limited.headers["Retry-After"] == "40"
        assert "rate limit" in limited.json()["message"]

        clock.advance(40)
        assert await _statuses(api, 5) == [200] * 5
        assert (await api.get(HEALTH)).status_code == 429

        other = (await fetch_token(api)).json()["access_token"]
        fresh = await api.get(HEALTH, headers={"Authorization": f"Bearer {other}"})
        assert fresh.status_code == 200  # the budget is per token


async def test_budget_changes_at_run_time(api: httpx.AsyncClient) -> None:
    assert (await api.put("/_sim/ratelimit", json={"perMinute": 2})).json() == {"perMinute": 2}
    assert await _statuses(api, 3) == [200, 200, 429]

    await api.put("/_sim/ratelimit", json={"perMinute": 4})

    assert await _statuses(api, 3) == [200, 200, 429]
    assert (await api.get("/_sim/ratelimit")).json() == {"perMinute": 4}
    assert (await api.put("/_sim/ratelimit", json={"perMinute": 0})).status_code == 400


async def test_token_and_admin_paths_are_not_budgeted(api: httpx.AsyncClient) -> None:
    await api.put("/_sim/ratelimit", json={"perMinute": 1})

    tokens = [(await fetch_token(api)).status_code for _ in range(3)]
    admin = [(await api.get("/_sim/ratelimit")).status_code for _ in range(3)]

    assert tokens == [200] * 3
    assert admin == [200] * 3


def test_lowering_the_budget_waits_for_enough_of_the_window_to_expire() -> None:
    clock = FakeClock()
    budget = RateWindow(10, clock)
    for _ in range(10):
        assert budget.admit("t") is None
        clock.advance(1)  # admitted at 1000..1009, now 1010

    budget.per_minute = 3

    # 8 must expire for a new one to fit: the 8th was admitted at 1007, free at 1067.
    assert budget.admit("t") == 57
    clock.advance(57)
    assert budget.admit("t") is None
