"""Triggers and emergency groups (SPEC §6) through the client and the real command line, against the
simulator: versions, conflicts, local validation, the permission a 403 names, the realtime audit."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from watcher.genesys import GenesysClient, PermissionDenied
from watcher.genesys.platform import InvalidTriggerUpdate, PlatformCalls, Trigger, trigger_update_body
from watcher.sim import RunningSimulator

from ._support import add_fault, by_id, config_text, request_log, run_cli, sim_state

pytestmark = pytest.mark.anyio

TRIGGER_PATH = "/api/v2/processautomation/triggers/trigger-1"
GROUP_PATH = "/api/v2/architect/emergencygroups/emergency-group-1"
FOLLOWERS = """
[[triggers]]
id = "trigger-1"
strategy = "strategy-1"
targets = { "us-east-1" = "workflow-use1", "eu-west-1" = "workflow-euw1" }

[[emergency_groups]]
id = "emergency-group-1"
strategy = "strategy-1"
enabled_when = "failed-over"
"""


@pytest.fixture
def followers_config(sim: RunningSimulator, tmp_path: Path) -> Path:
    path = tmp_path / "followers.toml"
    path.write_text(config_text(sim.base_url, tmp_path / "state") + FOLLOWERS, encoding="utf-8")
    return path


async def _puts(admin: httpx.AsyncClient, fragment: str) -> list[int]:
    return [r["status"] for r in await request_log(admin) if r["method"] == "PUT" and fragment in r["path"]]


async def test_trigger_show_and_set_target_keep_every_other_field(
    followers_config: Path, admin: httpx.AsyncClient
) -> None:
    before = by_id((await sim_state(admin))["triggers"], "trigger-1")
    shown = await run_cli("trigger", "show", "trigger-1", "--config", str(followers_config))
    assert shown.code == 0, shown.err
    assert json.loads(shown.out)["target"]["id"] == "workflow-use1"

    argv = ["trigger", "set-target", "trigger-1", "workflow-euw1", "--config", str(followers_config)]
    first, again = await run_cli(*argv), await run_cli(*argv)

    assert (first.code, again.code) == (0, 0), (first.err, again.err)
    assert "version 1 -> 2" in first.out
    assert "nothing written" in again.out
    after = by_id((await sim_state(admin))["triggers"], "trigger-1")
    assert after["target"] == {**before["target"], "id": "workflow-euw1"}
    assert {k: v for k, v in after.items() if k not in ("target", "version")} == {
        k: v for k, v in before.items() if k not in ("target", "version")
    }
    assert await _puts(admin, "/processautomation/triggers/") == [200]


async def test_set_target_retries_a_version_conflict(
    followers_config: Path, admin: httpx.AsyncClient
) -> None:
    await add_fault(admin, path=f"^{TRIGGER_PATH}$", method="PUT", status=409, count=1)

    result = await run_cli(
        "trigger", "set-target", "trigger-1", "workflow-euw1", "--config", str(followers_config)
    )

    assert result.code == 0, result.err
    assert "(1 conflicts)" in result.out
    assert await _puts(admin, "/processautomation/triggers/") == [409, 200]


async def test_emergency_group_enable_disable_show(followers_config: Path, admin: httpx.AsyncClient) -> None:
    config = ["--config", str(followers_config)]

    enabled = await run_cli("emergency-group", "enable", "emergency-group-1", *config)
    shown = await run_cli("emergency-group", "show", "emergency-group-1", *config)
    disabled = await run_cli("emergency-group", "disable", "emergency-group-1", *config)

    assert (enabled.code, shown.code, disabled.code) == (0, 0, 0), (enabled.err, disabled.err)
    assert "version 1 -> 2" in enabled.out
    assert json.loads(shown.out)["enabled"] is True
    assert "version 2 -> 3" in disabled.out
    group = by_id((await sim_state(admin))["emergencyGroups"], "emergency-group-1")
    assert group["enabled"] is False
    assert group["emergencyCallFlows"][0]["emergencyFlow"]["id"] == "flow-emergency"


@pytest.mark.parametrize(
    ("action", "method", "permission"),
    [
        (["trigger", "show", "trigger-1"], None, "processautomation:trigger:view"),
        (["trigger", "set-target", "trigger-1", "workflow-euw1"], "PUT", "processautomation:trigger:edit"),
        (["emergency-group", "show", "emergency-group-1"], None, "architect:emergencyGroup:view"),
        (["emergency-group", "enable", "emergency-group-1"], "PUT", "architect:emergencyGroup:edit"),
    ],
)
async def test_a_403_names_the_missing_permission(
    followers_config: Path, admin: httpx.AsyncClient, action: list[str], method: str | None, permission: str
) -> None:
    fault: dict[str, Any] = {
        "path": "/processautomation/triggers/|/architect/emergencygroups/",
        "status": 403,
    }
    await add_fault(admin, **fault, **({"method": method} if method else {}))

    result = await run_cli(*action, "--config", str(followers_config))

    assert result.code == 1
    assert permission in result.err
    assert "Traceback" not in result.err


async def test_audit_reads_the_realtime_audit_of_followed_objects(
    followers_config: Path, admin: httpx.AsyncClient
) -> None:
    config = ["--config", str(followers_config)]
    assert (await run_cli("trigger", "set-target", "trigger-1", "workflow-euw1", *config)).code == 0
    assert (await run_cli("emergency-group", "enable", "emergency-group-1", *config)).code == 0

    result = await run_cli("audit", "--json", *config)

    assert result.code == 0, result.err
    realtime = json.loads(result.out)["realtime"]
    assert realtime["trigger-1"]["kind"] == "trigger"
    assert realtime["trigger-1"]["succeeded"] >= 1
    assert realtime["trigger-1"]["latest"][0]["entity"]["id"] == "trigger-1"
    assert realtime["emergency-group-1"]["kind"] == "emergency_group"
    assert realtime["emergency-group-1"]["succeeded"] == 1


async def test_audit_without_the_audit_permission_reports_it(
    followers_config: Path, admin: httpx.AsyncClient
) -> None:
    await add_fault(admin, path="^/api/v2/audits/query/realtime$", status=403)

    result = await run_cli("audit", *["--config", str(followers_config)])

    assert result.code == 0, result.err
    assert "audits:audit:view" in result.err
    assert "Realtime audit" in result.out  # the table is printed, the objects marked
    as_json = await run_cli("audit", "--json", *["--config", str(followers_config)])
    realtime = json.loads(as_json.out)["realtime"]
    assert realtime["trigger-1"]["permission"] == "audits:audit:view"
    assert realtime["emergency-group-1"]["permission"] == "audits:audit:view"


def _trigger(**fields: Any) -> Trigger:
    body: dict[str, Any] = {
        "id": "t1",
        "topicName": "v2.detail.events.conversation.{id}.customer.end",
        "target": {"type": "Workflow", "id": "w1"},
        "version": 4,
        "eventTTLSeconds": 60,
    }
    return Trigger.model_validate({**body, **fields})


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"topicName": "v2.other"}, "topicName"),
        ({"delayBySeconds": 120}, "eventTTLSeconds"),  # both given
        ({"eventTTLSeconds": 9}, "eventTTLSeconds"),
        ({"eventTTLSeconds": None, "delayBySeconds": 59}, "delayBySeconds"),
        ({"eventTTLSeconds": None, "delayBySeconds": 901}, "delayBySeconds"),
        ({"description": "x" * 513}, "description"),
    ],
)
def test_local_validation_names_the_field(fields: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidTriggerUpdate) as refused:
        trigger_update_body(_trigger(**fields), _trigger())
    assert refused.value.field == field
    assert f"trigger t1: {field}:" in str(refused.value)


def test_the_update_request_carries_the_current_version_and_keeps_unknown_fields() -> None:
    planned = _trigger(
        version=1, description="x" * 512, matchCriteria=[{"jsonPath": "a", "operator": "Exists"}]
    )
    body = trigger_update_body(planned, _trigger())
    assert body["version"] == 4
    assert body["matchCriteria"] == [{"jsonPath": "a", "operator": "Exists"}]
    assert "id" not in body  # not a field of UpdateTriggerRequest


async def test_a_locally_invalid_update_sends_no_put(client: GenesysClient, admin: httpx.AsyncClient) -> None:
    platform = PlatformCalls(client)
    current = await platform.get_trigger("trigger-1")

    with pytest.raises(InvalidTriggerUpdate, match="topicName"):
        await platform.put_trigger(current.model_copy(update={"topicName": "v2.other"}), current)
    with pytest.raises(InvalidTriggerUpdate, match="description"):
        await platform.put_trigger(current.model_copy(update={"description": "d" * 600}), current)

    assert await _puts(admin, "/processautomation/triggers/") == []


async def test_client_raises_permission_denied_with_the_scope(
    client: GenesysClient, admin: httpx.AsyncClient
) -> None:
    await add_fault(admin, path=GROUP_PATH, status=403)

    with pytest.raises(PermissionDenied) as denied:
        await PlatformCalls(client).get_emergency_group("emergency-group-1")

    assert denied.value.scope == "architect:emergencyGroup:view"
