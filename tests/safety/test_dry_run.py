"""SPEC §4.1 "Dry run decides against the truth": in dry run the watcher's belief of what the API
routes to is what the API holds, never what it would have written; turning dry run off acts on the
state of the world at once. And the dry-run switch is durable (SPEC §4.1 "Operator commands ...")."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.harness import DaemonView, cli
from tests.safety._bench import bench
from tests.safety._config import PRIMARY, SECONDARY, STRATEGY
from tests.safety._daemon import alive, in_process
from tests.safety._sim import STRATEGY_PATH, SimAdmin
from tests.support import until

pytestmark = pytest.mark.anyio


async def _outage_seen(view: DaemonView, admin: SimAdmin) -> None:
    """The primary is DOWN and the daemon has seen it, polled on, and read the strategy back since."""
    await admin.set_region(PRIMARY, "DOWN")

    async def unhealthy() -> bool:
        return (await view.region(PRIMARY))["healthy"] is False

    await until(unhealthy, f"/status shows {PRIMARY} unhealthy", 10)
    await view.more_polls(PRIMARY, 6)
    _, mark = await admin.requests()

    async def read_back() -> bool:
        log, _ = await admin.requests(mark)
        return any(r["method"] == "GET" and STRATEGY_PATH in r["path"] for r in log)

    await until(read_back, "a read-back of the strategy after the decision", 10)


async def test_dry_run_believes_the_api_and_acting_resumes_at_once(tmp_path: Path) -> None:
    async with bench(tmp_path, receive=False) as b:
        config = b.config(with_sink=False)
        async with in_process(config) as d:
            await d.view.ready()
            code, _, err = await cli("dry-run", "on", "--config", str(config))
            assert code == 0, err
            assert (await d.view.status())["dryRun"] is True
            _, since = await b.admin.requests()

            await _outage_seen(d.view, b.admin)
            alive(d)
            assert await b.admin.puts(STRATEGY_PATH, since) == []
            s = await d.view.strategy(STRATEGY)
            assert s["activeRegion"] == PRIMARY, f"dry run must believe what the API holds: {s}"
            assert s["drift"] is False, f"no drift: the API did not change behind the watcher's back: {s}"
            assert await b.admin.routes_to(STRATEGY) == PRIMARY

            code, _, err = await cli("dry-run", "off", "--config", str(config))
            assert code == 0, err

            async def switched() -> bool:
                return await b.admin.routes_to(STRATEGY) == SECONDARY

            # "At once": within a few poll intervals (0.2 s) and read-backs (0.5 s).
            await until(
                switched,
                f"the PUT to {SECONDARY} once dry run is off",
                3,
                detail=lambda: d.view.strategy(STRATEGY),
            )
            puts = await b.admin.puts(STRATEGY_PATH, since)
            assert [p["status"] for p in puts] == [200], puts


async def test_dry_run_survives_a_restart(tmp_path: Path) -> None:
    async with bench(tmp_path, receive=False) as b:
        config = b.config(with_sink=False)
        async with in_process(config) as d:
            await d.view.ready()
            response = await d.view.admin("/admin/dry-run", {"enabled": True})
            assert response.status_code == 200, response.text
            await d.stop()
        async with in_process(config) as d:
            await d.view.ready()
            assert (await d.view.status())["dryRun"] is True, "dry run was switched on before the restart"
            _, since = await b.admin.requests()
            await _outage_seen(d.view, b.admin)
            assert await b.admin.puts(STRATEGY_PATH, since) == []
