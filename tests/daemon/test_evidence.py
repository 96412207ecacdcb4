"""SPEC 4.1, evidence: only an answer about a region is evidence about it. A blackout of the one API
host, or a token endpoint that fails, moves no hysteresis counter and switches nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support import metric_value

from .conftest import PRIMARY, SECONDARY, running_watcher

pytestmark = pytest.mark.anyio


def streaks(h: Any) -> list[int]:
    return [r.bad_streak for r in h.watcher.engine.world.regions.values()]


def checks(h: Any, result: str) -> float:
    """Health checks of the primary that ended with `result`, as `/metrics` counts them."""
    return metric_value(
        h.watcher.metrics, "failover_watcher_health_checks_total", region=PRIMARY, result=result
    )


@pytest.mark.parametrize("run", range(3))
async def test_an_api_blackout_is_not_evidence_and_switches_nothing(tmp_path: Path, run: int) -> None:
    async with running_watcher(tmp_path) as h:
        await h.ready()
        puts_before = len(h.requests("PUT", "/routing/strategies/"))
        (await h.admin.put("/_sim/faults", json={"path": ".*", "reset": True})).raise_for_status()
        await h.until(lambda: not h.watcher.parts.client.reachability.reachable)  # type: ignore[union-attr]
        during = (await h.http.get("/status")).json()
        assert during["api"]["reachable"] is False
        assert during["api"]["detail"]
        assert all(r["healthy"] for r in during["regions"])
        polls = h.watcher.scheduler.polls if h.watcher.scheduler else 0
        seen = checks(h, "unreachable")
        await h.until(lambda: checks(h, "unreachable") >= seen + 4)  # several polls lost, none counted
        assert streaks(h) == [0, 0]
        assert h.watcher.scheduler is not None
        assert h.watcher.scheduler.polls == polls
        (await h.admin.delete("/_sim/faults")).raise_for_status()
        await h.until(lambda: h.watcher.parts.client.reachability.reachable)  # type: ignore[union-attr]
        await h.until(lambda: h.watcher.scheduler is not None and h.watcher.scheduler.polls >= polls + 6)
        assert all(r.healthy for r in h.watcher.engine.world.regions.values())
        assert len(h.requests("PUT", "/routing/strategies/")) == puts_before
        assert h.watcher.switch_log == []


async def test_one_region_failing_in_transit_is_still_evidence(tmp_path: Path) -> None:
    async with running_watcher(tmp_path) as h:
        await h.ready()
        path = f"/regions/{PRIMARY}/health"
        (await h.admin.put("/_sim/faults", json={"path": path, "reset": True})).raise_for_status()
        await h.until(lambda: h.active() == SECONDARY)
        assert h.watcher.parts is not None
        assert h.watcher.parts.client.reachability.reachable


async def test_a_failing_token_endpoint_is_not_evidence(tmp_path: Path) -> None:
    async with running_watcher(tmp_path) as h:
        await h.ready()
        (await h.admin.put("/_sim/faults", json={"path": "/oauth/token", "status": 503})).raise_for_status()
        (await h.admin.post("/_sim/tokens/expire")).raise_for_status()
        await h.until(lambda: checks(h, "throttled") >= 3)
        assert streaks(h) == [0, 0]
        assert all(r.healthy for r in h.watcher.engine.world.regions.values())
        assert h.watcher.switch_log == []
