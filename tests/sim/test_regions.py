"""Region list, region health, the admin health switch and simulated latency."""

from __future__ import annotations

import time

import anyio
import httpx
import pytest

pytestmark = pytest.mark.anyio

HEALTH = "/api/v2/architecture/regions/{}/health"


async def test_region_list_names_every_region(api: httpx.AsyncClient) -> None:
    body = (await api.get("/api/v2/architecture/regions")).json()

    assert [e["id"] for e in body["entities"]] == ["us-east-1", "eu-west-1"]
    assert body["entities"][0]["name"] == "US East"
    assert body["total"] == 2
    assert body["pageSize"] == 2


async def test_health_answers_status_sync_interval_and_latency(api: httpx.AsyncClient) -> None:
    response = await api.get(HEALTH.format("us-east-1"))

    assert response.status_code == 200
    assert response.json() == {"status": "HEALTHY", "syncIntervalSeconds": 30, "latencyMs": 0}


async def test_unknown_region_is_404_with_message(api: httpx.AsyncClient) -> None:
    response = await api.get(HEALTH.format("mars-1"))

    assert response.status_code == 404
    assert response.json()["code"] == "not.found"
    assert "mars-1" in response.json()["message"]


async def test_admin_sets_health_and_creates_new_regions(api: httpx.AsyncClient) -> None:
    changed = await api.put(
        "/_sim/regions/us-east-1", json={"status": "DEGRADED", "syncIntervalSeconds": 400}
    )
    created = await api.put("/_sim/regions/ap-south-1", json={"status": "DOWN"})

    assert changed.status_code == 200
    assert (await api.get(HEALTH.format("us-east-1"))).json()["status"] == "DEGRADED"
    assert (await api.get(HEALTH.format("us-east-1"))).json()["syncIntervalSeconds"] == 400
    assert created.json()["id"] == "ap-south-1"
    assert (await api.get(HEALTH.format("ap-south-1"))).json()["status"] == "DOWN"
    listed = (await api.get("/api/v2/architecture/regions")).json()["entities"]
    assert "ap-south-1" in [e["id"] for e in listed]


async def test_admin_region_body_is_validated(api: httpx.AsyncClient) -> None:
    response = await api.put("/_sim/regions/us-east-1", json={"latencyMs": 5})

    assert response.status_code == 400
    assert response.json()["message"].startswith("status:")


async def test_latency_delays_the_answer_without_blocking_others(api: httpx.AsyncClient) -> None:
    await api.put("/_sim/regions/us-east-1", json={"status": "HEALTHY", "latencyMs": 200})
    finished: dict[str, float] = {}
    start = time.perf_counter()

    async def get(region: str) -> None:
        response = await api.get(HEALTH.format(region))
        assert response.status_code == 200
        finished[region] = time.perf_counter() - start

    async with anyio.create_task_group() as tg:
        tg.start_soon(get, "us-east-1")
        tg.start_soon(get, "eu-west-1")

    assert finished["us-east-1"] >= 0.2
    assert finished["eu-west-1"] < finished["us-east-1"]


async def test_concurrent_slow_health_requests_overlap(api: httpx.AsyncClient) -> None:
    await api.put("/_sim/regions/us-east-1", json={"status": "HEALTHY", "latencyMs": 100})
    start = time.perf_counter()

    async def get() -> None:
        assert (await api.get(HEALTH.format("us-east-1"))).status_code == 200

    async with anyio.create_task_group() as tg:
        for _ in range(50):
            tg.start_soon(get)

    # Served one after another this would take 5 s.
    assert time.perf_counter() - start < 2.5
