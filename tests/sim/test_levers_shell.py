"""The levers' calls go through the same shell as every API call: token, budget and its
``inin-ratelimit-*`` headers, faults (including the 400 form of a version conflict), the
request log; and each names the permission the platform asks for."""

from __future__ import annotations

import httpx
import pytest

from watcher.sim import SimulatorState
from watcher.sim._lever_api import PERMISSIONS, LeverEndpoints

pytestmark = pytest.mark.anyio

SITE = "/api/v2/telephony/providers/edges/sites/site-1"
IVR = "/api/v2/architect/ivrs/ivr-main"
ACTION = "/api/v2/integrations/actions/action-1"
FLOW = "/api/v2/flows/flow-use1"


async def test_every_call_needs_a_token_and_is_logged(
    client: httpx.AsyncClient, api: httpx.AsyncClient
) -> None:
    async with httpx.AsyncClient(base_url=str(client.base_url)) as stranger:
        anonymous = await stranger.get(SITE)
    answers = [await api.get(path) for path in (SITE, IVR, ACTION, FLOW)]
    patched = await api.patch(ACTION, json={"version": 1})

    assert anonymous.status_code == 401
    assert [a.status_code for a in answers] == [200, 200, 200, 200]
    assert patched.status_code == 200
    for answer in [*answers, patched]:
        assert int(answer.headers["inin-ratelimit-allowed"]) == 300
    counts = [int(a.headers["inin-ratelimit-count"]) for a in [*answers, patched]]
    assert counts == sorted(counts)
    logged = (await client.get("/_sim/requests")).json()["requests"]
    assert [(r["method"], r["path"], r["status"]) for r in logged if r["path"] != "/oauth/token"] == [
        ("GET", SITE, 401),
        *[("GET", path, 200) for path in (SITE, IVR, ACTION, FLOW)],
        ("PATCH", ACTION, 200),
    ]


async def test_the_budget_applies(api: httpx.AsyncClient) -> None:
    await api.put("/_sim/ratelimit", json={"perMinute": 2})

    answers = [await api.get(FLOW) for _ in range(3)]

    assert [a.status_code for a in answers] == [200, 200, 429]
    assert answers[2].headers["Retry-After"]


async def test_faults_apply_including_the_400_form_of_a_conflict(
    api: httpx.AsyncClient, state: SimulatorState
) -> None:
    conflict = "Version 1 does not match the current version 2"
    await api.put(
        "/_sim/faults", json={"path": "/sites/", "method": "PUT", "status": 400, "message": conflict}
    )
    await api.put("/_sim/faults", json={"path": "/ivrs/", "status": 503, "count": 1})
    site = (await api.get(SITE)).json()

    refused = await api.put(SITE, json=site)
    unavailable = await api.get(IVR)
    recovered = await api.get(IVR)

    assert (refused.status_code, refused.json()["message"]) == (400, conflict)
    assert state.levers.sites["site-1"]["version"] == 1  # the fault answered, the site is untouched
    assert (unavailable.status_code, recovered.status_code) == (503, 200)


def test_every_lever_call_names_its_permission() -> None:
    routes = LeverEndpoints(SimulatorState()).routes()

    declared = {
        (method, route.path)  # type: ignore[attr-defined]
        for route in routes
        for method in route.methods - {"HEAD"}  # type: ignore[attr-defined]
        if not route.path.startswith("/_sim")  # type: ignore[attr-defined]
    }

    assert declared == set(PERMISSIONS)
    assert PERMISSIONS[("PATCH", "/api/v2/integrations/actions/{entity_id}")] == "integrations:action:edit"
    assert (
        PERMISSIONS[("PUT", "/api/v2/telephony/providers/edges/sites/{entity_id}")] == "telephony:plugin:all"
    )


async def test_the_admin_snapshot_holds_the_levers(client: httpx.AsyncClient) -> None:
    await client.put("/_sim/sites/site-2", json={"name": "Second", "mediaRegions": ["us-west-2"]})

    state = (await client.get("/_sim/state")).json()

    assert [site["id"] for site in state["sites"]] == ["site-1", "site-2"]
    assert [ivr["id"] for ivr in state["ivrs"]] == ["ivr-main"]
    assert state["dataActions"][0]["config"]["request"]["requestUrlTemplate"].startswith("https://use1.")
    assert [flow["id"] for flow in state["flows"]] == [
        "flow-use1",
        "flow-euw1",
        "flow-closed",
        "flow-emergency",
        "workflow-use1",
        "workflow-euw1",
    ]
    assert state["audit"][-1]["entityType"] == "telephonySite"
