"""Seed files with triggers, emergency groups and status-page components (SPEC §6.3)."""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path

import anyio
import httpx
import pytest

from watcher.sim import SeedError, SimSeed, SimulatorState, default_seed, load_seed

from ._support import fetch_token
from .test_serve import SERVE

SEED_TOML = """
[[regions]]
id = "us-west-2"

[[regions]]
id = "moon-1"
name = "Moon Base"

[[triggers]]
id = "t1"
name = "Calls"
topicName = "v2.detail.events.conversation.{id}.customer.end"
enabled = true
delayBySeconds = 120
version = 3
target = { type = "Workflow", id = "wf-usw2" }
matchCriteria = [{ jsonPath = "mediaType", operator = "In", values = ["VOICE", "CALLBACK"] }]

[[emergencyGroups]]
id = "eg1"
name = "Failover"
enabled = false
state = "inactive"
division = { id = "d1" }
emergencyCallFlows = [{ emergencyFlow = { id = "f1" }, ivrs = [{ id = "ivr1" }] }]

[[statusComponents]]
name = "West"
status = "partial_outage"

[[statusComponents]]
name = "West API"
group = "West"
id = "westapi00001"
status = "major_outage"
"""


def test_toml_seed_loads_triggers_groups_and_components(tmp_path: Path) -> None:
    path = tmp_path / "org.toml"
    path.write_text(SEED_TOML)

    state = SimulatorState(load_seed(path))

    trigger = state.platform.trigger("t1")
    assert (trigger["version"], trigger["delayBySeconds"], trigger["selfUri"]) == (
        3,
        120,
        "/api/v2/processautomation/triggers/t1",
    )
    group = state.platform.emergency_group("eg1")
    assert (group["version"], group["state"], group["division"]) == (1, "inactive", {"id": "d1"})
    document = state.status_page.components_document("http://sim")
    by_name = {c["name"]: c for c in document["components"]}
    assert set(by_name) == {"West", "West API"}  # given components replace the default page
    assert by_name["West API"]["id"] == "westapi00001"
    assert by_name["West"]["components"] == ["westapi00001"]
    assert by_name["West"]["status"] == "major_outage"


def test_without_components_the_page_follows_the_regions() -> None:
    state = SimulatorState(
        SimSeed.model_validate({"regions": [{"id": "us-west-2"}, {"id": "x", "name": "Moon"}]})
    )

    names = [c["name"] for c in state.status_page.snapshot()]

    assert names == [
        "Americas (US West)",
        *(f"Americas (US West) - {s}" for s in ("Platform API", "Voice", "Digital Messaging")),
        "Moon",
        *(f"Moon - {s}" for s in ("Platform API", "Voice", "Digital Messaging")),
    ]
    assert SimulatorState(SimSeed(statusComponents=[])).status_page.snapshot() == []


def test_default_seed_serves_a_trigger_a_group_and_two_region_groups() -> None:
    state = SimulatorState(default_seed())

    assert state.platform.trigger("trigger-1")["target"]["id"] == "workflow-use1"
    assert state.platform.emergency_group("emergency-group-1")["enabled"] is False
    groups = [c["name"] for c in state.status_page.snapshot() if c["group"]]
    assert groups == ["Americas (US East)", "EMEA (Dublin)"]


@pytest.mark.parametrize(
    ("seed", "problem"),
    [
        ({"triggers": [{"id": "t", "name": "n"}]}, "triggers[0] (t): topicName:"),
        (
            {
                "triggers": [
                    {
                        "id": "t",
                        "name": "n",
                        "topicName": "x",
                        "enabled": True,
                        "target": {"type": "Workflow", "id": "w"},
                        "matchCriteria": [],
                        "eventTTLSeconds": 20,
                        "delayBySeconds": 60,
                    }
                ]
            },
            "triggers[0] (t): eventTTLSeconds, delayBySeconds:",
        ),
        ({"triggers": [{"id": "t", "eventTtlSeconds": 5}]}, "triggers[0] (t): eventTtlSeconds: not a field"),
        ({"emergencyGroups": [{"id": "g", "name": "n", "enabled": True, "state": "on"}]}, "(g): state:"),
        ({"emergencyGroups": [{"name": "n"}]}, "emergencyGroups[0].id: required"),
        ({"statusComponents": [{"name": "c", "status": "fine"}]}, "statusComponents.0.status"),
        ({"statusComponents": [{"name": "c", "colour": "red"}]}, "statusComponents.0.colour"),
    ],
)
def test_bad_platform_seeds_name_the_problem(tmp_path: Path, seed: dict[str, object], problem: str) -> None:
    path = tmp_path / "org.json"
    path.write_text(json.dumps(seed))

    with pytest.raises(SeedError) as caught:
        load_seed(path)

    assert problem in str(caught.value)


@pytest.mark.anyio
async def test_simulate_serves_a_seeded_trigger_and_status_page(tmp_path: Path) -> None:
    path = tmp_path / "org.toml"
    path.write_text(SEED_TOML)
    command = [sys.executable, "-c", SERVE, "simulate", "--port", "0", "--seed-file", str(path)]
    async with await anyio.open_process(command) as process:
        assert process.stdout is not None
        line = b""
        with anyio.fail_after(15):
            while not line.endswith(b"\n"):
                line += await process.stdout.receive(1)
        base_url = line.decode().split()[3]
        async with httpx.AsyncClient(base_url=base_url) as client:
            page = await client.get("/api/v2/components.json")
            token = (await fetch_token(client)).json()["access_token"]
            trigger = await client.get(
                "/api/v2/processautomation/triggers/t1", headers={"Authorization": f"Bearer {token}"}
            )
        process.send_signal(signal.SIGTERM)
        with anyio.fail_after(15):
            code = await process.wait()

    assert [c["name"] for c in page.json()["components"]] == ["West", "West API"]
    assert trigger.json()["version"] == 3
    assert code == 0
