"""Architect emergency groups (SPEC §6): whole-group PUT with its version, states, admin edits."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from watcher.sim import SimulatorState

from ._support import emergency_group_body

pytestmark = pytest.mark.anyio

GROUP = "/api/v2/architect/emergencygroups/emergency-group-1"


async def test_get_answers_the_seeded_group(api: httpx.AsyncClient) -> None:
    response = await api.get(GROUP)

    assert response.status_code == 200
    body = response.json()
    assert (body["version"], body["state"], body["enabled"]) == (1, "active", False)
    assert body["emergencyCallFlows"][0]["emergencyFlow"]["id"] == "flow-emergency"
    assert body["selfUri"] == GROUP
    assert (await api.get("/api/v2/architect/emergencygroups/nope")).status_code == 404


async def test_put_replaces_the_group_and_moves_the_version(api: httpx.AsyncClient) -> None:
    response = await api.put(GROUP, json=emergency_group_body(version=1))

    assert response.status_code == 200
    body = response.json()
    assert (body["version"], body["enabled"]) == (2, True)
    assert body["modifiedBy"] == "sim-client"
    assert body["dateModified"].endswith("Z")
    assert (await api.get(GROUP)).json() == body


async def test_unknown_fields_are_kept_and_server_fields_are_the_servers(api: httpx.AsyncClient) -> None:
    body = emergency_group_body(
        version=1,
        division={"id": "division-1", "name": "Home"},
        customField=[1, 2],
        modifiedBy="someone-else",
        selfUri="/elsewhere",
    )

    stored = (await api.put(GROUP, json=body)).json()

    assert stored["division"] == {"id": "division-1", "name": "Home"}
    assert stored["customField"] == [1, 2]
    assert stored["modifiedBy"] == "sim-client"
    assert stored["selfUri"] == GROUP


async def test_a_stale_or_missing_version_is_refused(api: httpx.AsyncClient) -> None:
    assert (await api.put(GROUP, json=emergency_group_body(version=1))).status_code == 200

    stale = await api.put(GROUP, json=emergency_group_body(version=1, enabled=False))
    missing = await api.put(GROUP, json=emergency_group_body(version=None))

    assert stale.status_code == 409
    assert "does not match the current version 2" in stale.json()["message"]
    assert missing.status_code == 400
    assert missing.json()["message"].startswith("version:")
    assert (await api.get(GROUP)).json()["enabled"] is True


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"state": "paused"}, "state"),
        ({"name": None}, "name"),
        ({"enabled": "true"}, "enabled"),
        ({"id": "emergency-group-2"}, "id"),
        (
            {"emergencyCallFlows": [{"emergencyFlow": {}, "ivrs": []}]},
            "emergencyCallFlows[0].emergencyFlow.id",
        ),
        (
            {"emergencyCallFlows": [{"emergencyFlow": {"id": "f"}, "ivrs": [{}]}]},
            "emergencyCallFlows[0].ivrs[0].id",
        ),
    ],
)
async def test_bad_bodies_are_400_naming_the_field(
    api: httpx.AsyncClient, changes: dict[str, Any], field: str
) -> None:
    response = await api.put(GROUP, json=emergency_group_body(**changes))

    assert response.status_code == 400
    assert response.json()["message"].startswith(f"{field}:")


@pytest.mark.parametrize("state_name", ["active", "inactive", "deleted"])
async def test_each_state_is_accepted(api: httpx.AsyncClient, state_name: str) -> None:
    response = await api.put(GROUP, json=emergency_group_body(state=state_name))

    assert response.status_code == 200
    assert response.json()["state"] == state_name


async def test_admin_change_behind_the_back_bumps_the_version(
    api: httpx.AsyncClient, state: SimulatorState
) -> None:
    admin = await api.put("/_sim/emergencygroups/emergency-group-1", json=emergency_group_body(version=None))
    stale = await api.put(GROUP, json=emergency_group_body(version=1, enabled=False))
    created = await api.put("/_sim/emergencygroups/eg-2", json=emergency_group_body(id="eg-2", extra="kept"))

    assert admin.status_code == 200
    assert (admin.json()["version"], admin.json()["modifiedBy"]) == (2, "sim-admin")
    assert stale.status_code == 409
    assert (created.json()["version"], created.json()["extra"], created.json()["createdBy"]) == (
        1,
        "kept",
        "sim-admin",
    )
    assert (await api.get("/api/v2/architect/emergencygroups/eg-2")).json() == created.json()
    assert (await api.put("/_sim/emergencygroups/eg-3", json={"name": "x"})).status_code == 400
    assert [e["status"] for e in state.audit.entries("emergency-group-1")] == ["SUCCESS", "FAILURE"]
