"""Readiness (SPEC §8) as an operator sees it, from a real daemon process against the simulator: a
standby whose EventBridge target is gone is reported not ready (`/status`, the metric, the
`readiness` command's exit code) before anything fails; back to ready once the target exists again;
and a switch to it anyway names the failed check in its explanation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.daemon.conftest import PRIMARY, SECONDARY, STRATEGY, TARGETS
from tests.harness import DaemonProcess, cli, daemon_process, write_sim_config
from tests.support import until
from watcher.sim import SimulatorState, default_seed, running_simulator

pytestmark = pytest.mark.anyio

READINESS = "\n[readiness]\ninterval_seconds = 0.5\n"
READY = "failover_watcher_region_ready"


async def _row(d: DaemonProcess, region: str) -> dict[str, Any] | None:
    status = await d.view.status_or_none()
    rows = [] if status is None else status.get("readiness", [])
    return next((r for r in rows if r["strategy"] == STRATEGY and r["region"] == region), None)


async def test_a_standby_without_its_target_is_not_ready_before_anything_fails(tmp_path: Path) -> None:
    async with (
        running_simulator(SimulatorState(default_seed())) as sim,
        httpx.AsyncClient(base_url=sim.base_url) as admin,
    ):
        config = write_sim_config(tmp_path / "watcher.toml", sim, tmp_path)
        config.write_text(config.read_text() + READINESS)
        # Someone deleted the standby's EventBridge target: nothing fails until the night it is needed.
        (await admin.delete(f"/_sim/targets/{TARGETS[SECONDARY]}")).raise_for_status()
        async with daemon_process(config) as d:
            await d.view.ready()

            async def not_ready() -> bool:
                row = await _row(d, SECONDARY)
                return row is not None and row["ready"] is False

            await until(not_ready, "eu-west-1 reported not ready", 15)
            row = await _row(d, SECONDARY)
            assert row is not None
            failed = [c for c in row["checks"] if not c["ok"]]
            assert [c["check"] for c in failed] == ["rule rule-1 target"]
            assert TARGETS[SECONDARY] in failed[0]["reason"]
            assert "does not exist" in failed[0]["reason"]
            # The other checks passed and are listed too.
            passed = {c["check"] for c in row["checks"] if c["ok"]}
            assert {"strategy names region", "health evidence"} <= passed
            assert await d.view.metric(READY, strategy=STRATEGY, region=SECONDARY) == 0
            assert await _row(d, PRIMARY) is None  # the active region is not a standby

            code, out, err = await cli("readiness", "--url", d.view.base_url)
            assert code == 1, (out, err)
            print(out + err)  # the table with one region not ready (README, closing note)
            assert "eu-west-1" in out
            assert "NO" in out
            assert TARGETS[SECONDARY] in out
            assert "not ready: strategy-1/eu-west-1" in err
            code, out, _ = await cli("readiness", "--url", d.view.base_url, "--json")
            assert code == 1
            assert '"ready": false' in out
            # Nothing has failed: the strategy still routes to its primary.
            assert (await d.view.strategy(STRATEGY))["activeRegion"] == PRIMARY

            # The target exists again: ready at the next round, and the command says so.
            body = {"id": TARGETS[SECONDARY], "name": "euw1", "regionId": SECONDARY}
            (await admin.put(f"/_sim/targets/{TARGETS[SECONDARY]}", json=body)).raise_for_status()

            async def ready_again() -> bool:
                row = await _row(d, SECONDARY)
                return row is not None and row["ready"] is True

            await until(ready_again, "eu-west-1 ready again", 15)
            assert await d.view.metric(READY, strategy=STRATEGY, region=SECONDARY) == 1
            code, out, err = await cli("readiness", "--url", d.view.base_url)
            assert code == 0, (out, err)
            assert await d.stop() == 0


async def test_a_switch_to_a_region_not_ready_still_happens_and_names_the_failed_check(
    tmp_path: Path,
) -> None:
    async with (
        running_simulator(SimulatorState(default_seed())) as sim,
        httpx.AsyncClient(base_url=sim.base_url) as admin,
    ):
        config = write_sim_config(tmp_path / "watcher.toml", sim, tmp_path)
        config.write_text(config.read_text() + READINESS)
        (await admin.delete(f"/_sim/targets/{TARGETS[SECONDARY]}")).raise_for_status()
        async with daemon_process(config) as d:
            await d.view.ready()

            async def not_ready() -> bool:
                row = await _row(d, SECONDARY)
                return row is not None and row["ready"] is False

            await until(not_ready, "eu-west-1 reported not ready", 15)
            (await admin.put(f"/_sim/regions/{PRIMARY}", json={"status": "DOWN"})).raise_for_status()

            async def switched() -> bool:
                status = await d.view.status_or_none()
                last = None if status is None else status["strategies"][0].get("lastSwitch")
                return bool(last) and last.get("to") == SECONDARY

            await until(switched, "the switch to eu-west-1 reported", 20, detail=d.view.status_or_none)
            last = (await d.view.strategy(STRATEGY))["lastSwitch"]
            names = [c["check"] for c in last["explanation"]["readiness"]]
            assert names == ["rule rule-1 target"]
            # The strategy itself went to the best healthy region all the same.
            regions = sim.state.org.strategies[STRATEGY]["routingConfig"]["regions"]
            first = min(regions, key=lambda r: r["priority"])
            assert first["regionId"] == SECONDARY
