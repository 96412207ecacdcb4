"""Routing strategies: versions, optimistic locking, schema limits, audit."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from watcher.sim import SimulatorState

from ._support import strategy_body

pytestmark = pytest.mark.anyio

URL = "/api/v2/routing/strategies/strategy-1"


async def test_get_returns_body_with_integer_version(api: httpx.AsyncClient) -> None:
    body = (await api.get(URL)).json()

    assert body["id"] == "strategy-1"
    assert body["version"] == 1
    assert body["routingConfig"]["regions"][0]["regionId"] == "us-east-1"


async def test_put_replaces_the_whole_strategy_and_bumps_version(api: httpx.AsyncClient) -> None:
    response = await api.put(URL, json=strategy_body(version=1, name="Failed over"))

    assert response.status_code == 200
    assert response.json()["version"] == 2
    stored = (await api.get(URL)).json()
    assert stored["name"] == "Failed over"
    assert stored["routingConfig"]["regions"][0] == {
        "regionId": "eu-west-1",
        "priority": 1,
        "weight": 100,
        "failoverTrigger": "health_degraded",
    }


async def test_put_without_version_is_accepted(api: httpx.AsyncClient) -> None:
    response = await api.put(URL, json=strategy_body())

    assert response.status_code == 200
    assert response.json()["version"] == 2


async def test_stale_version_is_409_with_the_platform_message(api: httpx.AsyncClient) -> None:
    await api.put("/_sim/strategies/strategy-1", json=strategy_body())  # version 2 behind our back
    await api.put("/_sim/strategies/strategy-1", json=strategy_body())  # version 3

    response = await api.put(URL, json=strategy_body(version=2))

    assert response.status_code == 409
    assert response.json() == {
        "message": "Version 2 does not match the current version 3",
        "code": "conflict",
        "status": 409,
    }
    assert (await api.get(URL)).json()["version"] == 3


def _with_regions(*regions: dict[str, Any], **config: Any) -> dict[str, Any]:
    return strategy_body(routingConfig={"evaluationTimeoutMs": 5000, **config, "regions": list(regions)})


def _region(region_id: str = "us-east-1", priority: Any = 1, weight: Any = 100) -> dict[str, Any]:
    return {"regionId": region_id, "priority": priority, "weight": weight}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (_with_regions(), "routingConfig.regions:"),
        (_with_regions(_region("mars-1")), "routingConfig.regions[0].regionId: unknown region 'mars-1'"),
        (
            _with_regions(_region(priority=1), _region("eu-west-1", priority=1)),
            "routingConfig.regions[1].priority: duplicate priority 1",
        ),
        (_with_regions(_region(priority=0)), "routingConfig.regions[0].priority:"),
        (_with_regions(_region(priority=1.5)), "routingConfig.regions[0].priority:"),
        (_with_regions(_region(weight=101)), "routingConfig.regions[0].weight:"),
        (_with_regions(_region(weight=-1)), "routingConfig.regions[0].weight:"),
        (_with_regions(_region(), evaluationTimeoutMs=30001), "routingConfig.evaluationTimeoutMs:"),
        (_with_regions(_region(), evaluationTimeoutMs=0), "routingConfig.evaluationTimeoutMs:"),
        (strategy_body(routingConfig=None), "routingConfig:"),
        (strategy_body(version="1"), "version:"),
        (strategy_body(id="strategy-2"), "id:"),
    ],
)
async def test_schema_violations_are_400_naming_the_field(
    api: httpx.AsyncClient, body: dict[str, Any], field: str
) -> None:
    response = await api.put(URL, json=body)

    assert response.status_code == 400
    assert response.json()["code"] == "bad.request"
    assert response.json()["message"].startswith(field)
    assert (await api.get(URL)).json()["version"] == 1


async def test_limits_at_the_edge_are_accepted(api: httpx.AsyncClient) -> None:
    body = _with_regions(
        _region(priority=7, weight=0), _region("eu-west-1", priority=3, weight=100), evaluationTimeoutMs=30000
    )

    assert (await api.put(URL, json=body)).status_code == 200


async def test_invalid_json_is_400(api: httpx.AsyncClient) -> None:
    response = await api.put(URL, content=b"{not json", headers={"Content-Type": "application/json"})

    assert response.status_code == 400
    assert response.json()["message"] == "body: invalid JSON"


async def test_unknown_strategy_is_404_on_get_and_put(api: httpx.AsyncClient) -> None:
    missing = "/api/v2/routing/strategies/strategy-9"

    assert (await api.get(missing)).status_code == 404
    assert (await api.put(missing, json=strategy_body(id="strategy-9"))).status_code == 404


async def test_every_put_is_audited_with_outcome(api: httpx.AsyncClient, state: SimulatorState) -> None:
    await api.put(URL, json=strategy_body(version=1))
    await api.put(URL, json=strategy_body(version=1))
    await api.put(URL, json=_with_regions())

    entries = state.audit.entries("strategy-1")
    assert [e["status"] for e in entries] == ["SUCCESS", "FAILURE", "FAILURE"]
    success, conflict, invalid = entries
    assert success["user"] == "sim-client"
    assert success["entityType"] == "routingStrategy"
    assert success["before"]["version"] == 1
    assert success["after"]["version"] == 2
    assert success["version"] == 2
    assert success["timestamp"].endswith("Z")
    assert conflict["message"] == "Version 1 does not match the current version 2"
    assert invalid["message"].startswith("routingConfig.regions")


async def test_admin_change_behind_the_back_bumps_version_as_sim_admin(
    api: httpx.AsyncClient, state: SimulatorState
) -> None:
    response = await api.put("/_sim/strategies/strategy-1", json=strategy_body(version=99))
    created = await api.put("/_sim/strategies/strategy-2", json=strategy_body(id="strategy-2"))

    assert response.json()["version"] == 2
    assert created.json()["version"] == 1
    assert (await api.get("/api/v2/routing/strategies/strategy-2")).status_code == 200
    assert state.audit.entries("strategy-1")[-1]["user"] == "sim-admin"
    bad = await api.put("/_sim/strategies/strategy-1", json=_with_regions())
    assert bad.status_code == 400
