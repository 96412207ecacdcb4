"""The simulator as the official SDK (PureCloudPlatformClientV2 269.0.0) sees it.

Nobody here wrote the SDK, so it is a second opinion on the simulator's field names and
shapes: every answer must deserialize into the SDK's models with nothing lost. Each model is
compared, field by field through its ``attribute_map``, against the raw JSON of the same
answer and of a separate httpx fetch: a field the SDK does not know, one the simulator names
wrongly, or a value outside the SDK's enums (the SDK turns those into
``"outdated_sdk_version"``) fails the test.

The SDK is synchronous, so it runs in a worker thread while the simulator serves on the
test's event loop.
"""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Callable, Iterator
from datetime import datetime
from types import ModuleType
from typing import Any

import anyio
import httpx
import pytest

from watcher.sim import RunningSimulator

pytestmark = pytest.mark.anyio

TRIGGER = "/api/v2/processautomation/triggers/trigger-1"
GROUP = "/api/v2/architect/emergencygroups/emergency-group-1"
WHOLE_TIME = "2000-01-01T00:00:00Z/2100-01-01T00:00:00Z"


@pytest.fixture(scope="module")
def sdk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    """The SDK, imported with HOME in a scratch directory: its configuration singleton is
    built at import time and watches ``~/.genesyscloudpython`` (recursively up to an existing
    directory) for live config reloads; the developer's home stays out of it."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HOME", str(tmp_path_factory.mktemp("sdk-home")))
        yield importlib.import_module("PureCloudPlatformClientV2")


def _assert_value(value: Any, raw: Any, type_name: str, where: str) -> None:
    if raw is None:
        assert value is None, f"{where}: SDK has {value!r}, JSON has null"
        return
    if type_name.startswith("list["):
        inner = re.fullmatch(r"list\[(.*)\]", type_name)
        assert inner is not None
        assert isinstance(raw, list), f"{where}: JSON has {raw!r}, SDK expects a list"
        assert isinstance(value, list), f"{where}: SDK has {value!r}"
        assert len(value) == len(raw), f"{where}: SDK has {len(value)} items, JSON {len(raw)}"
        for index, (item, raw_item) in enumerate(zip(value, raw, strict=True)):
            _assert_value(item, raw_item, inner.group(1), f"{where}[{index}]")
    elif type_name == "datetime":
        assert isinstance(raw, str), f"{where}: JSON has {raw!r}, SDK expects a date-time string"
        assert raw.endswith("Z"), f"{where}: {raw!r} is not UTC with Z, as the platform writes it"
        assert value == datetime.fromisoformat(raw), f"{where}: SDK has {value!r}, JSON has {raw!r}"
    elif type_name in {"str", "int", "bool", "float", "object"}:
        assert value == raw, f"{where}: SDK has {value!r}, JSON has {raw!r}"
        if type_name != "object":
            assert type(raw).__name__ == type_name, f"{where}: JSON has a {type(raw).__name__}"
    elif type_name.startswith("dict("):
        assert value == raw, f"{where}: SDK has {value!r}, JSON has {raw!r}"
    else:
        assert_faithful(value, raw, where)


def assert_faithful(model: Any, raw: Any, where: str = "$") -> None:
    """``model`` (an SDK model) says exactly what ``raw`` (its JSON) says, nothing more or less."""
    assert isinstance(raw, dict), f"{where}: JSON has {raw!r}, SDK expects an object"
    json_names = dict(model.attribute_map.items())
    unknown = sorted(set(raw) - set(json_names.values()))
    assert not unknown, f"{where}: fields the SDK's {type(model).__name__} does not know: {unknown}"
    for attribute, json_name in json_names.items():
        value = getattr(model, attribute)
        if json_name not in raw:
            assert value is None, f"{where}.{json_name}: SDK has {value!r}, JSON has nothing"
            continue
        _assert_value(value, raw[json_name], model.swagger_types[attribute], f"{where}.{json_name}")


def _last_json(api_client: Any) -> Any:
    """The raw body of the SDK's last answer (the very bytes it deserialized)."""
    return json.loads(api_client.last_response.data)


class SdkSession:
    """The SDK pointed at the simulator, plus an httpx client for the raw JSON."""

    def __init__(self, sdk: ModuleType, base_url: str) -> None:
        sdk.Configuration().host = base_url  # login host derives from it: the same sim server
        self.sdk = sdk
        self.client = sdk.ApiClient().get_client_credentials_token("sim-client", "sim-secret")
        self.raw = httpx.Client(
            base_url=base_url, headers={"Authorization": f"Bearer {self.client.access_token}"}
        )

    def close(self) -> None:
        self.raw.close()

    def get_json(self, path: str) -> Any:
        response = self.raw.get(path)
        assert response.status_code == 200, response.text
        return response.json()


async def _in_thread(sdk: ModuleType, sim: RunningSimulator, scenario: Callable[[SdkSession], None]) -> None:
    def run() -> None:
        session = SdkSession(sdk, sim.base_url)
        try:
            scenario(session)
        finally:
            session.close()

    with anyio.fail_after(60):
        await anyio.to_thread.run_sync(run)


async def test_the_sdk_gets_a_token_and_the_server_date(sdk: ModuleType, sim: RunningSimulator) -> None:
    def scenario(s: SdkSession) -> None:
        date = s.sdk.UtilitiesApi(s.client).get_date()
        later = s.get_json("/api/v2/date")

        assert s.client.access_token
        assert_faithful(date, _last_json(s.client))
        assert set(later) == set(s.sdk.ServerDate().attribute_map.values())
        assert datetime.fromisoformat(later["currentDate"]) >= date.current_date

    await _in_thread(sdk, sim, scenario)


async def test_the_sdk_reads_and_writes_a_trigger(sdk: ModuleType, sim: RunningSimulator) -> None:
    def scenario(s: SdkSession) -> None:
        api = s.sdk.ProcessAutomationApi(s.client)
        read = api.get_processautomation_trigger("trigger-1")
        assert_faithful(read, _last_json(s.client))
        assert_faithful(read, s.get_json(TRIGGER))

        update = s.sdk.UpdateTriggerRequest()
        for attribute in update.swagger_types:
            setattr(update, attribute, getattr(read, attribute))
        update.target.id = "workflow-euw1"
        update.description = "x" * 512
        written = api.put_processautomation_trigger("trigger-1", update)

        assert_faithful(written, _last_json(s.client))
        assert_faithful(written, s.get_json(TRIGGER))
        assert (written.version, written.target.id) == (read.version + 1, "workflow-euw1")
        assert written.topic_name == read.topic_name
        assert written.match_criteria[0].operator == "Equal"

        with pytest.raises(s.sdk.rest.ApiException) as stale:
            api.put_processautomation_trigger("trigger-1", update)  # still the old version
        assert stale.value.status == 409
        assert "does not match the current version" in json.loads(stale.value.body)["message"]

    await _in_thread(sdk, sim, scenario)


async def test_the_sdk_reads_and_writes_an_emergency_group(sdk: ModuleType, sim: RunningSimulator) -> None:
    def scenario(s: SdkSession) -> None:
        api = s.sdk.ArchitectApi(s.client)
        read = api.get_architect_emergencygroup("emergency-group-1")
        assert_faithful(read, _last_json(s.client))
        assert_faithful(read, s.get_json(GROUP))
        assert read.enabled is False

        read.enabled = True
        written = api.put_architect_emergencygroup("emergency-group-1", read)

        assert_faithful(written, _last_json(s.client))
        assert_faithful(written, s.get_json(GROUP))
        assert (written.version, written.enabled, written.state) == (read.version + 1, True, "active")
        assert written.modified_by == "sim-client"
        assert written.emergency_call_flows[0].ivrs[0].id == "ivr-main"

        with pytest.raises(s.sdk.rest.ApiException) as stale:
            api.put_architect_emergencygroup("emergency-group-1", read)
        assert stale.value.status == 409

    await _in_thread(sdk, sim, scenario)


async def test_the_sdk_queries_the_realtime_audit(sdk: ModuleType, sim: RunningSimulator) -> None:
    def scenario(s: SdkSession) -> None:
        architect = s.sdk.ArchitectApi(s.client)
        group = architect.get_architect_emergencygroup("emergency-group-1")
        group.enabled = True
        architect.put_architect_emergencygroup("emergency-group-1", group)
        with pytest.raises(s.sdk.rest.ApiException):
            architect.put_architect_emergencygroup("emergency-group-1", group)  # a stale write

        query = s.sdk.AuditRealtimeQueryRequest()
        query.interval = WHOLE_TIME
        query.service_name = "Architect"
        by_entity = s.sdk.AuditQueryFilter()
        by_entity.pcProperty = "EntityId"
        by_entity.value = "emergency-group-1"
        query.filters = [by_entity]
        query.page_number, query.page_size = 1, 10
        found = s.sdk.AuditApi(s.client).post_audits_query_realtime(query)

        assert_faithful(found, _last_json(s.client))
        raw = s.raw.post("/api/v2/audits/query/realtime", json=s.client.sanitize_for_serialization(query))
        assert raw.json()["total"] == found.total
        assert [e.status for e in found.entities] == ["FAILURE", "SUCCESS"]  # newest first
        success = found.entities[1]
        assert (success.entity_type, success.action, success.client.id) == (
            "EmergencyGroup",
            "Update",
            "sim-client",
        )
        assert [(c.pcProperty, c.old_values, c.new_values) for c in success.property_changes] == [
            ("enabled", ["false"], ["true"])
        ]
        assert found.entities[0].message.message.startswith("Version 1 does not match")

    await _in_thread(sdk, sim, scenario)


async def test_the_sdk_sees_trigger_writes_in_the_audit(sdk: ModuleType, sim: RunningSimulator) -> None:
    await sim_admin_put_trigger(sim)

    def scenario(s: SdkSession) -> None:
        query = s.sdk.AuditRealtimeQueryRequest()
        query.interval = WHOLE_TIME
        query.service_name = "ProcessAutomation"
        found = s.sdk.AuditApi(s.client).post_audits_query_realtime(query)

        assert_faithful(found, _last_json(s.client))
        assert found.total == 1
        entry = found.entities[0]
        assert (entry.entity_type, entry.action, entry.user.id) == ("Trigger", "Update", "sim-admin")
        assert entry.client is None

    await _in_thread(sdk, sim, scenario)


async def sim_admin_put_trigger(sim: RunningSimulator) -> None:
    """A behind-the-back change, so the audit holds an admin entry."""
    async with httpx.AsyncClient(base_url=sim.base_url) as admin:
        current = (await admin.get("/_sim/state")).json()["triggers"][0]
        response = await admin.put("/_sim/triggers/trigger-1", json={**current, "enabled": False})
        assert response.status_code == 200, response.text
