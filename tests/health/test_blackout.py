"""SPEC §4.1 "Evidence", at the unit level (issue 18): a transport failure that hits every region at
once through the one API host is the watcher losing the API, not the regions failing. Each region's
region-health source says so as no evidence (`Unreachable`), the hysteresis is never fed, and the
first answers after the API comes back are judged on their own. The counterpart: a failure of one
region's call while the host answers the others is that region's, and is evidence.

Over real HTTP against the simulator, its faults set through `/_sim/faults`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import anyio
import httpx
import pytest
from pydantic import SecretStr

from tests.health.conftest import add_fault
from tests.support import FakeClock
from watcher.config import GenesysSettings, HealthSettings
from watcher.core import Observation
from watcher.core.hysteresis import RegionHealth, RegionState
from watcher.core.policy import Thresholds
from watcher.genesys import GenesysClient
from watcher.health import NoEvidence, QuorumSource, RegionHealthEndpoint, SourceBoard, Unreachable
from watcher.metrics import WatcherMetrics
from watcher.sim import RunningSimulator

pytestmark = pytest.mark.anyio

REGIONS = ["us-east-1", "eu-west-1", "ap-southeast-2"]
FALL_1 = Thresholds(fall=1, rise=1)  # the strictest: one counted failure would fail a region


@pytest.fixture
async def client(sim: RunningSimulator, admin: httpx.AsyncClient) -> AsyncIterator[GenesysClient]:
    # A third region, so "every region at once" is more than the seed's pair.
    (await admin.put("/_sim/regions/ap-southeast-2", json={"status": "HEALTHY"})).raise_for_status()
    settings = GenesysSettings(
        client_id="sim-client", api_base_url=sim.base_url, login_base_url=sim.base_url, max_retries=0
    )
    async with GenesysClient(settings, SecretStr("sim-secret"), metrics=WatcherMetrics()) as c:
        yield c


class Regions:
    """Each region's quorum of one region-health source, polled all at once as the scheduler does,
    with the region states the core would keep (only observations reach them)."""

    def __init__(self, client: GenesysClient) -> None:
        self.clock = FakeClock()
        self.board = SourceBoard()
        settings = HealthSettings(interval_seconds=1.0, timeout_seconds=0.3)
        self.sources = {
            r: QuorumSource([RegionHealthEndpoint(client, settings)], board=self.board, clock=self.clock)
            for r in REGIONS
        }
        self.health = {r: RegionHealth(r, state=RegionState.HEALTHY, since=0.0) for r in REGIONS}

    async def poll(self) -> dict[str, Observation | NoEvidence]:
        outcomes: dict[str, Observation | NoEvidence] = {}

        async def one(region: str) -> None:
            try:
                outcomes[region] = obs = await self.sources[region].observe(region)
            except NoEvidence as exc:
                outcomes[region] = exc
                return
            self.health[region], _ = self.health[region].observe(obs, FALL_1, flap_window=600.0)

        async with anyio.create_task_group() as tg:
            for region in REGIONS:
                tg.start_soon(one, region)
        self.clock.advance(1.0)
        return outcomes

    def verdicts(self) -> dict[str, Any]:
        return {r: [s.to_dict()["verdict"] for s in self.board.readings(r)] for r in REGIONS}


@pytest.mark.parametrize(
    "fault",
    [{"reset": True}, {"delayMs": 2000}],
    ids=["dropped connections", "no answer within the timeout"],
)
async def test_a_failure_hitting_every_region_through_the_api_host_is_no_evidence(
    client: GenesysClient, admin: httpx.AsyncClient, fault: dict[str, Any]
) -> None:
    regions = Regions(client)
    assert all(isinstance(o, Observation) and o.ok for o in (await regions.poll()).values())

    # Every call to the API host fails in transit (the token is held: the login host is not asked).
    await add_fault(admin, path="^/api/", **fault)
    for _ in range(3):
        outcomes = await regions.poll()
        for region, outcome in outcomes.items():
            assert isinstance(outcome, Unreachable), (region, outcome)
            assert f"not evidence about {region}" in str(outcome)
        assert client.reachability.reachable is False
        assert all(h.state is RegionState.HEALTHY for h in regions.health.values()), regions.health
        assert all(h.bad_streak == 0 for h in regions.health.values())
        assert regions.verdicts() == {r: ["no_evidence"] for r in REGIONS}

    # The API comes back: the regions' own answers decide, and they are good.
    await admin.delete("/_sim/faults")
    outcomes = await regions.poll()
    assert all(isinstance(o, Observation) and o.ok for o in outcomes.values()), outcomes
    assert client.reachability.reachable is True
    assert regions.verdicts() == {r: ["good"] for r in REGIONS}


async def test_a_failure_of_one_region_while_the_api_host_answers_is_that_region_s_evidence(
    client: GenesysClient, admin: httpx.AsyncClient
) -> None:
    regions = Regions(client)
    await regions.poll()
    await add_fault(admin, path="^/api/v2/.*us-east-1/health$", reset=True)
    outcomes = await regions.poll()
    failed = outcomes["us-east-1"]
    assert isinstance(failed, Observation), failed
    assert (failed.ok, failed.failure) == (False, "error")
    assert regions.health["us-east-1"].state is RegionState.UNHEALTHY
    assert all(isinstance(outcomes[r], Observation) and regions.health[r].healthy for r in REGIONS[1:])
    assert client.reachability.reachable is True
