"""``inin-ratelimit-*`` on every API answer, and ``GET /api/v2/date`` (SPEC §6)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.support import FakeClock
from watcher.sim import SimulatorState, default_seed, running_simulator
from watcher.sim._platform_api import PERMISSIONS, PlatformEndpoints

from ._support import fetch_token

pytestmark = pytest.mark.anyio

HEALTH = "/api/v2/architecture/regions/us-east-1/health"


def _budget(response: httpx.Response) -> tuple[int, int, int]:
    headers = response.headers
    return (
        int(headers["inin-ratelimit-count"]),
        int(headers["inin-ratelimit-allowed"]),
        int(headers["inin-ratelimit-reset"]),
    )


async def test_headers_count_up_and_the_reset_counts_down(clock: FakeClock) -> None:
    state = SimulatorState(default_seed(), per_minute=4, clock=clock)
    async with running_simulator(state) as sim, httpx.AsyncClient(base_url=sim.base_url) as api:
        token = (await fetch_token(api)).json()["access_token"]
        api.headers["Authorization"] = f"Bearer {token}"

        first = await api.get(HEALTH)
        clock.advance(15)
        second = await api.get("/api/v2/processautomation/triggers/trigger-1")
        clock.advance(15)
        missing = await api.get("/api/v2/architect/emergencygroups/nope")
        invalid = await api.put("/api/v2/eventbridge/routing/rules/rule-1", json={"version": 99})
        limited = await api.get(HEALTH)
        clock.advance(31)  # the first request has left the window
        after = await api.get("/api/v2/date")

    assert _budget(first) == (1, 4, 60)
    assert _budget(second) == (2, 4, 45)
    assert (missing.status_code, _budget(missing)) == (404, (3, 4, 30))
    assert (invalid.status_code, _budget(invalid)) == (400, (4, 4, 30))
    assert limited.status_code == 429
    assert _budget(limited) == (4, 4, int(limited.headers["Retry-After"]))
    assert _budget(after) == (4, 4, 14)  # 15 s-old, 30 s-old x2, and itself


async def test_headers_follow_a_budget_change(api: httpx.AsyncClient) -> None:
    await api.put("/_sim/ratelimit", json={"perMinute": 50})

    response = await api.get(HEALTH)

    assert _budget(response)[:2] == (1, 50)


async def test_unauthenticated_token_and_admin_answers_carry_no_budget(client: httpx.AsyncClient) -> None:
    unauthenticated = await client.get(HEALTH)
    token = await fetch_token(client)
    admin = await client.get("/_sim/ratelimit")

    for response in (unauthenticated, token, admin):
        assert "inin-ratelimit-count" not in response.headers


async def test_the_server_date_is_utc_now(api: httpx.AsyncClient, state: SimulatorState) -> None:
    wall_clock = state.audit.now
    state.audit.now = lambda: datetime(2026, 12, 2, 4, 34, 15, tzinfo=UTC)

    fixed = await api.get("/api/v2/date")
    state.audit.now = wall_clock
    live = await api.get("/api/v2/date")
    anonymous = await api.get("/api/v2/date", headers={"Authorization": "Bearer nope"})

    assert fixed.json() == {"currentDate": "2026-12-02T04:34:15.000Z"}
    moment = datetime.fromisoformat(live.json()["currentDate"])
    assert abs(datetime.now(UTC) - moment) < timedelta(seconds=30)
    assert anonymous.status_code == 401


def test_every_platform_call_names_its_permission() -> None:
    routes = PlatformEndpoints(SimulatorState()).routes()
    public = {"/api/v2/components.json", "/api/v2/summary.json"}

    declared = {
        (method, route.path)  # type: ignore[attr-defined]
        for route in routes
        for method in route.methods - {"HEAD"}  # type: ignore[attr-defined]
        if route.path not in public  # type: ignore[attr-defined]
    }

    assert declared == set(PERMISSIONS)
    assert PERMISSIONS[("PUT", "/api/v2/processautomation/triggers/{entity_id}")] == (
        "processautomation:trigger:edit"
    )
