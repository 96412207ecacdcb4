"""Data actions (SPEC §6.2.1): read without ``config`` unless ``includeConfig=true``, patched with an
``UpdateActionInput`` carrying the version read."""

from __future__ import annotations

import copy
from typing import Any

import httpx
import pytest

from watcher.sim import SimulatorState

pytestmark = pytest.mark.anyio

ACTION = "/api/v2/integrations/actions/action-1"
USE1_URL = "https://use1.backend.example.com/customers/${input.customerId}"
EUW1_URL = "https://euw1.backend.example.com/customers/${input.customerId}?key=not-logged"


async def _read(api: httpx.AsyncClient, query: str = "?includeConfig=true") -> dict[str, Any]:
    response = await api.get(ACTION + query)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _moved(action: dict[str, Any], url: str = EUW1_URL) -> dict[str, Any]:
    config: dict[str, Any] = copy.deepcopy(action["config"])
    config["request"]["requestUrlTemplate"] = url
    return config


async def test_config_only_when_asked(api: httpx.AsyncClient) -> None:
    plain = await _read(api, "")
    false = await _read(api, "?includeConfig=false")
    configured = await _read(api, "?includeConfig=true")
    expanded = await _read(api, "?includeConfig=TRUE&expand=contract")

    assert "config" not in plain
    assert "config" not in false
    assert "contract" not in plain
    assert (plain["id"], plain["version"], plain["secure"]) == ("action-1", 1, False)
    assert configured["config"]["request"]["requestUrlTemplate"] == USE1_URL
    assert {key: value for key, value in configured.items() if key != "config"} == plain
    assert expanded["contract"]["input"]["inputSchema"]["properties"] == {"customerId": {"type": "string"}}
    assert expanded["config"] == configured["config"]
    assert (await api.get("/api/v2/integrations/actions/nope")).status_code == 404


async def test_patch_with_version_and_config_moves_the_url(api: httpx.AsyncClient) -> None:
    action = await _read(api)

    response = await api.patch(ACTION, json={"version": action["version"], "config": _moved(action)})

    assert response.status_code == 200, response.text
    written = response.json()
    assert written["version"] == 2
    assert written["config"]["request"]["requestUrlTemplate"] == EUW1_URL
    assert written["config"]["request"]["headers"] == action["config"]["request"]["headers"]
    assert (written["name"], written["category"]) == (action["name"], action["category"])
    assert await _read(api) == written
    assert "contract" in await _read(api, "?expand=contract")  # a patch without it keeps it


async def test_a_stale_or_missing_version_is_refused(api: httpx.AsyncClient, state: SimulatorState) -> None:
    action = await _read(api)
    assert (await api.patch(ACTION, json={"version": 1, "config": _moved(action)})).status_code == 200

    stale = await api.patch(ACTION, json={"version": 1, "config": _moved(action, USE1_URL)})
    missing = await api.patch(ACTION, json={"config": _moved(action, USE1_URL)})

    assert stale.status_code == 409
    assert stale.json()["message"] == "Version 1 does not match the current version 2"
    assert (missing.status_code, missing.json()["message"]) == (
        400,
        "version: required for optimistic locking",
    )
    assert (await _read(api))["config"]["request"]["requestUrlTemplate"] == EUW1_URL
    assert [e["status"] for e in state.audit.entries("action-1")] == ["SUCCESS", "FAILURE", "FAILURE"]


async def test_name_and_category_change_and_other_keys_are_ignored(api: httpx.AsyncClient) -> None:
    response = await api.patch(
        ACTION, json={"version": 1, "name": "Lookup", "category": "Backend", "secure": True, "id": "x"}
    )

    assert response.status_code == 200, response.text
    written = response.json()
    assert (written["name"], written["category"], written["secure"], written["id"]) == (
        "Lookup",
        "Backend",
        False,
        "action-1",
    )
    assert written["config"] == (await _read(api))["config"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("request", "requestType", "FETCH"), "config.request.requestType: must be one of"),
        (("request", "requestUrlTemplate", None), "config.request.requestUrlTemplate: required"),
        (("request", "headers", {"X-Try": 3}), "config.request.headers: must be an object of strings"),
        (("response", None, None), "config.response: required"),
        ((None, "timeoutSeconds", 61), "config.timeoutSeconds: must be in 1..60, got 61"),
        ((None, "timeoutSeconds", "20"), "config.timeoutSeconds: must be an integer, got str"),
    ],
)
async def test_a_bad_config_is_400_naming_the_field(
    api: httpx.AsyncClient, change: tuple[str | None, str | None, Any], message: str
) -> None:
    action = await _read(api)
    config = _moved(action)
    part, key, value = change
    if key is None:
        assert part is not None
        del config[part]
    else:
        (config[part] if part else config)[key] = value

    response = await api.patch(ACTION, json={"version": 1, "config": config})

    assert response.status_code == 400
    assert response.json()["message"].startswith(message)
    assert "not-logged" not in response.json()["message"]
    assert (await _read(api))["version"] == 1


async def test_an_edit_behind_the_back_bumps_the_version(api: httpx.AsyncClient) -> None:
    action = await _read(api, "?includeConfig=true&expand=contract")

    edited = await api.put("/_sim/dataactions/action-1", json={**action, "config": _moved(action)})
    stale = await api.patch(ACTION, json={"version": 1, "config": action["config"]})
    created = await api.put("/_sim/dataactions/action-2", json={**action, "id": "action-2", "version": 9})
    blind = await api.put("/_sim/dataactions/action-3", json={"name": "x", "integrationId": "i"})

    assert (edited.json()["version"], edited.json()["config"]["request"]["requestUrlTemplate"]) == (
        2,
        EUW1_URL,
    )
    assert stale.status_code == 409
    assert created.json()["version"] == 1
    assert (blind.status_code, blind.json()["message"]) == (400, "config: required")
