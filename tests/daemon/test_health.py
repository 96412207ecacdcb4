"""Where a poll becomes an observation: every verdict of the region-health source, over loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from watcher.config import GenesysSettings, HealthSettings
from watcher.genesys import GenesysClient
from watcher.health import RegionHealthEndpoint, Throttled
from watcher.sim import SimulatorState, default_seed, running_simulator

pytestmark = pytest.mark.anyio
REGION = "us-east-1"


@pytest.fixture
async def probe() -> AsyncIterator[tuple[RegionHealthEndpoint, httpx.AsyncClient]]:
    async with running_simulator(SimulatorState(default_seed())) as sim:
        settings = GenesysSettings(
            client_id="sim-client", api_base_url=sim.base_url, login_base_url=sim.base_url, max_retries=0
        )
        health = HealthSettings(interval_seconds=1.0, timeout_seconds=0.3, max_sync_interval_seconds=300)
        async with (
            GenesysClient(settings, SecretStr("sim-secret")) as client,
            httpx.AsyncClient(base_url=sim.base_url) as admin,
        ):
            yield RegionHealthEndpoint(client, health), admin


async def set_region(admin: httpx.AsyncClient, **body: Any) -> None:
    (await admin.put(f"/_sim/regions/{REGION}", json=body)).raise_for_status()


@pytest.mark.parametrize(
    ("body", "ok", "reason"),
    [
        ({"status": "HEALTHY"}, True, "status=HEALTHY"),
        ({"status": "DEGRADED"}, False, "status=DEGRADED"),
        ({"status": "DOWN"}, False, "status=DOWN"),
        ({"status": "MAINTENANCE"}, False, "status=MAINTENANCE"),  # unknown status = unhealthy
        ({"status": "HEALTHY", "syncIntervalSeconds": 400}, False, "syncIntervalSeconds=400 > 300"),
        ({"status": "HEALTHY", "syncIntervalSeconds": 300}, True, "status=HEALTHY"),  # the max itself is fine
        ({"status": "HEALTHY", "latencyMs": 2000}, False, "timeout after 0.3s"),
    ],
)
async def test_verdicts(
    probe: tuple[RegionHealthEndpoint, httpx.AsyncClient], body: dict[str, Any], ok: bool, reason: str
) -> None:
    source, admin = probe
    await set_region(admin, **body)
    obs = await source.observe(REGION)
    assert (obs.ok, obs.reason) == (ok, reason)
    assert obs.region == REGION


async def test_server_error_is_a_bad_observation(
    probe: tuple[RegionHealthEndpoint, httpx.AsyncClient],
) -> None:
    source, admin = probe
    await admin.put("/_sim/faults", json={"path": "/health", "status": 503})
    obs = await source.observe(REGION)
    assert (obs.ok, obs.reason, obs.failure) == (False, "http 503", "error")


async def test_dropped_connection_is_a_bad_observation(
    probe: tuple[RegionHealthEndpoint, httpx.AsyncClient],
) -> None:
    source, admin = probe
    await admin.put("/_sim/faults", json={"path": "/health", "reset": True})
    obs = await source.observe(REGION)
    assert not obs.ok
    assert obs.failure == "error"


async def test_throttling_is_no_evidence_about_the_region(
    probe: tuple[RegionHealthEndpoint, httpx.AsyncClient],
) -> None:
    source, admin = probe
    await admin.put("/_sim/faults", json={"path": "/health", "status": 429, "retryAfter": 1})
    with pytest.raises(Throttled):
        await source.observe(REGION)
