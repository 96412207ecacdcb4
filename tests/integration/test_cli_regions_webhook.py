"""`regions` and `register-webhook` against the simulator, through the real command line."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from watcher.sim import RunningSimulator

from ._support import add_fault, request_log, run_cli, sim_state

pytestmark = pytest.mark.anyio


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """rich wraps tables to 80 columns off a terminal; give the verdict room to stay on one line."""
    monkeypatch.setenv("COLUMNS", "200")


async def _degrade(admin: httpx.AsyncClient, region: str) -> None:
    response = await admin.put(f"/_sim/regions/{region}", json={"status": "DEGRADED", "latencyMs": 12.5})
    assert response.status_code == 200, response.text


async def test_regions_json_with_one_region_degraded(config_path: Path, admin: httpx.AsyncClient) -> None:
    await _degrade(admin, "eu-west-1")

    result = await run_cli("regions", "--config", str(config_path), "--json")

    # Not every region is healthy: the command says so in its exit code, like a check would.
    assert result.code == 1, result.err
    rows = {row["id"]: row for row in json.loads(result.out)["regions"]}  # stdout is pure JSON
    assert list(rows) == ["us-east-1", "eu-west-1"]
    assert rows["us-east-1"]["healthy"] is True
    assert rows["us-east-1"]["status"] == "HEALTHY"
    assert rows["us-east-1"]["name"] == "US East"
    assert rows["eu-west-1"]["healthy"] is False
    assert rows["eu-west-1"]["status"] == "DEGRADED"
    assert rows["eu-west-1"]["latencyMs"] == 12.5
    assert rows["eu-west-1"]["reason"] == "status=DEGRADED"


async def test_regions_table_with_one_region_degraded(config_path: Path, admin: httpx.AsyncClient) -> None:
    await _degrade(admin, "eu-west-1")

    result = await run_cli("regions", "--config", str(config_path))

    assert result.code == 1, result.err
    lines = result.out.splitlines()
    us = next(line for line in lines if "us-east-1" in line)
    eu = next(line for line in lines if "eu-west-1" in line)
    assert "HEALTHY" in us
    assert "unhealthy" not in us
    assert "healthy" in us
    assert "DEGRADED" in eu
    assert "unhealthy (status=DEGRADED)" in eu
    assert "12.5" in eu


async def test_regions_all_healthy_exits_0_and_a_sync_interval_over_the_ttl_is_unhealthy(
    config_path: Path, admin: httpx.AsyncClient
) -> None:
    assert (await run_cli("regions", "--config", str(config_path), "--json")).code == 0

    response = await admin.put(
        "/_sim/regions/us-east-1", json={"status": "HEALTHY", "syncIntervalSeconds": 900}
    )
    assert response.status_code == 200
    result = await run_cli("regions", "--config", str(config_path), "--json")

    assert result.code == 1
    rows = {row["id"]: row for row in json.loads(result.out)["regions"]}
    assert rows["us-east-1"]["healthy"] is False
    assert "syncIntervalSeconds=900" in rows["us-east-1"]["reason"]


async def test_regions_when_the_api_refuses_exits_1(config_path: Path, admin: httpx.AsyncClient) -> None:
    await add_fault(admin, path="^/api/v2/architecture/regions$", status=403)

    result = await run_cli("regions", "--config", str(config_path), "--json")

    assert result.code == 1
    assert result.out == ""
    assert "architecture:region:read" in result.err


async def test_register_webhook_twice_reuses_the_id_and_never_prints_the_secret(
    config_path: Path, admin: httpx.AsyncClient, sim: RunningSimulator, tmp_path: Path
) -> None:
    secret = "whsec_dGhpcy1pcy1hLXRlc3Qtc2VjcmV0LTEyMzQ1"
    secret_file = tmp_path / "webhook-secret"
    secret_file.write_text(secret + "\n", encoding="utf-8")
    argv = [
        "register-webhook",
        "--config",
        str(config_path),
        "--url",
        "https://dns-sync.example.com/hook",
        "--name",
        "External-DNS-Failover-Sync",
    ]

    first = await run_cli(*argv, "--secret-file", str(secret_file))
    second = await run_cli(*argv, "--secret", secret)

    assert (first.code, second.code) == (0, 0), (first.err, second.err)
    assert "registered" in first.out
    assert "already registered, reused" in second.out
    hooks = (await sim_state(admin))["webhooks"]
    assert len(hooks) == 1
    hook_id = hooks[0]["id"]
    assert hook_id in first.out
    assert hook_id in second.out
    # The secret reached the platform (kept aside by the simulator)...
    assert sim.state.org.webhook_secret(hook_id) == secret
    # ...and nowhere else: not in the output, not in any answer the simulator gave.
    for text in (first.out, first.err, second.out, second.err, json.dumps(hooks)):
        assert secret not in text
    posts = [r for r in await request_log(admin) if r["method"] == "POST" and "webhooks" in r["path"]]
    assert len(posts) == 1
