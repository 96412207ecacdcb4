"""SPEC §4.1 "Evidence": only an answer about a region is evidence about it. Our budget, a 429, the
token endpoint, or a failure that hits every region at once through the one API host moves no
hysteresis counter; when the API comes back, nothing is switched unless a region's own answers say so.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import anyio
import pytest

from tests.harness import DaemonView, cli
from tests.safety._bench import REGION_CHANGED, Bench, bench
from tests.safety._config import PRIMARY, SECONDARY, STRATEGY
from tests.safety._daemon import InProcessDaemon, alive, in_process
from tests.safety._sim import STRATEGY_PATH
from tests.support import until
from watcher.core import Observation
from watcher.health import QuorumSource

pytestmark = pytest.mark.anyio


async def sample_until_hits(
    b: Bench, d: InProcessDaemon, fault_id: int, hits: int, timeout: float = 15.0
) -> list[dict[str, Any]]:
    """Keep the fault until it has failed `hits` requests; the daemon's /status sampled meanwhile."""
    samples: list[dict[str, Any]] = []

    async def enough() -> bool:
        alive(d)
        status = await d.view.status_or_none()
        if status is not None:
            samples.append(status)
        return await b.admin.fault_hits(fault_id) >= hits

    await until(enough, f"fault {fault_id} to fail {hits} requests", timeout, interval=0.05)
    return samples


async def settled(b: Bench, view: DaemonView) -> None:
    """The daemon polls again after the fault, and has delivered every event it stored."""
    await view.more_polls(PRIMARY, 6)
    await view.more_polls(SECONDARY, 6)

    async def drained() -> bool:
        return bool((await view.status())["outboxDepth"] == 0)

    await until(drained, "the outbox to drain", 10, detail=view.status)


def unhealthy_events(b: Bench) -> list[tuple[Any, Any]]:
    """(region, time) of every region_changed event saying a region became unhealthy."""
    return [
        (e["data"].get("region"), e.get("time"))
        for e in b.events(REGION_CHANGED)
        if e["data"].get("healthy") is False
    ]


def unhealthy_samples(samples: list[dict[str, Any]]) -> list[tuple[str, Any]]:
    return [(r["id"], r.get("lastObservation")) for s in samples for r in s["regions"] if not r["healthy"]]


@pytest.mark.parametrize("run", range(5))
async def test_an_api_blackout_moves_nothing(tmp_path: Path, run: int) -> None:
    async with bench(tmp_path) as b, in_process(b.config()) as d:
        await d.view.ready()
        _, since = await b.admin.requests()
        # Every call to the API host (and the login host: same simulator) is a dropped connection.
        blackout = await b.admin.fault(path=".*", reset=True)
        samples = await sample_until_hits(b, d, blackout, hits=25)
        during = samples[-1]
        await b.admin.clear_faults()
        print(f"\n/status during the blackout (run {run}):\n{json.dumps(during, indent=2)}")
        await settled(b, d.view)
        alive(d)

        puts = await b.admin.puts(STRATEGY_PATH, since)
        assert puts == [], f"strategy PUTs during/after a blackout with both regions healthy: {puts}"
        assert unhealthy_events(b) == [], unhealthy_events(b)
        assert unhealthy_samples(samples) == [], "a region was marked unhealthy by a blackout"
        api = during.get("api")
        assert isinstance(api, dict), f"/status has no `api` object during the blackout: {list(during)}"
        assert api.get("reachable") is False, api
        assert isinstance(api.get("detail"), str), api
        assert api["detail"], api


TOKEN_FAULTS: dict[str, dict[str, Any]] = {
    "throttled": {"status": 400},  # SPEC §2: the token endpoint throttles with a 400 "rate limit exceeded"
    "failing": {"status": 503},
    "dropped": {"reset": True},
}


@pytest.mark.parametrize("kind", list(TOKEN_FAULTS))
async def test_a_token_endpoint_outage_with_revoked_tokens_moves_nothing(tmp_path: Path, kind: str) -> None:
    async with bench(tmp_path) as b, in_process(b.config()) as d:
        await d.view.ready()
        _, since = await b.admin.requests()
        # The token endpoint fails while every token already issued answers 401: the daemon cannot
        # poll at all, and that says nothing about the regions.
        throttled = await b.admin.fault(path="^/oauth/token$", **TOKEN_FAULTS[kind])
        await b.admin.expire_tokens()
        # Long enough for several token fetches (each retried) to fail: `fall` times over.
        samples = await sample_until_hits(b, d, throttled, hits=15)
        await b.admin.clear_faults()
        await settled(b, d.view)
        alive(d)
        assert await b.admin.puts(STRATEGY_PATH, since) == []
        assert unhealthy_events(b) == [], unhealthy_events(b)
        assert unhealthy_samples(samples) == [], "a region was marked unhealthy by the token endpoint"
        assert (await d.view.strategy(STRATEGY))["activeRegion"] == PRIMARY


@pytest.mark.parametrize(("down", "exit_code"), [(None, 0), (SECONDARY, 1)])
async def test_regions_command_waits_out_a_429_and_exits_by_health(
    tmp_path: Path, down: str | None, exit_code: int
) -> None:
    async with bench(tmp_path, receive=False) as b:
        config = b.config(with_sink=False)
        if down is not None:
            await b.admin.set_region(down, "DOWN")
        # The budget is spent: the first health call of each region is answered 429, Retry-After: 1.
        await b.admin.fault(path="/health$", status=429, retryAfter=1, count=2)
        started = time.monotonic()
        code, out, err = await cli("regions", "--json", "--config", str(config))
        elapsed = time.monotonic() - started
        print(f"\nregions: exit {code} after {elapsed:.2f}s\n{out}{err}")
        assert code == exit_code, (code, out, err)
        rows = {r["id"]: r for r in json.loads(out)["regions"]}
        for region in (PRIMARY, SECONDARY):
            assert rows[region]["healthy"] is (region != down), rows[region]
            assert "rate limit" not in str(rows[region].get("reason")), rows[region]
        log, _ = await b.admin.requests()
        for region in (PRIMARY, SECONDARY):
            statuses = [r["status"] for r in log if r["path"].endswith(f"/regions/{region}/health")]
            assert statuses == [429, 200], (region, statuses)


class _Source:
    def __init__(
        self, name: str, ok: bool, reason: str, wait_for: anyio.Event | None, done: anyio.Event
    ) -> None:
        self.name, self._ok, self._reason, self._wait_for, self._done = name, ok, reason, wait_for, done

    async def observe(self, region: str) -> Observation:
        if self._wait_for is not None:
            await self._wait_for.wait()
        self._done.set()
        return Observation(region=region, ok=self._ok, at=time.monotonic(), reason=self._reason)


async def test_quorum_pairs_each_reason_with_its_own_source() -> None:
    slow_done, fast_done = anyio.Event(), anyio.Event()
    # The first configured source answers last: it waits until the second has answered.
    slow = _Source("statuspage", False, "component major_outage", wait_for=fast_done, done=slow_done)
    fast = _Source("region-health", True, "status=HEALTHY", wait_for=None, done=fast_done)
    with anyio.fail_after(5):
        obs = await QuorumSource([slow, fast], quorum=1).observe(PRIMARY)
    assert obs.ok is True
    assert "statuspage: component major_outage" in obs.reason, obs.reason
    assert "region-health: status=HEALTHY" in obs.reason, obs.reason
