"""Architect IVRs (SPEC §6.2.1): the whole ``IVR`` replaced with its version; a flow reference that
moves must name a flow that exists and is not deleted."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from watcher.sim import SimulatorState, flow_seed

pytestmark = pytest.mark.anyio

IVR = "/api/v2/architect/ivrs/ivr-main"


async def _read(api: httpx.AsyncClient, path: str = IVR) -> dict[str, Any]:
    response = await api.get(path)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_get_answers_the_seeded_ivr(api: httpx.AsyncClient) -> None:
    ivr = await _read(api)

    assert (ivr["id"], ivr["version"], ivr["name"]) == ("ivr-main", 1, "Main line")
    assert ivr["openHoursFlow"] == {"id": "flow-use1", "name": "Main line (us-east-1)"}
    assert ivr["dnis"] == ["+13175550100"]
    assert (await api.get("/api/v2/architect/ivrs/nope")).status_code == 404


async def test_put_moves_the_open_hours_flow_at_the_next_version(api: httpx.AsyncClient) -> None:
    ivr = await _read(api)

    response = await api.put(IVR, json={**ivr, "openHoursFlow": {"id": "flow-euw1"}})

    assert response.status_code == 200, response.text
    written = response.json()
    assert (written["version"], written["openHoursFlow"]) == (2, {"id": "flow-euw1"})
    assert (written["closedHoursFlow"], written["scheduleGroup"]) == (
        ivr["closedHoursFlow"],
        ivr["scheduleGroup"],
    )
    assert written["modifiedBy"] == "sim-client"
    assert await _read(api) == written
    stale = await api.put(IVR, json={**ivr, "openHoursFlow": {"id": "flow-use1"}})
    assert stale.status_code == 409
    assert stale.json()["message"] == "Version 1 does not match the current version 2"


async def test_a_flow_reference_must_name_a_usable_flow(
    api: httpx.AsyncClient, state: SimulatorState
) -> None:
    seeded = await api.put("/_sim/flows/flow-gone", json=flow_seed("flow-gone", "Gone", deleted=True))
    assert seeded.status_code == 200, seeded.text
    ivr = await _read(api)

    unknown = await api.put(IVR, json={**ivr, "openHoursFlow": {"id": "flow-nope"}})
    deleted = await api.put(IVR, json={**ivr, "holidayHoursFlow": {"id": "flow-gone"}})

    assert (unknown.status_code, unknown.json()["message"]) == (
        400,
        "openHoursFlow.id: flow 'flow-nope' does not exist",
    )
    assert (deleted.status_code, deleted.json()["message"]) == (
        400,
        "holidayHoursFlow.id: flow 'flow-gone' is deleted",
    )
    assert await _read(api) == ivr
    assert [e["status"] for e in state.audit.entries("ivr-main")] == ["FAILURE", "FAILURE"]


async def test_a_reference_that_does_not_move_is_not_looked_up(api: httpx.AsyncClient) -> None:
    ivr = await _read(api)
    schedule = {**ivr, "scheduleGroup": {"id": "schedule-group-2"}}  # not a flow: never looked up

    assert (await api.put(IVR, json=schedule)).status_code == 200


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"openHoursFlow": "flow-euw1"}, "openHoursFlow: must be an object, got str"),
        ({"openHoursFlow": {"name": "x"}}, "openHoursFlow.id: required"),
        ({"dnis": ["+1", "+1"]}, "dnis[1]: duplicate '+1'"),
        ({"state": "on"}, "state: must be one of active, inactive, deleted, got 'on'"),
        ({"division": {"id": 7}}, "division.id: must be a string, got int"),
    ],
)
async def test_bad_fields_are_400_naming_the_field(
    api: httpx.AsyncClient, changes: dict[str, Any], message: str
) -> None:
    ivr = await _read(api)

    response = await api.put(IVR, json={**ivr, **changes})

    assert (response.status_code, response.json()["message"]) == (400, message)


async def test_an_edit_behind_the_back_bumps_the_version(api: httpx.AsyncClient) -> None:
    ivr = await _read(api)

    edited = await api.put("/_sim/ivrs/ivr-main", json={**ivr, "openHoursFlow": {"id": "flow-anything"}})
    stale = await api.put(IVR, json=ivr)
    created = await api.put("/_sim/ivrs/ivr-2", json={"name": "Second", "dnis": []})
    typo = await api.put("/_sim/ivrs/ivr-3", json={"name": "x", "openHoursFlow": {"id": "f", "ver": 1}})

    assert (edited.json()["version"], edited.json()["openHoursFlow"]) == (2, {"id": "flow-anything"})
    assert stale.status_code == 409
    assert created.json()["version"] == 1
    assert await _read(api, "/api/v2/architect/ivrs/ivr-2") == created.json()
    assert (typo.status_code, typo.json()["message"]) == (
        400,
        "openHoursFlow.ver: not a field of DomainEntityRef",
    )
