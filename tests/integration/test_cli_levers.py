"""`site show`, `ivr show` and `data-action show` (SPEC §6.2.1) through the real command line against
the simulator: the object as the API answers it, a data action's URL without its query string."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from watcher.sim import RunningSimulator

from ._support import config_text, run_cli, sim_state

pytestmark = pytest.mark.anyio

SECRET = "hunter2-cli-secret"


@pytest.fixture
def config(sim: RunningSimulator, tmp_path: Path) -> Path:
    path = tmp_path / "levers.toml"
    path.write_text(config_text(sim.base_url, tmp_path / "state"), encoding="utf-8")
    return path


async def test_site_and_ivr_show_print_the_objects(config: Path) -> None:
    site = await run_cli("site", "show", "site-1", "--config", str(config))
    ivr = await run_cli("ivr", "show", "ivr-main", "--config", str(config))

    assert (site.code, ivr.code) == (0, 0), (site.err, ivr.err)
    shown = json.loads(site.out)
    assert (shown["mediaRegions"], shown["mediaRegionsUseLatencyBased"]) == (["us-east-1", "eu-west-1"], True)
    assert shown["location"]["name"] == "Headquarters"  # every field, not only the watcher's
    assert json.loads(ivr.out)["openHoursFlow"]["id"] == "flow-use1"


async def test_data_action_show_redacts_the_query_string(config: Path, admin: httpx.AsyncClient) -> None:
    action = next(a for a in (await sim_state(admin))["dataActions"] if a["id"] == "action-1")
    action["config"]["request"]["requestUrlTemplate"] += f"?api_key={SECRET}"
    body = {k: v for k, v in action.items() if k not in ("version", "selfUri")}
    assert (await admin.put("/_sim/dataactions/action-1", json=body)).status_code == 200

    shown = await run_cli("data-action", "show", "action-1", "--config", str(config))

    assert shown.code == 0, shown.err
    url = json.loads(shown.out)["config"]["request"]["requestUrlTemplate"]
    assert url == "https://use1.backend.example.com/customers/${input.customerId}?[redacted]"
    assert SECRET not in shown.out + shown.err


async def test_an_unknown_site_exits_1(config: Path) -> None:
    missing = await run_cli("site", "show", "site-nope", "--config", str(config))
    assert missing.code == 1
