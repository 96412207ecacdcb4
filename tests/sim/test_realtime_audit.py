"""``POST /api/v2/audits/query/realtime``: every write, by service, filtered and paged."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from watcher.sim import SimulatorState

from ._support import emergency_group_body, rule_body, strategy_body, trigger_update

pytestmark = pytest.mark.anyio

QUERY = "/api/v2/audits/query/realtime"
WHOLE_TIME = "2000-01-01T00:00:00Z/2100-01-01T00:00:00Z"


async def _query(api: httpx.AsyncClient, service: str, **extra: Any) -> dict[str, Any]:
    response = await api.post(QUERY, json={"interval": WHOLE_TIME, "serviceName": service, **extra})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _filter(prop: str, value: str) -> dict[str, str]:
    return {"property": prop, "value": value}


async def _write_everything(api: httpx.AsyncClient) -> None:
    responses = [
        await api.put("/api/v2/routing/strategies/strategy-1", json=strategy_body(version=1)),
        await api.put("/api/v2/eventbridge/routing/rules/rule-1", json=rule_body(version=1)),
        await api.put("/api/v2/processautomation/triggers/trigger-1", json=trigger_update(version=1)),
        await api.put("/api/v2/architect/emergencygroups/emergency-group-1", json=emergency_group_body()),
    ]
    assert [r.status_code for r in responses] == [200] * 4


@pytest.mark.parametrize(
    ("service", "entity_id", "entity_type"),
    [
        ("Routing", "strategy-1", "RoutingStrategy"),
        ("Integrations", "rule-1", "EventBridgeRule"),
        ("ProcessAutomation", "trigger-1", "Trigger"),
        ("Architect", "emergency-group-1", "EmergencyGroup"),
    ],
)
async def test_every_resource_write_appears_under_its_service(
    api: httpx.AsyncClient, service: str, entity_id: str, entity_type: str
) -> None:
    await _write_everything(api)

    body = await _query(api, service)

    assert body["total"] == 1
    entry = body["entities"][0]
    assert (entry["entity"]["id"], entry["entityType"], entry["serviceName"]) == (
        entity_id,
        entity_type,
        service,
    )
    assert (entry["action"], entry["status"], entry["level"]) == ("Update", "SUCCESS", "USER")
    assert entry["client"] == {"id": "sim-client"}
    assert entry["eventDate"].endswith("Z")
    assert entry["propertyChanges"]
    assert {
        "id",
        "serviceName",
        "level",
        "eventDate",
        "action",
        "entity",
        "entityType",
        "status",
    } <= entry.keys()


async def test_property_changes_name_what_moved(api: httpx.AsyncClient) -> None:
    await api.put("/api/v2/processautomation/triggers/trigger-1", json=trigger_update(version=1))

    entry = (await _query(api, "ProcessAutomation"))["entities"][0]

    changes = {c["property"]: (c["oldValues"], c["newValues"]) for c in entry["propertyChanges"]}
    assert changes["target.id"] == (["workflow-use1"], ["workflow-euw1"])
    assert changes["target.workflowTargetSettings.dataFormat"] == (["Json"], [])
    assert "version" not in changes
    assert entry["entity"]["name"] == "Customer end to the active region's workflow"


async def test_filters_narrow_and_combine(api: httpx.AsyncClient) -> None:
    trigger = "/api/v2/processautomation/triggers/trigger-1"
    await api.put(trigger, json=trigger_update(version=1))
    await api.put(trigger, json=trigger_update(version=1))  # a 409: FAILURE
    current = (await api.get(trigger)).json()
    await api.put("/_sim/triggers/trigger-1", json={**current, "enabled": False})  # by the admin
    await api.put("/_sim/triggers/trigger-9", json={**current, "id": "trigger-9"})  # a create

    def ids(body: dict[str, Any]) -> list[tuple[str, str, str]]:
        return [(e["entity"]["id"], e["action"], e["status"]) for e in body["entities"]]

    service = "ProcessAutomation"
    everything = await _query(api, service)
    by_entity = await _query(api, service, filters=[_filter("EntityId", "trigger-9")])
    by_action = await _query(api, service, filters=[_filter("Action", "create")])
    by_client = await _query(api, service, filters=[_filter("ClientId", "sim-client")])
    by_user = await _query(api, service, filters=[_filter("UserId", "sim-admin")])
    by_type = await _query(api, service, filters=[_filter("EntityType", "Trigger")])
    other_type = await _query(api, service, filters=[_filter("EntityType", "EmergencyGroup")])
    both = await _query(
        api, service, filters=[_filter("UserId", "sim-admin"), _filter("EntityId", "trigger-1")]
    )

    assert ids(everything) == [
        ("trigger-9", "Create", "SUCCESS"),
        ("trigger-1", "Update", "SUCCESS"),
        ("trigger-1", "Update", "FAILURE"),
        ("trigger-1", "Update", "SUCCESS"),
    ]
    assert ids(by_entity) == [("trigger-9", "Create", "SUCCESS")]
    assert ids(by_action) == ids(by_entity)
    assert ids(by_client) == [("trigger-1", "Update", "FAILURE"), ("trigger-1", "Update", "SUCCESS")]
    assert [e["user"] for e in by_user["entities"]] == [{"id": "sim-admin"}] * 2
    assert by_type["total"] == 4
    assert other_type["total"] == 0
    assert ids(both) == [("trigger-1", "Update", "SUCCESS")]
    assert everything["entities"][2]["message"]["message"].startswith("Version 1 does not match")


async def test_pages_count_and_sort(api: httpx.AsyncClient) -> None:
    for version in range(1, 8):  # versions 2..8
        await api.put("/api/v2/routing/strategies/strategy-1", json=strategy_body(version=version))

    pages = [await _query(api, "Routing", pageSize=3, pageNumber=n) for n in (1, 2, 3, 4)]
    oldest_first = await _query(api, "Routing", sort=[{"name": "Timestamp", "sortOrder": "ascending"}])

    assert [len(p["entities"]) for p in pages] == [3, 3, 1, 0]
    assert [(p["total"], p["pageCount"], p["pageSize"]) for p in pages] == [(7, 3, 3)] * 4
    assert [p["pageNumber"] for p in pages] == [1, 2, 3, 4]
    newest_first = [e["id"] for p in pages for e in p["entities"]]
    assert len(set(newest_first)) == 7
    assert [e["id"] for e in oldest_first["entities"]] == newest_first[::-1]
    assert oldest_first["pageSize"] == 25  # the default


async def test_the_interval_bounds_the_entries(api: httpx.AsyncClient, state: SimulatorState) -> None:
    noon = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    for hours in (0, 1, 2):
        state.audit.now = lambda hours=hours: noon + timedelta(hours=hours)
        await api.put(
            "/api/v2/architect/emergencygroups/emergency-group-1", json=emergency_group_body(1 + hours)
        )

    async def count(interval: str) -> int:
        response = await api.post(QUERY, json={"interval": interval, "serviceName": "Architect"})
        total: int = response.json()["total"]
        return total

    assert await count("2026-03-01T12:00:00Z/2026-03-01T14:00:00Z") == 2  # end excluded
    assert await count("2026-03-01T13:00:00+01:00/2026-03-01T14:00:01+01:00") == 2  # 12:00 and 13:00 UTC
    assert await count("2026-03-01T12:30:00/2026-03-01T23:00:00") == 2  # no offset: UTC
    assert await count("2026-03-02T00:00:00Z/2026-03-03T00:00:00Z") == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"serviceName": "Architect"}, "interval"),
        ({"interval": "2026-03-01T12:00:00Z", "serviceName": "Architect"}, "interval"),
        ({"interval": "yesterday/today", "serviceName": "Architect"}, "interval start"),
        ({"interval": "2026-03-02T00:00:00Z/2026-03-01T00:00:00Z", "serviceName": "Architect"}, "interval"),
        ({"interval": WHOLE_TIME}, "serviceName"),
        ({"interval": WHOLE_TIME, "serviceName": "Architect", "pageSize": 0}, "pageSize"),
        ({"interval": WHOLE_TIME, "serviceName": "Architect", "pageSize": 501}, "pageSize"),
        ({"interval": WHOLE_TIME, "serviceName": "Architect", "pageNumber": "2"}, "pageNumber"),
        (
            {"interval": WHOLE_TIME, "serviceName": "Architect", "filters": [_filter("Colour", "x")]},
            "filters[0].property",
        ),
        (
            {"interval": WHOLE_TIME, "serviceName": "Architect", "sort": [{"name": "Size"}]},
            "sort[0].name",
        ),
    ],
)
async def test_a_bad_query_is_400_naming_the_field(
    api: httpx.AsyncClient, body: dict[str, Any], field: str
) -> None:
    response = await api.post(QUERY, json=body)

    assert response.status_code == 400
    assert response.json()["message"].startswith(f"{field}:")


async def test_the_query_needs_a_token_and_counts_in_the_budget(api: httpx.AsyncClient) -> None:
    anonymous = await api.post(
        QUERY,
        json={"interval": WHOLE_TIME, "serviceName": "Architect"},
        headers={"Authorization": "Bearer nope"},
    )
    answered = await api.post(QUERY, json={"interval": WHOLE_TIME, "serviceName": "Architect"})

    assert anonymous.status_code == 401
    assert answered.headers["inin-ratelimit-count"] == "1"
