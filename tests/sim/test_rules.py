"""EventBridge routing rules and targets: required versions, limits, target existence."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from watcher.sim import SimulatorState

from ._support import rule_body

pytestmark = pytest.mark.anyio

URL = "/api/v2/eventbridge/routing/rules/rule-1"


def _conditions(count: int, value: str = "x") -> list[dict[str, Any]]:
    return [{"field": "eventType", "operator": "equals", "value": value} for _ in range(count)]


def _conditions_totalling(characters: int) -> list[dict[str, Any]]:
    """15 conditions whose text (sum of len(json.dumps(c))) is exactly ``characters``."""
    conditions = _conditions(15)
    missing = characters - sum(len(json.dumps(c)) for c in conditions)
    conditions[-1] = {**conditions[-1], "value": "x" * (1 + missing)}
    assert sum(len(json.dumps(c)) for c in conditions) == characters
    return conditions


async def test_get_rule_has_version(api: httpx.AsyncClient) -> None:
    body = (await api.get(URL)).json()

    assert body["version"] == 1
    assert body["targets"] == [{"id": "target-use1"}]


async def test_put_with_current_version_retargets_and_bumps(
    api: httpx.AsyncClient, state: SimulatorState
) -> None:
    response = await api.put(URL, json=rule_body(version=1))

    assert response.status_code == 200
    assert response.json()["version"] == 2
    assert (await api.get(URL)).json()["targets"] == [{"id": "target-euw1"}]
    entry = state.audit.entries("rule-1")[-1]
    assert (entry["entityType"], entry["status"], entry["version"]) == ("routingRule", "SUCCESS", 2)


async def test_version_is_required(api: httpx.AsyncClient) -> None:
    response = await api.put(URL, json=rule_body(version=None))

    assert response.status_code == 400
    assert response.json()["message"].startswith("version:")


async def test_stale_version_is_409(api: httpx.AsyncClient, state: SimulatorState) -> None:
    await api.put("/_sim/rules/rule-1", json=rule_body())  # someone else: version 2

    response = await api.put(URL, json=rule_body(version=1))

    assert response.status_code == 409
    assert response.json()["message"] == "Version 1 does not match the current version 2"
    assert state.audit.entries("rule-1")[-1]["status"] == "FAILURE"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"conditions": _conditions(16)}, "conditions: 16 conditions, at most 15 allowed"),
        ({"conditions": _conditions_totalling(1001)}, "conditions: 1001 characters"),
        ({"priority": 0}, "priority:"),
        ({"priority": 1001}, "priority:"),
        ({"priority": None}, "priority:"),
        ({"targets": [{"type": "webhook"}]}, "targets[0].id: required"),
        (
            {"targets": [{"id": "target-euw1"}, {"id": "target-gone"}]},
            "targets[1].id: target 'target-gone' does not exist",
        ),
    ],
)
async def test_limits_are_400_naming_the_field(
    api: httpx.AsyncClient, changes: dict[str, Any], message: str
) -> None:
    response = await api.put(URL, json=rule_body(**changes))

    assert response.status_code == 400
    assert response.json()["message"].startswith(message)
    assert (await api.get(URL)).json()["version"] == 1


async def test_limits_at_the_edge_are_accepted(api: httpx.AsyncClient) -> None:
    conditions = _conditions_totalling(1000)

    response = await api.put(URL, json=rule_body(conditions=conditions, priority=1000))

    assert response.status_code == 200


async def test_unknown_rule_is_404(api: httpx.AsyncClient) -> None:
    missing = "/api/v2/eventbridge/routing/rules/rule-9"

    assert (await api.get(missing)).status_code == 404
    assert (await api.put(missing, json=rule_body())).status_code == 404


async def test_target_get_and_404(api: httpx.AsyncClient) -> None:
    found = await api.get("/api/v2/eventbridge/targets/target-euw1")
    missing = await api.get("/api/v2/eventbridge/targets/target-gone")

    assert found.json()["id"] == "target-euw1"
    assert missing.status_code == 404
    assert "target-gone" in missing.json()["message"]


async def test_admin_targets_come_and_go(api: httpx.AsyncClient) -> None:
    created = await api.put("/_sim/targets/target-new", json={"type": "webhook", "url": "https://x"})
    assert created.json() == {"id": "target-new", "type": "webhook", "url": "https://x"}
    assert (await api.put(URL, json=rule_body(targets=[{"id": "target-new"}]))).status_code == 200

    assert (await api.delete("/_sim/targets/target-euw1")).status_code == 204
    response = await api.put(URL, json=rule_body(version=2))

    assert response.status_code == 400
    assert "target-euw1" in response.json()["message"]


async def test_admin_rule_change_is_checked_and_audited(
    api: httpx.AsyncClient, state: SimulatorState
) -> None:
    bad = await api.put("/_sim/rules/rule-1", json=rule_body(priority=5000))
    good = await api.put("/_sim/rules/rule-1", json=rule_body(version=None))

    assert bad.status_code == 400
    assert good.json()["version"] == 2
    assert state.audit.entries("rule-1")[-1]["user"] == "sim-admin"
