"""Seed files with sites, IVRs, data actions and flows (SPEC §6.2.1), and the default org's."""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path

import anyio
import httpx
import pytest

from watcher.sim import SeedError, SimulatorState, default_seed, load_seed

from ._support import fetch_token
from .test_serve import SERVE

SEED_TOML = """
[[regions]]
id = "us-west-2"

[[sites]]
id = "s1"
name = "West site"
version = 4
mediaRegions = ["us-west-2", "us-east-1", "ap-southeast-2"]
mediaRegionsUseLatencyBased = false
primarySites = [{ id = "s0" }]

[[ivrs]]
id = "i1"
name = "Support line"
dnis = ["+15035550100"]
openHoursFlow = { id = "f-usw2" }

[[dataActions]]
id = "a1"
name = "Lookup"
integrationId = "int-1"
config.request = { requestUrlTemplate = "https://usw2.example.com/x", requestType = "POST" }
config.response = { successTemplate = "${rawResult}" }

[[flows]]
id = "f-usw2"
name = "Support (us-west-2)"
type = "INBOUNDCALL"
publishedVersion = { id = "2.0", name = "2.0" }
"""


def test_toml_seed_loads_the_levers(tmp_path: Path) -> None:
    path = tmp_path / "org.toml"
    path.write_text(SEED_TOML)

    levers = SimulatorState(load_seed(path)).levers

    site = levers.site("s1")
    assert (site["version"], site["mediaRegions"], site["state"]) == (
        4,
        ["us-west-2", "us-east-1", "ap-southeast-2"],
        "active",
    )
    assert site["selfUri"] == "/api/v2/telephony/providers/edges/sites/s1"
    assert levers.ivr("i1")["openHoursFlow"] == {"id": "f-usw2"}
    action = levers.action("a1", include_config=True, include_contract=True)
    assert (action["version"], action["secure"], action["config"]["request"]["requestType"]) == (
        1,
        False,
        "POST",
    )
    flow = levers.flow("f-usw2")
    assert (flow["active"], flow["deleted"], flow["publishedVersion"]["id"]) == (True, False, "2.0")


def test_the_default_org_has_a_site_an_ivr_an_action_and_their_flows() -> None:
    levers = SimulatorState(default_seed()).levers

    assert levers.site("site-1")["mediaRegions"] == ["us-east-1", "eu-west-1"]
    assert levers.ivr("ivr-main")["openHoursFlow"]["id"] == "flow-use1"
    action = levers.action("action-1", include_config=True, include_contract=False)
    assert action["config"]["request"]["requestUrlTemplate"].startswith("https://use1.")
    assert set(levers.flows) == {
        *("flow-use1", "flow-euw1", "flow-closed", "flow-emergency"),
        *("workflow-use1", "workflow-euw1"),  # the default trigger's workflows
    }


@pytest.mark.parametrize(
    ("seed", "problem"),
    [
        (
            {"sites": [{"id": "s", "name": "n", "mediaRegions": "us-east-1"}]},
            "sites[0] (s): mediaRegions: must be",
        ),
        (
            {"sites": [{"id": "s", "name": "n", "mediaregions": []}]},
            "sites[0] (s): mediaregions: not a field of Site",
        ),
        ({"sites": [{"name": "n"}]}, "sites[0].id: required"),
        ({"ivrs": [{"id": "i", "name": "n"}, {"id": "i", "name": "m"}]}, "ivrs[1].id: duplicate 'i'"),
        ({"ivrs": [{"id": "i", "name": "n", "dnis": ["+1", "+1"]}]}, "ivrs[0] (i): dnis[1]: duplicate"),
        (
            {"dataActions": [{"id": "a", "name": "n", "integrationId": "x"}]},
            "dataActions[0] (a): config: required",
        ),
        ({"flows": [{"id": "f", "name": "n", "type": "IVR"}]}, "flows[0] (f): type: must be one of"),
    ],
)
def test_bad_lever_seeds_name_the_problem(tmp_path: Path, seed: dict[str, object], problem: str) -> None:
    path = tmp_path / "org.json"
    path.write_text(json.dumps(seed))

    with pytest.raises(SeedError) as caught:
        load_seed(path)

    assert problem in str(caught.value)
    assert str(path) in str(caught.value)


@pytest.mark.anyio
async def test_simulate_serves_a_seeded_site(tmp_path: Path) -> None:
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
            token = (await fetch_token(client)).json()["access_token"]
            client.headers["Authorization"] = f"Bearer {token}"
            site = await client.get("/api/v2/telephony/providers/edges/sites/s1")
            flow = await client.get("/api/v2/flows/f-usw2")
        process.send_signal(signal.SIGTERM)
        with anyio.fail_after(15):
            code = await process.wait()

    assert (site.json()["version"], site.json()["mediaRegionsUseLatencyBased"]) == (4, False)
    assert flow.json()["publishedVersion"]["name"] == "2.0"
    assert code == 0
