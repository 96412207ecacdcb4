"""The daemon against the simulator over loopback HTTP: what an SRE relies on at 3 a.m."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from tests.daemon.conftest import (
    ADMIN_TOKEN,
    PRIMARY,
    SECONDARY,
    STRATEGY,
    TARGETS,
    running_watcher,
)
from tests.support import metric_value, sample
from watcher.sim import SimulatorState, default_seed

pytestmark = pytest.mark.anyio


def regions_by_priority(strategy: dict[str, Any]) -> list[tuple[str, int, int]]:
    regions = sorted(strategy["routingConfig"]["regions"], key=lambda r: r["priority"])
    return [(r["regionId"], r["priority"], r["weight"]) for r in regions]


async def test_degrade_switches_once_and_metrics_status_and_api_agree(tmp_path: Path) -> None:
    async with running_watcher(tmp_path) as h:
        await h.ready()
        assert h.requests("PUT", "/routing/strategies/") == []
        await h.set_region(PRIMARY, "DEGRADED")
        await h.until(lambda: h.active() == SECONDARY and h.watcher.switch_log != [])
        await h.until(lambda: h.rule()["targets"][0]["id"] == TARGETS[SECONDARY])

        strategy = await h.strategy()
        assert regions_by_priority(strategy) == [(SECONDARY, 1, 100), (PRIMARY, 2, 0)]
        assert [t["id"] for t in h.rule()["targets"]] == [TARGETS[SECONDARY]]

        # A few more poll cycles with the primary still down: still exactly one switch.
        polls = h.watcher.scheduler.polls if h.watcher.scheduler else 0
        await h.until(lambda: h.watcher.scheduler is not None and h.watcher.scheduler.polls >= polls + 10)
        assert len([r for r in h.requests("PUT", "/routing/strategies/") if r.status == 200]) == 1
        assert len([r for r in h.requests("PUT", "/routing/rules/") if r.status == 200]) == 1

        status = (await h.http.get("/status")).json()
        s = next(s for s in status["strategies"] if s["id"] == STRATEGY)
        assert s["activeRegion"] == SECONDARY
        assert s["state"] == "failed_over"
        assert "unhealthy after 2 consecutive bad observations" in s["lastSwitch"]["explanation"]["summary"]
        assert {r["id"]: r["healthy"] for r in status["regions"]} == {PRIMARY: False, SECONDARY: True}

        metrics = (await h.http.get("/metrics")).text
        assert sample(metrics, "failover_watcher_switches_total", strategy=STRATEGY, result="success") == 1
        assert sample(metrics, "failover_watcher_switches_total", strategy=STRATEGY, result="failure") == 0
        assert sample(metrics, "failover_watcher_active_region", strategy=STRATEGY, region=SECONDARY) == 1
        assert sample(metrics, "failover_watcher_active_region", strategy=STRATEGY, region=PRIMARY) == 0
        assert sample(metrics, "failover_watcher_region_healthy", region=PRIMARY) == 0
        assert sample(metrics, "failover_watcher_update_latency_seconds_count", kind="strategy") == 1
        assert sample(metrics, "failover_watcher_update_latency_seconds_count", kind="rule") == 1
        assert sample(metrics, "failover_watcher_detection_to_switch_seconds_count", strategy=STRATEGY) == 1
        assert "_created" not in metrics


async def test_failback_only_after_the_hold(tmp_path: Path) -> None:
    hold = 1.5
    async with running_watcher(tmp_path, failback={"hold_seconds": hold}) as h:
        await h.ready()
        await h.set_region(PRIMARY, "DOWN")
        await h.until(lambda: h.active() == SECONDARY)
        await h.set_region(PRIMARY, "HEALTHY")
        await h.until(lambda: h.watcher.engine.world.regions[PRIMARY].healthy)
        healthy_at = time.monotonic()
        # Well inside the hold the strategy must still route to the secondary.
        await h.until(lambda: time.monotonic() >= healthy_at + hold / 2)
        assert h.active() == SECONDARY
        assert h.watcher.engine.world.strategies[STRATEGY].phase.value == "failing_back"
        await h.until(lambda: h.active() == PRIMARY, timeout=20)
        failback_put = [r for r in h.requests("PUT", "/routing/strategies/") if r.status == 200][-1]
        assert failback_put.time >= healthy_at + hold - 0.25  # the hold was honoured (poll jitter aside)
        assert [s["kind"] for s in h.watcher.switch_log] == ["failover", "failback"]
        assert regions_by_priority(await h.strategy()) == [(PRIMARY, 1, 100), (SECONDARY, 2, 0)]


async def test_flapping_faster_than_fall_never_switches(tmp_path: Path) -> None:
    async with running_watcher(tmp_path, health={"fall": 2}) as h:
        await h.ready()
        world = h.watcher.engine.world
        for _ in range(6):
            # One bad answer (the fault fires once), then wait to see a good one: never 2 bad in a row.
            r = await h.admin.put(
                "/_sim/faults",
                json={"path": f"/regions/{PRIMARY}/health", "errorRate": 1, "status": 503, "count": 1},
            )
            r.raise_for_status()
            await h.until(
                lambda: (o := h.watcher.engine.world.regions[PRIMARY].last) is not None and not o.ok
            )
            await h.until(lambda: (o := h.watcher.engine.world.regions[PRIMARY].last) is not None and o.ok)
        world = h.watcher.engine.world
        assert world.regions[PRIMARY].healthy
        assert h.active() == PRIMARY
        assert h.requests("PUT", "/routing/strategies/") == []
        assert h.watcher.switch_log == []


async def test_all_regions_down_writes_nothing_and_alerts(tmp_path: Path) -> None:
    async with running_watcher(tmp_path) as h:
        await h.ready()
        await h.set_region(PRIMARY, "DOWN")
        await h.set_region(SECONDARY, "DOWN")
        await h.until(lambda: h.watcher.engine.world.strategies[STRATEGY].all_down)
        metrics = (await h.http.get("/metrics")).text
        assert sample(metrics, "failover_watcher_all_regions_down", strategy=STRATEGY) == 1
        # Even if the primary fell first and a switch raced, nothing may route to a down region.
        strategy = await h.strategy()
        puts = [r for r in h.requests("PUT", "/routing/strategies/") if r.status == 200]
        if puts:
            assert regions_by_priority(strategy)[0][0] == SECONDARY
        polls = h.watcher.scheduler.polls if h.watcher.scheduler else 0
        await h.until(lambda: h.watcher.scheduler is not None and h.watcher.scheduler.polls >= polls + 10)
        assert len([r for r in h.requests("PUT", "/routing/strategies/") if r.status == 200]) == len(puts)
        status = (await h.http.get("/status")).json()
        assert status["strategies"][0]["state"] == "all_down"


async def test_all_regions_down_at_once_writes_nothing(tmp_path: Path) -> None:
    async with running_watcher(tmp_path, health={"fall": 3}) as h:
        await h.ready()
        # Both down before either crosses fall: the core sees no healthy target at any point.
        await h.admin.put("/_sim/faults", json={"path": "/health", "errorRate": 1, "status": 503})
        await h.until(lambda: h.watcher.engine.world.strategies[STRATEGY].all_down)
        assert h.requests("PUT", "/routing/strategies/") == []
        assert h.active() == PRIMARY


class ConflictOnFirstPut(httpx.AsyncBaseTransport):
    """Before forwarding the first strategy PUT, changes the strategy behind the watcher's back."""

    def __init__(self, inner: httpx.AsyncBaseTransport, sim_url: str) -> None:
        self.inner = inner
        self.sim_url = sim_url
        self.fired = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "PUT" and "/routing/strategies/" in request.url.path and not self.fired:
            self.fired = True
            async with httpx.AsyncClient(base_url=self.sim_url) as admin:
                state = (await admin.get("/_sim/state")).json()
                current = next(s for s in state["strategies"] if s["id"] == STRATEGY)
                current = {k: v for k, v in current.items() if k != "version"}
                current["description"] = "edited by a human"
                (await admin.put(f"/_sim/strategies/{STRATEGY}", json=current)).raise_for_status()
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_conflict_from_a_behind_the_back_change_is_replanned(tmp_path: Path) -> None:
    async with running_watcher(tmp_path, transport_wrapper=ConflictOnFirstPut) as h:
        await h.ready()
        await h.set_region(PRIMARY, "DEGRADED")
        await h.until(lambda: h.active() == SECONDARY)
        puts = h.requests("PUT", "/routing/strategies/")
        assert [r.status for r in puts] == [409, 200]
        strategy = await h.strategy()
        assert regions_by_priority(strategy) == [(SECONDARY, 1, 100), (PRIMARY, 2, 0)]
        # Re-planned from what it re-read: the human's edit survives the watcher's write.
        assert strategy["description"] == "edited by a human"
        switch = h.watcher.switch_log[-1]
        assert switch["result"] == "success"
        assert next(w for w in switch["writes"] if w["kind"] == "strategy")["conflicts"] == 1


async def test_a_hanging_region_does_not_delay_the_others(tmp_path: Path) -> None:
    async with running_watcher(
        tmp_path, health={"interval_seconds": 1.2, "timeout_seconds": 1.0, "fast_interval_seconds": 0.1}
    ) as h:
        await h.ready()
        await h.set_region(SECONDARY, "HEALTHY", latencyMs=60_000)
        checks, timed_out = "failover_watcher_health_checks_total", {"region": SECONDARY, "result": "timeout"}
        await h.until(lambda: metric_value(h.watcher.metrics, checks, **timed_out) >= 1)
        primary_before = len(h.requests("GET", f"/regions/{PRIMARY}/health"))
        await h.until(lambda: metric_value(h.watcher.metrics, checks, **timed_out) >= 4, timeout=20)
        primary_after = len(h.requests("GET", f"/regions/{PRIMARY}/health"))
        # Three hung polls take >= 3 s (timeout 1.0 s each), which holds at least two of the
        # primary's polls (every 1.2 s, jitter 10 %): the primary kept its own rhythm meanwhile.
        assert primary_after - primary_before >= 2
        # And a degrade of the primary is still acted on while the secondary hangs... with no target.
        assert h.watcher.engine.world.regions[PRIMARY].healthy


async def test_token_expiry_mid_run_costs_no_cycle(tmp_path: Path) -> None:
    async with running_watcher(tmp_path) as h:
        await h.ready()
        # The first readiness round (right after the start-up read-back) is done: the expired token
        # is then met by a health poll, not by a readiness check.
        await h.until(lambda: h.watcher.parts.readiness.board.rounds >= 1)
        (await h.admin.post("/_sim/tokens/expire")).raise_for_status()
        polls = h.watcher.scheduler.polls if h.watcher.scheduler else 0
        await h.until(lambda: h.watcher.scheduler is not None and h.watcher.scheduler.polls >= polls + 10)
        metrics = h.watcher.metrics_text().decode()
        for region in (PRIMARY, SECONDARY):
            assert sample(metrics, "failover_watcher_health_checks_total", region=region, result="error") == 0
            assert (
                sample(metrics, "failover_watcher_health_checks_total", region=region, result="unhealthy")
                == 0
            )
        assert sample(metrics, "failover_watcher_token_refreshes_total", result="success") >= 2  # type: ignore[operator]
        assert any(r.status == 401 for r in h.requests("GET", "/health"))  # the expiry really bit


async def test_dry_run_decides_and_reports_but_writes_nothing(tmp_path: Path) -> None:
    async with running_watcher(tmp_path, dry_run=True) as h:
        await h.ready()
        await h.set_region(PRIMARY, "DOWN")
        await h.until(lambda: h.watcher.switch_log != [])
        assert h.watcher.switch_log[-1]["result"] == "dry_run"
        assert h.requests("PUT", "/routing/") == []
        metrics = h.watcher.metrics_text().decode()
        assert (
            sample(
                metrics,
                "failover_watcher_decisions_total",
                strategy=STRATEGY,
                kind="failover",
                dry_run="true",
            )
            == 1
        )
        assert sample(metrics, "failover_watcher_dry_run") == 1


async def test_admin_pin_needs_the_token_and_routes_to_the_pinned_region(tmp_path: Path) -> None:
    async with running_watcher(tmp_path) as h:
        await h.ready()
        body = {"strategy": STRATEGY, "seconds": 60, "region": SECONDARY, "reason": "maintenance"}
        assert (await h.http.post("/admin/hold", json=body)).status_code == 401
        bad = {"Authorization": "Bearer wrong"}
        assert (await h.http.post("/admin/hold", json=body, headers=bad)).status_code == 401
        auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        assert (
            await h.http.post("/admin/hold", json={**body, "seconds": -1}, headers=auth)
        ).status_code == 400
        r = await h.http.post("/admin/hold", json=body, headers=auth)
        assert r.status_code == 200, r.text
        await h.until(lambda: h.active() == SECONDARY)
        assert regions_by_priority(await h.strategy())[0] == (SECONDARY, 1, 100)
        r = await h.http.post("/admin/release", json={"strategy": STRATEGY}, headers=auth)
        assert r.status_code == 200
        # Released: the preferred region is healthy, so it fails back after the hold.
        await h.until(lambda: h.active() == PRIMARY, timeout=20)
        assert (
            await h.http.post("/admin/release", json={"strategy": "nope"}, headers=auth)
        ).status_code == 404


async def test_probes(tmp_path: Path) -> None:
    async with running_watcher(tmp_path) as h:
        await h.ready()
        assert (await h.http.get("/healthz")).status_code == 200
        ready = await h.http.get("/readyz")
        assert ready.status_code == 200, ready.text
        status = (await h.http.get("/status")).json()
        assert status["leader"] is True
        assert status["outboxDepth"] == 0
        assert "sim-secret" not in (await h.http.get("/status")).text


async def test_drift_is_reported_and_not_reconciled_by_default(tmp_path: Path) -> None:
    async with running_watcher(tmp_path) as h:
        await h.ready()
        current = {k: v for k, v in (await h.strategy()).items() if k != "version"}
        for r in current["routingConfig"]["regions"]:
            r["priority"], r["weight"] = (1, 100) if r["regionId"] == SECONDARY else (2, 0)
        (await h.admin.put(f"/_sim/strategies/{STRATEGY}", json=current)).raise_for_status()
        drift_events = "failover_watcher_drift_detected_total"
        await h.until(lambda: metric_value(h.watcher.metrics, drift_events, strategy=STRATEGY) >= 1)
        metrics = h.watcher.metrics_text().decode()
        assert sample(metrics, "failover_watcher_drift", strategy=STRATEGY) == 1
        assert sample(metrics, "failover_watcher_drift_detected_total", strategy=STRATEGY) == 1
        await anyio.sleep(0)  # the report mode leaves the human's change alone
        assert h.requests("PUT", "/routing/strategies/") == []


async def test_an_unreadable_strategy_does_not_leave_the_others_unwatched(tmp_path: Path) -> None:
    strategies = [
        {"id": "missing-strategy", "regions": [PRIMARY, SECONDARY]},
        {"id": STRATEGY, "regions": [PRIMARY, SECONDARY]},
    ]
    async with running_watcher(tmp_path, strategies=strategies) as h:
        await h.until(lambda: h.watcher.engine.world.strategies[STRATEGY].active_region == PRIMARY)
        await h.until(lambda: all(r.healthy for r in h.watcher.engine.world.regions.values()))
        ready = await h.http.get("/readyz")
        assert ready.status_code == 503
        assert "strategies not read yet: missing-strategy" in ready.json()["detail"]
        await h.set_region(PRIMARY, "DOWN")
        await h.until(lambda: h.active() == SECONDARY)
        assert h.requests("PUT", "/routing/strategies/missing-strategy") == []


async def test_a_rule_write_that_fails_is_reported_and_repaired_later(tmp_path: Path) -> None:
    async with running_watcher(tmp_path) as h:
        await h.ready()
        fault = {"path": "/eventbridge/routing/rules/", "method": "PUT", "status": 500}
        (await h.admin.put("/_sim/faults", json=fault)).raise_for_status()
        await h.set_region(PRIMARY, "DOWN")
        await h.until(lambda: h.watcher.switch_log != [])
        switch = h.watcher.switch_log[-1]
        assert switch["result"] == "partial"
        assert "rule rule-1" in switch["error"]
        assert regions_by_priority(await h.strategy())[0] == (SECONDARY, 1, 100)  # the strategy moved
        assert h.rule()["targets"][0]["id"] == TARGETS[PRIMARY]  # the rule did not, yet
        metrics = h.watcher.metrics_text().decode()
        assert sample(metrics, "failover_watcher_switches_total", strategy=STRATEGY, result="failure") == 1
        # The platform recovers: the next read-back retargets the rule to follow its strategy.
        (await h.admin.delete("/_sim/faults")).raise_for_status()
        await h.until(lambda: h.rule()["targets"][0]["id"] == TARGETS[SECONDARY])


async def test_hold_and_release_commands_drive_the_admin_api(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from watcher.cli import main

    monkeypatch.setenv("WATCHER_ADMIN_TOKEN", ADMIN_TOKEN)
    async with running_watcher(tmp_path) as h:
        await h.ready()
        url = str(h.http.base_url)
        hold = [
            "hold",
            "--url",
            url,
            "--strategy",
            STRATEGY,
            "--for",
            "10m",
            "--pin",
            SECONDARY,
            "--reason",
            "drill",
        ]
        assert await anyio.to_thread.run_sync(main, hold) == 0
        await h.until(lambda: h.active() == SECONDARY)
        status = (await h.http.get("/status")).json()["strategies"][0]
        assert status["pin"]["region"] == SECONDARY
        assert status["pin"]["reason"] == "drill"
        assert await anyio.to_thread.run_sync(main, ["release", "--url", url, "--strategy", STRATEGY]) == 0
        await h.until(lambda: h.active() == PRIMARY, timeout=20)
        bad = ["hold", "--url", url, "--strategy", "nope", "--for", "1m"]
        assert await anyio.to_thread.run_sync(main, bad) == 2


async def test_start_up_adopts_the_api_and_finishes_a_half_done_switch(tmp_path: Path) -> None:
    # A previous watcher died between the strategy PUT and the rule PUT: the strategy routes to
    # the secondary, the rule still to the primary's target.
    state = SimulatorState(default_seed())
    strategy = state.org.strategies[STRATEGY]
    for r in strategy["routingConfig"]["regions"]:
        r["priority"], r["weight"] = (1, 100) if r["regionId"] == SECONDARY else (2, 0)
    async with running_watcher(tmp_path, state=state, failback={"mode": "manual"}) as h:
        await h.until(lambda: h.rule()["targets"][0]["id"] == TARGETS[SECONDARY])
        await h.ready()
        assert h.active() == SECONDARY  # adopted as the API holds it, not "corrected" to the primary
        assert h.requests("PUT", "/routing/strategies/") == []
        assert not h.watcher.engine.world.strategies[STRATEGY].drift
