"""SPEC 4.1, bounded shutdown, as a real process: SIGTERM lets an in-flight write run for the grace
period, then cancels it; the switch report is stored in any case; a second SIGTERM exits at once."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import httpx
import pytest

from tests.daemon.conftest import PRIMARY
from tests.harness import daemon_process, write_sim_config
from tests.support import until
from watcher.events import read_trail
from watcher.sim import SimulatorState, default_seed, running_simulator

pytestmark = pytest.mark.anyio


async def start_a_slow_switch(admin: httpx.AsyncClient, d: object) -> None:
    fault = {"path": "/routing/strategies/", "method": "PUT", "delayMs": 20000}
    (await admin.put("/_sim/faults", json=fault)).raise_for_status()
    (await admin.put(f"/_sim/regions/{PRIMARY}", json={"status": "DOWN"})).raise_for_status()


@pytest.mark.parametrize("signals", [1, 2])
async def test_sigterm_with_a_write_in_flight_is_bounded_and_reported(tmp_path: Path, signals: int) -> None:
    async with (
        running_simulator(SimulatorState(default_seed())) as sim,
        httpx.AsyncClient(base_url=sim.base_url) as admin,
    ):
        config = tmp_path / "watcher.toml"
        write_sim_config(config, sim, tmp_path)
        grace = "1" if signals == 1 else "30"
        config.write_text(
            config.read_text().replace("shutdown_grace_seconds = 10", f"shutdown_grace_seconds = {grace}")
        )
        async with daemon_process(config) as d:
            await until(lambda: sum(ln.get("event") == "region healthy" for ln in d.records()) >= 2)
            await start_a_slow_switch(admin, d)
            await until(
                lambda: (
                    any(r.method == "PUT" for r in sim.state.requests_since(None))
                    or d.seen("decision: switch")
                )
            )
            await until(lambda: d.seen("decision: switch"))
            sent = time.monotonic()
            d.process.send_signal(signal.SIGTERM)
            if signals == 2:
                await until(lambda: d.seen("shutting down"))
                d.process.send_signal(signal.SIGTERM)
            code = await d.wait_exit(15)
            took = time.monotonic() - sent
        print(f"signals={signals} grace={grace}s exit={code} after {took:.2f}s")
        if signals == 1:
            assert code == 0
            assert d.seen("abandoning in-flight writes at the end of the grace period")
            failed = [ln for ln in d.records() if ln.get("event") == "switch failure"]
            assert failed
            assert "abandoned at shutdown" in failed[0]["error"]
            records = [r for r in read_trail(tmp_path / "state") if r["kind"] == "strategy"]
            assert records
            assert records[-1]["result"] == "failure"
        else:
            assert code == 128 + signal.SIGTERM
            assert d.seen("second signal; exiting at once")
            assert took < 10  # not the 30 s grace
