"""Telephony sites (SPEC §6.2.1): the whole ``Site`` replaced with its version, field types as the
SDK's model has them, edits behind the watcher's back, every attempt audited."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from watcher.sim import SimulatorState

pytestmark = pytest.mark.anyio

SITE = "/api/v2/telephony/providers/edges/sites/site-1"


async def _read(api: httpx.AsyncClient, path: str = SITE) -> dict[str, Any]:
    response = await api.get(path)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_get_answers_the_seeded_site(api: httpx.AsyncClient) -> None:
    site = await _read(api)

    assert (site["id"], site["version"], site["state"]) == ("site-1", 1, "active")
    assert site["mediaRegions"] == ["us-east-1", "eu-west-1"]
    assert site["mediaRegionsUseLatencyBased"] is True
    assert site["selfUri"] == SITE
    missing = await api.get("/api/v2/telephony/providers/edges/sites/nope")
    assert missing.status_code == 404
    assert "nope" in missing.json()["message"]


async def test_put_replaces_the_site_at_the_next_version(api: httpx.AsyncClient) -> None:
    site = await _read(api)
    sent = {**site, "mediaRegions": ["eu-west-1", "us-east-1"], "mediaRegionsUseLatencyBased": False}
    del sent["callerName"]

    response = await api.put(SITE, json=sent)

    assert response.status_code == 200, response.text
    written = response.json()
    assert (written["version"], written["mediaRegions"]) == (2, ["eu-west-1", "us-east-1"])
    assert written["mediaRegionsUseLatencyBased"] is False
    assert "callerName" not in written  # a PUT replaces the whole object
    assert (written["location"], written["callerId"]) == (site["location"], site["callerId"])
    assert (written["modifiedBy"], written["createdBy"]) == ("sim-client", "sim-admin")
    assert written["dateCreated"] == site["dateCreated"]
    assert await _read(api) == written


async def test_a_stale_or_missing_version_is_refused(api: httpx.AsyncClient) -> None:
    site = await _read(api)
    assert (await api.put(SITE, json=site)).status_code == 200

    stale = await api.put(SITE, json={**site, "mediaRegions": ["eu-west-1"]})
    missing = await api.put(SITE, json={key: value for key, value in site.items() if key != "version"})
    text = await api.put(SITE, json={**site, "version": "2"})

    assert stale.status_code == 409
    assert stale.json()["message"] == "Version 1 does not match the current version 2"
    assert stale.json()["code"] == "conflict"
    assert (missing.status_code, missing.json()["message"]) == (
        400,
        "version: required for optimistic locking",
    )
    assert (text.status_code, text.json()["message"]) == (400, "version: must be an integer, got str")
    assert (await _read(api))["mediaRegions"] == ["us-east-1", "eu-west-1"]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"mediaRegions": "us-east-1"}, "mediaRegions: must be a list, got str"),
        ({"mediaRegions": ["us-east-1", 2]}, "mediaRegions[1]: must be a string, got int"),
        ({"mediaRegions": ["eu-west-1", "eu-west-1"]}, "mediaRegions[1]: duplicate 'eu-west-1'"),
        ({"mediaRegions": [""]}, "mediaRegions[0]: must not be empty"),
        ({"mediaRegionsUseLatencyBased": "false"}, "mediaRegionsUseLatencyBased: must be a boolean, got str"),
        ({"state": "paused"}, "state: must be one of active, inactive, deleted, got 'paused'"),
        ({"mediaModel": "Hybrid"}, "mediaModel: must be one of Premises, Cloud, got 'Hybrid'"),
        ({"primarySites": [{"name": "x"}]}, "primarySites[0].id: required"),
        ({"location": "HQ"}, "location: must be an object, got str"),
        ({"name": ""}, "name: required"),
        ({"id": "site-2"}, "id: 'site-2' does not match the site id 'site-1' in the path"),
    ],
)
async def test_bad_fields_are_400_naming_the_field(
    api: httpx.AsyncClient, state: SimulatorState, changes: dict[str, Any], message: str
) -> None:
    site = await _read(api)

    response = await api.put(SITE, json={**site, **changes})

    assert (response.status_code, response.json()["message"]) == (400, message)
    assert await _read(api) == site
    assert [entry["status"] for entry in state.audit.entries("site-1")] == ["FAILURE"]


async def test_fields_the_model_does_not_have_are_dropped(api: httpx.AsyncClient) -> None:
    site = await _read(api)

    response = await api.put(SITE, json={**site, "mediaRegionz": ["eu-west-1"], "edges": None})

    assert response.status_code == 200, response.text
    assert "mediaRegionz" not in response.json()
    assert "edges" not in response.json()  # null is no value


async def test_an_edit_behind_the_back_bumps_the_version(
    api: httpx.AsyncClient, state: SimulatorState
) -> None:
    site = await _read(api)

    edited = await api.put("/_sim/sites/site-1", json={**site, "mediaRegions": ["eu-west-1", "us-east-1"]})
    stale = await api.put(SITE, json=site)
    created = await api.put("/_sim/sites/site-2", json={"name": "Second", "mediaRegions": ["us-west-2"]})
    typo = await api.put("/_sim/sites/site-3", json={"name": "Third", "mediaRegion": ["us-west-2"]})

    assert edited.status_code == 200, edited.text
    assert (edited.json()["version"], edited.json()["modifiedBy"]) == (2, "sim-admin")
    assert stale.status_code == 409
    assert (created.json()["version"], created.json()["state"]) == (1, "active")
    assert await _read(api, "/api/v2/telephony/providers/edges/sites/site-2") == created.json()
    assert (typo.status_code, typo.json()["message"]) == (400, "mediaRegion: not a field of Site")
    assert [(e["action"], e["status"], e["user"]) for e in state.audit.entries("site-1")] == [
        ("update", "SUCCESS", "sim-admin"),
        ("update", "FAILURE", "sim-client"),
    ]


async def test_the_realtime_audit_names_what_changed(api: httpx.AsyncClient) -> None:
    site = await _read(api)
    await api.put(SITE, json={**site, "mediaRegions": ["eu-west-1", "us-east-1"]})

    found = await api.post(
        "/api/v2/audits/query/realtime",
        json={"interval": "2000-01-01T00:00:00Z/2100-01-01T00:00:00Z", "serviceName": "Telephony"},
    )

    [entry] = found.json()["entities"]
    assert (entry["entityType"], entry["action"], entry["client"]["id"]) == ("Site", "Update", "sim-client")
    assert entry["entity"] == {"id": "site-1", "name": "Contact center"}
    changed = {change["property"]: change for change in entry["propertyChanges"]}
    assert changed["mediaRegions"]["newValues"] == ['["eu-west-1","us-east-1"]']
