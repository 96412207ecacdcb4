"""Injected faults: status, rate, delay, reset, count, several at once, and clearing."""

from __future__ import annotations

import random
import time

import httpx
import pytest

from watcher.sim import FaultSpec, SimulatorState
from watcher.sim._faults import Fault, plan_faults

from ._support import fetch_token

pytestmark = pytest.mark.anyio

HEALTH = "/api/v2/architecture/regions/us-east-1/health"


async def test_status_fault_answers_json_with_message(api: httpx.AsyncClient) -> None:
    installed = await api.put("/_sim/faults", json={"path": "regions/.*/health", "status": 503})

    response = await api.get(HEALTH)

    assert installed.status_code == 200
    assert response.status_code == 503
    assert response.json() == {"message": "service unavailable", "code": "service.unavailable", "status": 503}
    assert (await api.get("/api/v2/architecture/regions")).status_code == 200  # not matched


async def test_429_fault_carries_retry_after_and_custom_message(api: httpx.AsyncClient) -> None:
    await api.put(
        "/_sim/faults", json={"path": "health", "status": 429, "retryAfter": 7, "message": "slow down"}
    )

    response = await api.get(HEALTH)

    assert response.status_code == 429
    assert response.headers["Retry-After"] == "7"
    assert response.json()["message"] == "slow down"


async def test_400_on_token_endpoint_says_rate_limit_exceeded(client: httpx.AsyncClient) -> None:
    await client.put("/_sim/faults", json={"path": "^/oauth/token$", "status": 400, "count": 1})

    throttled = await fetch_token(client)
    retried = await fetch_token(client)

    assert throttled.status_code == 400
    assert throttled.json()["error"] == "invalid_request"
    assert throttled.json()["message"] == "rate limit exceeded"
    assert retried.status_code == 200


async def test_error_rate_is_partial_and_repeatable() -> None:
    def outcomes(seed: int) -> list[bool]:
        state = SimulatorState(seed_rng=seed)
        state.add_fault(FaultSpec(path="health", status=500, errorRate=0.3))
        return [state.plan_faults(HEALTH) is not None for _ in range(200)]

    first = outcomes(7)

    assert 30 < sum(first) < 90
    assert outcomes(7) == first
    assert outcomes(8) != first


async def test_error_rate_over_http(api: httpx.AsyncClient) -> None:
    await api.put("/_sim/faults", json={"path": "health", "status": 500, "errorRate": 0.5})

    statuses = [(await api.get(HEALTH)).status_code for _ in range(40)]

    assert set(statuses) == {200, 500}


async def test_delay_fault_slows_matching_requests_only(api: httpx.AsyncClient) -> None:
    await api.put("/_sim/faults", json={"path": "health", "delayMs": 200})

    start = time.perf_counter()
    slow = await api.get(HEALTH)
    slow_elapsed = time.perf_counter() - start
    start = time.perf_counter()
    await api.get("/api/v2/architecture/regions")
    fast_elapsed = time.perf_counter() - start

    assert slow.status_code == 200
    assert slow_elapsed >= 0.2
    assert fast_elapsed < 0.2


async def test_reset_fault_is_a_transport_error(api: httpx.AsyncClient) -> None:
    await api.put("/_sim/faults", json={"path": "health", "reset": True, "count": 1})

    with pytest.raises(httpx.TransportError):
        await api.get(HEALTH)
    assert (await api.get(HEALTH)).status_code == 200


async def test_count_limits_hits_and_faults_stack(api: httpx.AsyncClient) -> None:
    await api.put("/_sim/faults", json={"path": "health", "status": 502, "count": 2})
    await api.put("/_sim/faults", json={"path": "health", "status": 504, "count": 1})

    statuses = [(await api.get(HEALTH)).status_code for _ in range(5)]
    faults = (await api.get("/_sim/faults")).json()["faults"]

    assert statuses == [502, 502, 504, 200, 200]
    assert [(f["hits"], f["remaining"]) for f in faults] == [(2, 0), (1, 0)]


async def test_delete_clears_all_faults(api: httpx.AsyncClient) -> None:
    await api.put("/_sim/faults", json={"path": ".", "status": 500})
    await api.put("/_sim/faults", json={"path": ".", "reset": True})

    cleared = await api.delete("/_sim/faults")

    assert cleared.json() == {"cleared": 2}
    assert (await api.get(HEALTH)).status_code == 200


async def test_admin_paths_are_never_faulted(api: httpx.AsyncClient) -> None:
    await api.put("/_sim/faults", json={"path": ".*", "status": 500})

    assert (await api.get("/_sim/state")).status_code == 200
    assert (await api.get(HEALTH)).status_code == 500


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"path": "(", "status": 500}, "path:"),
        ({"path": "x", "status": 200}, "status:"),
        ({"path": "x", "status": 500, "errorRate": 1.5}, "errorRate:"),
        ({"path": "x"}, "body: a fault needs"),
        ({"path": "x", "status": 500, "bogus": 1}, "bogus:"),
    ],
)
async def test_bad_fault_specs_are_400(api: httpx.AsyncClient, body: dict[str, object], field: str) -> None:
    response = await api.put("/_sim/faults", json=body)

    assert response.status_code == 400
    assert response.json()["message"].startswith(field)


def test_delays_add_up_and_the_first_failure_decides() -> None:
    faults = [
        Fault.install(1, FaultSpec(path="health", delayMs=100)),
        Fault.install(2, FaultSpec(path="health", status=503, delayMs=50)),
        Fault.install(3, FaultSpec(path="health", status=500)),
        Fault.install(4, FaultSpec(path="regions$", status=500)),
    ]

    outcome = plan_faults(faults, HEALTH, random.Random(0))

    assert outcome is not None
    assert outcome.delay_seconds == pytest.approx(0.15)
    assert outcome.status == 503
    assert outcome.fault_ids == [1, 2]
    assert [f.hits for f in faults] == [1, 1, 0, 0]


async def test_method_filter_faults_only_that_method(api: httpx.AsyncClient) -> None:
    path = "/api/v2/routing/strategies/strategy-1"
    await api.put("/_sim/faults", json={"path": "routing/strategies", "method": "PUT", "status": 409})
    current = await api.get(path)
    assert current.status_code == 200  # the GET is not touched
    body = current.json()
    answered = await api.put(path, json=body)
    assert answered.status_code == 409
