"""Flows (SPEC §6.2.1, §8 readiness): seeded through ``/_sim/flows``, read with ``GET
/api/v2/flows/{id}``; an unknown flow is 404, a deleted or unpublished one says so."""

from __future__ import annotations

import httpx
import pytest

from watcher.sim import SimulatorState, flow_seed

pytestmark = pytest.mark.anyio


async def test_a_seeded_flow_is_published_and_not_deleted(api: httpx.AsyncClient) -> None:
    response = await api.get("/api/v2/flows/flow-euw1")

    assert response.status_code == 200, response.text
    flow = response.json()
    assert (flow["id"], flow["type"], flow["deleted"], flow["active"]) == (
        "flow-euw1",
        "INBOUNDCALL",
        False,
        True,
    )
    assert flow["publishedVersion"]["id"] == "1.0"
    assert flow["selfUri"] == "/api/v2/flows/flow-euw1"


async def test_an_unknown_flow_is_404(api: httpx.AsyncClient) -> None:
    response = await api.get("/api/v2/flows/flow-nope")

    assert response.status_code == 404
    assert response.json()["message"] == "flow 'flow-nope' not found"


async def test_seeding_a_deleted_and_an_unpublished_flow(
    api: httpx.AsyncClient, state: SimulatorState
) -> None:
    deleted = await api.put("/_sim/flows/flow-old", json=flow_seed("flow-old", "Old", deleted=True))
    draft = await api.put("/_sim/flows/flow-draft", json={"name": "Draft", "type": "INBOUNDCALL"})
    again = await api.put("/_sim/flows/flow-draft", json={"name": "Draft 2", "type": "INBOUNDCALL"})

    assert deleted.json()["deleted"] is True
    assert (await api.get("/api/v2/flows/flow-old")).json() == deleted.json()
    read = (await api.get("/api/v2/flows/flow-draft")).json()
    assert read == again.json()
    assert (draft.status_code, read["name"], read["active"], read["deleted"]) == (
        200,
        "Draft 2",
        False,
        False,
    )
    assert "publishedVersion" not in read
    assert [e["action"] for e in state.audit.entries("flow-draft")] == ["create", "update"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"name": "x", "type": "PHONECALL"}, "type: must be one of BOT, "),
        ({"name": "x"}, "type: required"),
        ({"name": "x", "type": "INBOUNDCALL", "published": True}, "published: not a field of Flow"),
        (
            {"name": "x", "type": "INBOUNDCALL", "publishedVersion": {"name": "1"}},
            "publishedVersion.id: required",
        ),
        (
            {"name": "x", "type": "INBOUNDCALL", "publishedVersion": {"id": "1", "datePublished": "today"}},
            "publishedVersion.datePublished: must be an ISO-8601",
        ),
    ],
)
async def test_a_bad_flow_is_400_naming_the_field(
    api: httpx.AsyncClient, body: dict[str, object], message: str
) -> None:
    response = await api.put("/_sim/flows/f", json=body)

    assert response.status_code == 400
    assert response.json()["message"].startswith(message)
