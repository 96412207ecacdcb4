"""Process automation triggers (SPEC §6): versions, the UpdateTriggerRequest rules, admin edits."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from watcher.sim import SimulatorState

from ._support import TRIGGER_TOPIC, trigger_update

pytestmark = pytest.mark.anyio

TRIGGER = "/api/v2/processautomation/triggers/trigger-1"


async def _put(api: httpx.AsyncClient, body: dict[str, Any]) -> httpx.Response:
    return await api.put(TRIGGER, json=body)


async def test_get_answers_the_seeded_trigger(api: httpx.AsyncClient) -> None:
    response = await api.get(TRIGGER)

    assert response.status_code == 200
    body = response.json()
    assert (body["id"], body["version"], body["topicName"]) == ("trigger-1", 1, TRIGGER_TOPIC)
    assert body["target"]["id"] == "workflow-use1"
    assert body["selfUri"] == TRIGGER
    assert (await api.get("/api/v2/processautomation/triggers/nope")).status_code == 404


async def test_put_answers_the_trigger_with_the_next_version(api: httpx.AsyncClient) -> None:
    response = await _put(api, trigger_update(version=1, description="follows strategy-1"))

    assert response.status_code == 200
    body = response.json()
    assert (body["version"], body["target"]["id"]) == (2, "workflow-euw1")
    assert body["description"] == "follows strategy-1"
    assert "workflowTargetSettings" not in body["target"]  # the PUT replaced the target
    assert (await api.get(TRIGGER)).json() == body


async def test_a_stale_or_missing_version_is_refused(api: httpx.AsyncClient) -> None:
    assert (await _put(api, trigger_update(version=1))).status_code == 200

    stale = await _put(api, trigger_update(version=1))
    missing = await _put(api, trigger_update(version=None))
    future = await _put(api, trigger_update(version=7))

    assert stale.status_code == 409
    assert "does not match the current version 2" in stale.json()["message"]
    assert future.status_code == 409
    assert missing.status_code == 400
    assert missing.json()["message"].startswith("version:")
    assert (await api.get(TRIGGER)).json()["version"] == 2


async def test_the_topic_cannot_be_changed(api: httpx.AsyncClient) -> None:
    changed = await _put(api, trigger_update(topicName="v2.users.{id}.presence"))
    absent = await _put(api, trigger_update(topicName=None))

    assert changed.status_code == 400
    assert changed.json()["message"].startswith("topicName:")
    assert TRIGGER_TOPIC in changed.json()["message"]
    assert absent.status_code == 400
    assert absent.json()["message"].startswith("topicName:")
    assert (await api.get(TRIGGER)).json()["version"] == 1


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"eventTTLSeconds": 60, "delayBySeconds": 120}, "eventTTLSeconds, delayBySeconds"),
        ({"eventTTLSeconds": 9}, "eventTTLSeconds"),
        ({"eventTTLSeconds": None, "delayBySeconds": 59}, "delayBySeconds"),
        ({"eventTTLSeconds": None, "delayBySeconds": 901}, "delayBySeconds"),
        ({"description": "d" * 513}, "description"),
        ({"target": {"type": "Lambda", "id": "x"}}, "target.type"),
        ({"target": {"type": "Workflow"}}, "target.id"),
        ({"matchCriteria": [{"jsonPath": "a", "operator": "Like"}]}, "matchCriteria[0].operator"),
        (
            {"matchCriteria": [{"jsonPath": "a", "operator": "In", "value": 1, "values": [1]}]},
            "matchCriteria[0]",
        ),
        ({"enabled": "yes"}, "enabled"),
        ({"name": ""}, "name"),
    ],
)
async def test_schema_limits_are_400_naming_the_field(
    api: httpx.AsyncClient, changes: dict[str, Any], field: str
) -> None:
    response = await _put(api, trigger_update(**changes))

    assert response.status_code == 400
    assert response.json()["message"].startswith(f"{field}:")
    assert (await api.get(TRIGGER)).json()["version"] == 1


@pytest.mark.parametrize(
    "changes",
    [
        {"description": "d" * 512},
        {"eventTTLSeconds": 10},
        {"eventTTLSeconds": None, "delayBySeconds": 60},
        {"eventTTLSeconds": None, "delayBySeconds": 900},
        {"eventTTLSeconds": None},
    ],
)
async def test_values_at_the_limits_are_accepted(api: httpx.AsyncClient, changes: dict[str, Any]) -> None:
    response = await _put(api, trigger_update(**changes))

    assert response.status_code == 200, response.text
    body = response.json()
    for key, value in changes.items():
        assert body.get(key) == value


async def test_keys_the_request_model_lacks_are_ignored(api: httpx.AsyncClient) -> None:
    response = await _put(api, trigger_update(selfUri="/elsewhere", colour="blue"))

    assert response.status_code == 200
    assert "colour" not in response.json()
    assert response.json()["selfUri"] == TRIGGER


async def test_admin_change_behind_the_back_bumps_the_version(
    api: httpx.AsyncClient, state: SimulatorState
) -> None:
    current = (await api.get(TRIGGER)).json()

    admin = await api.put("/_sim/triggers/trigger-1", json={**current, "enabled": False})
    stale = await _put(api, trigger_update(version=1))

    assert admin.status_code == 200
    assert (admin.json()["version"], admin.json()["enabled"]) == (2, False)
    assert (await api.get(TRIGGER)).json() == admin.json()
    assert stale.status_code == 409
    assert [e["user"] for e in state.audit.entries("trigger-1")] == ["sim-admin", "sim-client"]


async def test_admin_seeds_a_new_trigger_and_refuses_a_bad_one(api: httpx.AsyncClient) -> None:
    body = {**trigger_update(version=None), "topicName": "v2.users.{id}.presence"}

    created = await api.put("/_sim/triggers/trigger-2", json=body)
    typo = await api.put("/_sim/triggers/trigger-3", json={**body, "eventTtlSeconds": 30})
    bad = await api.put("/_sim/triggers/trigger-3", json={**body, "delayBySeconds": 90})

    assert created.status_code == 200
    assert (created.json()["id"], created.json()["version"]) == ("trigger-2", 1)
    assert (await api.get("/api/v2/processautomation/triggers/trigger-2")).json() == created.json()
    assert typo.status_code == 400
    assert typo.json()["message"].startswith("eventTtlSeconds:")
    assert bad.status_code == 400
    assert (await api.get("/api/v2/processautomation/triggers/trigger-3")).status_code == 404


async def test_every_attempt_is_audited(api: httpx.AsyncClient, state: SimulatorState) -> None:
    await _put(api, trigger_update(version=1))
    await _put(api, trigger_update(version=1))
    await _put(api, trigger_update(version=2, topicName="other"))

    entries = state.audit.entries("trigger-1")

    assert [(e["entityType"], e["status"]) for e in entries] == [
        ("processAutomationTrigger", "SUCCESS"),
        ("processAutomationTrigger", "FAILURE"),
        ("processAutomationTrigger", "FAILURE"),
    ]
    assert entries[0]["before"]["target"]["id"] == "workflow-use1"
    assert entries[0]["after"]["target"]["id"] == "workflow-euw1"
    assert "does not match" in entries[1]["message"]
    assert entries[2]["message"].startswith("topicName:")
