"""Done when (issue 22): a status-page outage moves a telephony site's media regions, an IVR's
open-hours flow and a data action's URL to the healthy region, and back after the failback hold;
a manual edit behind the watcher's back is repaired. A real daemon process (`failover-watcher
run`) against the simulator; what the objects say is read by the official SDK
(PureCloudPlatformClientV2), as a customer's own tooling would read them.

One follower of each kind carries the virtual strategy: a rule, a trigger, an emergency group, a
site, an IVR and a data action (its URL templates carry a secret-looking query string that must
never reach the daemon's log or `/status`).
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import quote

import anyio
import httpx
import pytest

from tests.harness import clean_env, daemon_process
from tests.support import until
from watcher.sim import SimulatorState, default_seed, running_simulator

pytestmark = pytest.mark.anyio

US, EU = "us-east-1", "eu-west-1"
US_EAST = "Americas (US East)"
VOICE = f"{US_EAST} - Voice"
SECRET = "hunter2-e2e-api-key"
URLS = {
    US: f"https://use1.backend.example.com/customers/${{input.customerId}}?api_key={SECRET}",
    EU: f"https://euw1.backend.example.com/customers/${{input.customerId}}?api_key={SECRET}",
}

CONFIG = """
[genesys]
api_base_url = "{url}"
login_base_url = "{url}"
client_id = "sim-client"
client_secret_file = "{secret}"
requests_per_minute = 6000

[health]
interval_seconds = 0.5
timeout_seconds = 0.4
fall = 2
rise = 2

[statuspage]
url = "{url}/api/v2/components.json"
interval_seconds = 0.5
timeout_seconds = 0.4

[failback]
mode = "auto"
hold_seconds = 1

[executor]
reconcile_interval_seconds = 0.5

[[regions]]
id = "us-east-1"
[[regions.health]]
kind = "statuspage"
component = "Americas (US East)"

[[regions]]
id = "eu-west-1"
[[regions.health]]
kind = "statuspage"
component = "EMEA (Dublin)"

[[strategies]]
id = "contact-center"
kind = "virtual"
regions = ["us-east-1", "eu-west-1"]

[[rules]]
id = "rule-1"
strategy = "contact-center"
targets = {{ "us-east-1" = "target-use1", "eu-west-1" = "target-euw1" }}

[[triggers]]
id = "trigger-1"
strategy = "contact-center"
targets = {{ "us-east-1" = "workflow-use1", "eu-west-1" = "workflow-euw1" }}

[[emergency_groups]]
id = "emergency-group-1"
strategy = "contact-center"

[[sites]]
id = "site-1"
strategy = "contact-center"

[[ivrs]]
id = "ivr-main"
strategy = "contact-center"
open_hours_flows = {{ "us-east-1" = "flow-use1", "eu-west-1" = "flow-euw1" }}
emergency_flow = "flow-emergency"

[[data_actions]]
id = "action-1"
strategy = "contact-center"
request_url_templates = {{ "us-east-1" = "{use1}", "eu-west-1" = "{euw1}" }}

[server]
listen = "127.0.0.1:0"
admin_token = "levers-admin-token-0123456789"

[state]
dir = "{state}"
"""


@pytest.fixture(scope="module")
def sdk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    """The official SDK, with HOME in a scratch directory (it writes its config there)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HOME", str(tmp_path_factory.mktemp("sdk-home")))
        yield importlib.import_module("PureCloudPlatformClientV2")


def read_by_sdk(sdk: ModuleType, base_url: str) -> dict[str, Any]:
    """The site, the IVR and the data action as the SDK reads them (blocking: run in a thread).

    `TelephonyProvidersEdgeApi.get_telephony_providers_edges_site`, `ArchitectApi.get_architect_ivr`,
    `IntegrationsApi.get_integrations_action(include_config=True)`."""
    sdk.Configuration().host = base_url
    client = sdk.ApiClient().get_client_credentials_token("sim-client", "sim-secret")
    site = sdk.TelephonyProvidersEdgeApi(client).get_telephony_providers_edges_site("site-1")
    ivr = sdk.ArchitectApi(client).get_architect_ivr("ivr-main")
    action = sdk.IntegrationsApi(client).get_integrations_action("action-1", include_config=True)
    return {
        "mediaRegions": list(site.media_regions),
        "latencyBased": site.media_regions_use_latency_based,
        "siteVersion": site.version,
        "openHoursFlow": ivr.open_hours_flow.id,
        "dnis": list(ivr.dnis),
        "url": action.config.request.request_url_template,
        "requestType": action.config.request.request_type,
        "timeoutSeconds": action.config.timeout_seconds,
    }


def edit_by_sdk(sdk: ModuleType, base_url: str) -> None:
    """An operator's own tooling points the IVR and the data action back at US East (blocking):
    `ArchitectApi.put_architect_ivr` and `IntegrationsApi.patch_integrations_action`."""
    sdk.Configuration().host = base_url
    client = sdk.ApiClient().get_client_credentials_token("sim-client", "sim-secret")
    architect = sdk.ArchitectApi(client)
    ivr = architect.get_architect_ivr("ivr-main")
    ivr.open_hours_flow = sdk.DomainEntityRef()
    ivr.open_hours_flow.id = "flow-use1"
    architect.put_architect_ivr("ivr-main", ivr)
    integrations = sdk.IntegrationsApi(client)
    action = integrations.get_integrations_action("action-1", include_config=True)
    update = sdk.UpdateActionInput()
    update.version, update.config = action.version, action.config
    update.config.request.request_url_template = URLS[US]
    integrations.patch_integrations_action("action-1", update)


async def sdk_view(sdk: ModuleType, base_url: str) -> dict[str, Any]:
    with anyio.fail_after(60):
        return await anyio.to_thread.run_sync(read_by_sdk, sdk, base_url)


async def test_a_status_page_outage_moves_site_ivr_and_data_action_and_back(
    sdk: ModuleType, tmp_path: Path
) -> None:
    state = SimulatorState(default_seed())
    levers = state.levers
    # The seeded action points at a URL without the secret: start it on the configured one.
    levers.actions["action-1"]["config"]["request"]["requestUrlTemplate"] = URLS[US]
    async with running_simulator(state) as sim, httpx.AsyncClient(base_url=sim.base_url) as admin:
        secret_file = tmp_path / "client_secret"
        secret_file.write_text("sim-secret\n")
        config = tmp_path / "levers.toml"
        config.write_text(
            CONFIG.format(
                url=sim.base_url, secret=secret_file, state=tmp_path / "state", use1=URLS[US], euw1=URLS[EU]
            )
        )

        def site() -> dict[str, Any]:
            return levers.sites["site-1"]

        def where() -> tuple[str, bool, str, str]:
            return (
                site()["mediaRegions"][0],
                site()["mediaRegionsUseLatencyBased"],
                levers.ivrs["ivr-main"]["openHoursFlow"]["id"],
                levers.actions["action-1"]["config"]["request"]["requestUrlTemplate"],
            )

        async with daemon_process(config, env=clean_env()) as d:
            await d.view.ready()
            before = await sdk_view(sdk, sim.base_url)
            assert before["mediaRegions"] == [US, EU]
            assert (before["latencyBased"], before["openHoursFlow"], before["url"]) == (
                True,
                "flow-use1",
                URLS[US],
            )

            # One child of US East in a major outage on the status page.
            put = await admin.put(
                f"/_sim/status/components/{quote(VOICE)}", json={"status": "major_outage", "group": US_EAST}
            )
            assert put.status_code == 200, put.text
            await until(lambda: where() == (EU, False, "flow-euw1", URLS[EU]), "the levers failed over", 30)

            moved = await sdk_view(sdk, sim.base_url)
            assert moved["mediaRegions"] == [EU, US]
            assert (moved["latencyBased"], moved["openHoursFlow"], moved["url"]) == (
                False,
                "flow-euw1",
                URLS[EU],
            )
            # Everything else as read.
            for key in ("dnis", "requestType", "timeoutSeconds"):
                assert moved[key] == before[key], key

            status = await d.view.status()
            followers = status["followers"]
            print("\n/status followers after the failover:\n" + json.dumps(followers, indent=2))
            assert {f["kind"] for f in followers} == {
                "trigger",
                "emergency_group",
                "site",
                "ivr",
                "data_action",
            }
            writes = [(w["kind"], w["id"]) for w in status["strategies"][0]["lastSwitch"]["writes"]]
            print("the switch's writes: " + json.dumps(writes))
            assert {kind for kind, _ in writes} >= {
                "rule",
                "trigger",
                "emergency_group",
                "site",
                "ivr",
                "data_action",
            }
            shown = {f["kind"]: f for f in followers}
            assert shown["data_action"]["wanted"].endswith("?[redacted]")
            assert shown["site"]["wanted"] == "mediaRegions first eu-west-1 (latency-based off)"

            # Edited behind the watcher's back: media back on US East first. Repaired.
            body = {k: v for k, v in site().items() if k not in ("version", "selfUri")}
            edit = await admin.put("/_sim/sites/site-1", json={**body, "mediaRegions": [US, EU]})
            assert edit.status_code == 200, edit.text
            await until(lambda: site()["mediaRegions"] == [EU, US], "the site repaired", 15)

            async def repair_counted() -> bool:
                return (
                    await d.view.metric(
                        "failover_watcher_follower_repairs_total", kind="site", result="success"
                    )
                    >= 1
                )

            await until(repair_counted, "the repair counted", 10)

            # The IVR and the action edited by the SDK: repaired too.
            with anyio.fail_after(60):
                await anyio.to_thread.run_sync(edit_by_sdk, sdk, sim.base_url)
            await until(
                lambda: where() == (EU, False, "flow-euw1", URLS[EU]), "the IVR and action repaired", 15
            )
            assert (await sdk_view(sdk, sim.base_url))["url"] == URLS[EU]

            # US East recovers: back after the failback hold, the latency-based flag restored.
            put = await admin.put(f"/_sim/status/components/{quote(VOICE)}", json={"status": "operational"})
            assert put.status_code == 200, put.text
            await until(lambda: where() == (US, True, "flow-use1", URLS[US]), "the levers failed back", 30)
            back = await sdk_view(sdk, sim.base_url)
            assert back["mediaRegions"] == [US, EU]
            assert (back["latencyBased"], back["openHoursFlow"], back["url"]) == (True, "flow-use1", URLS[US])

            assert await d.stop() == 0
        log = "\n".join(d.raw)
        assert "site did not follow its strategy; repaired" in log
        assert SECRET not in log
        trail = (tmp_path / "state" / "audit.jsonl").read_text()
        assert '"kind": "site"' in trail or '"kind":"site"' in trail
        assert SECRET not in trail
