"""The public status page (SPEC §6.3): Statuspage documents, no token, set through ``/_sim``."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx
import pytest

from watcher.sim import STATUS_SERVICES, ApiError, SimulatorState, StatusPage

pytestmark = pytest.mark.anyio

COMPONENTS = "/api/v2/components.json"
SUMMARY = "/api/v2/summary.json"
COMPONENT_FIELDS = {
    *("id", "name", "status", "group_id", "group", "position", "description"),
    *("updated_at", "only_show_if_degraded"),
}
US_EAST = "Americas (US East)"


async def _components(client: httpx.AsyncClient) -> dict[str, dict[str, Any]]:
    response = await client.get(COMPONENTS)
    assert response.status_code == 200
    return {c["name"]: c for c in response.json()["components"]}


async def _set(client: httpx.AsyncClient, key: str, **body: Any) -> httpx.Response:
    return await client.put(f"/_sim/status/components/{quote(key)}", json=body)


async def test_the_default_page_has_a_group_per_region(client: httpx.AsyncClient) -> None:
    document = (await client.get(COMPONENTS)).json()
    by_name = {c["name"]: c for c in document["components"]}

    assert set(document["page"]) >= {"id", "name", "url", "updated_at"}
    assert document["page"]["url"] == str(client.base_url).rstrip("/")
    expected_children = {
        f"{group} - {service}" for group in (US_EAST, "EMEA (Dublin)") for service in STATUS_SERVICES
    }
    assert set(by_name) == {US_EAST, "EMEA (Dublin)"} | expected_children
    for component in document["components"]:
        assert component.keys() >= COMPONENT_FIELDS
        assert component["status"] == "operational"
        assert component["updated_at"].endswith("Z")
    group = by_name[US_EAST]
    assert (group["group"], group["group_id"], group["position"]) == (True, None, 1)
    voice = by_name[f"{US_EAST} - Voice"]
    assert (voice["group"], voice["group_id"], voice["position"]) == (False, group["id"], 2)
    assert "components" not in voice
    assert group["components"] == [by_name[f"{US_EAST} - {s}"]["id"] for s in STATUS_SERVICES]
    assert by_name["EMEA (Dublin)"]["position"] == 2


async def test_a_child_set_through_admin_degrades_its_group(client: httpx.AsyncClient) -> None:
    before = await _components(client)

    response = await _set(client, f"{US_EAST} - Voice", status="major_outage")
    after = await _components(client)
    summary = (await client.get(SUMMARY)).json()

    assert response.status_code == 200
    assert response.json()["status"] == "major_outage"
    assert after[f"{US_EAST} - Voice"]["status"] == "major_outage"
    assert after[US_EAST]["status"] == "major_outage"  # the worst child's
    assert after[f"{US_EAST} - Platform API"]["status"] == "operational"
    assert after["EMEA (Dublin)"]["status"] == "operational"
    assert after[f"{US_EAST} - Voice"]["updated_at"] >= before[f"{US_EAST} - Voice"]["updated_at"]
    assert (summary["incidents"], summary["scheduled_maintenances"]) == ([], [])
    assert summary["status"] == {"indicator": "major", "description": "Major System Outage"}
    assert {c["name"]: c["status"] for c in summary["components"]} == {
        name: c["status"] for name, c in after.items()
    }


async def test_setting_a_group_sets_its_children_and_ids_work(client: httpx.AsyncClient) -> None:
    group_id = (await _components(client))[US_EAST]["id"]

    await _set(client, group_id, status="under_maintenance")
    components = await _components(client)
    summary = (await client.get(SUMMARY)).json()

    assert {components[f"{US_EAST} - {s}"]["status"] for s in STATUS_SERVICES} == {"under_maintenance"}
    assert components[US_EAST]["status"] == "under_maintenance"
    assert summary["status"]["indicator"] == "maintenance"


async def test_a_new_component_in_a_new_group_creates_both(client: httpx.AsyncClient) -> None:
    response = await _set(client, "Voice", status="partial_outage", group="Americas (US West)")
    again = await _set(client, "Voice", status="degraded_performance", group="Americas (US West)")
    components = await _components(client)

    assert response.status_code == 200
    assert again.json()["id"] == response.json()["id"]  # found by name within its group
    group = components["Americas (US West)"]
    assert (group["group"], group["components"], group["position"]) == (True, [response.json()["id"]], 3)
    assert components["Voice"]["group_id"] == group["id"]
    assert (components["Voice"]["status"], group["status"]) == ("degraded_performance",) * 2


async def test_a_top_level_component_without_a_group(client: httpx.AsyncClient) -> None:
    response = await _set(client, "Developer Center", status="degraded_performance", description="docs")

    component = (await _components(client))["Developer Center"]
    assert response.status_code == 200
    assert (component["group"], component["group_id"], component["description"]) == (False, None, "docs")
    assert (await client.get(SUMMARY)).json()["status"]["indicator"] == "minor"


async def test_bad_admin_calls_are_400_naming_the_problem(client: httpx.AsyncClient) -> None:
    await _set(client, "Voice", status="operational", group="EMEA (London)")
    await _set(client, "Voice", status="operational", group="EMEA (Frankfurt)")

    unknown_status = await _set(client, "Voice", status="on_fire")
    ambiguous = await _set(client, "Voice", status="major_outage")
    nested = await _set(client, "Deep", status="operational", group=f"{US_EAST} - Voice")
    missing_status = await _set(client, "Voice", group="EMEA (London)")

    assert unknown_status.status_code == 400
    assert unknown_status.json()["message"].startswith("status:")
    assert ambiguous.status_code == 400
    assert "give the id or the group" in ambiguous.json()["message"]
    assert nested.status_code == 400
    assert nested.json()["message"].startswith("group:")
    assert missing_status.status_code == 400
    assert missing_status.json()["message"].startswith("status:")


async def test_no_token_no_budget_but_logged_and_faultable(client: httpx.AsyncClient) -> None:
    await client.put("/_sim/ratelimit", json={"perMinute": 1})
    await client.put("/_sim/faults", json={"path": "summary\\.json$", "status": 503, "count": 1})

    statuses = [(await client.get(COMPONENTS)).status_code for _ in range(4)]
    faulted = await client.get(SUMMARY)
    recovered = await client.get(SUMMARY)
    log = (await client.get("/_sim/requests")).json()["requests"]

    assert statuses == [200] * 4
    assert "inin-ratelimit-count" not in recovered.headers
    assert (faulted.status_code, recovered.status_code) == (503, 200)
    assert [r["status"] for r in log if r["path"] == SUMMARY] == [503, 200]


def test_groups_are_one_level_deep_and_ids_move_components() -> None:
    page = StatusPage()
    child = page.set("Child", "operational", "Group")
    group = page.set("Group", "operational")
    before = len(page.components)

    with pytest.raises(ApiError, match="groups are one level deep"):
        page.set(group.id, "operational", "Other")  # a group cannot join a group
    assert len(page.components) == before  # nothing created by the refused call
    moved = page.set(child.id, "major_outage", "Other")
    same_name_elsewhere = page.set("Child", "operational", "Group")

    assert moved.group_id == page.set("Other", "major_outage").id
    assert page.children(group.id) == [same_name_elsewhere]
    assert same_name_elsewhere.id != child.id


async def test_snapshot_lists_the_page(client: httpx.AsyncClient, state: SimulatorState) -> None:
    await _set(client, f"{US_EAST} - Voice", status="partial_outage")

    snapshot = (await client.get("/_sim/state")).json()

    by_name = {c["name"]: c["status"] for c in snapshot["statusComponents"]}
    assert by_name[f"{US_EAST} - Voice"] == "partial_outage"
    assert len(snapshot["statusComponents"]) == len(state.status_page.components)
