"""The daemon as a real process: SIGTERM mid-switch, SIGHUP reloads, JSON logs without secrets."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import anyio
import httpx
import pytest

from tests.daemon.conftest import PRIMARY, RULE, SECONDARY, STRATEGY, TARGETS
from tests.harness import daemon_process, write_sim_config
from tests.support import until
from watcher.sim import SimulatorState, default_seed, running_simulator

pytestmark = pytest.mark.anyio


async def test_sigterm_during_a_switch_finishes_the_write_and_exits_cleanly(tmp_path: Path) -> None:
    async with (
        running_simulator(SimulatorState(default_seed())) as sim,
        httpx.AsyncClient(base_url=sim.base_url) as admin,
    ):
        config = tmp_path / "watcher.toml"
        write_sim_config(config, sim, tmp_path)
        async with daemon_process(config) as d:
            await until(
                lambda: (
                    d.seen("region healthy")
                    and sum(ln.get("event") == "region healthy" for ln in d.records()) >= 2
                )
            )
            # Every strategy call now takes 1.5 s: the switch will be in flight when SIGTERM lands.
            fault = {"path": "/routing/strategies/", "errorRate": 1, "delayMs": 1500}
            (await admin.put("/_sim/faults", json=fault)).raise_for_status()
            (await admin.put(f"/_sim/regions/{PRIMARY}", json={"status": "DOWN"})).raise_for_status()
            await until(lambda: d.seen("decision: switch"))
            code = await d.stop(signal.SIGTERM, timeout=20)
            assert code == 0
            assert d.seen("shutting down")
            assert d.seen("stopped")
        strategy = sim.state.org.strategies[STRATEGY]
        first = min(strategy["routingConfig"]["regions"], key=lambda r: r["priority"])
        assert first["regionId"] == SECONDARY  # the PUT completed
        assert sim.state.org.rules[RULE]["targets"][0]["id"] == TARGETS[SECONDARY]  # and the rule followed
        assert not any("sim-secret" in line for line in d.raw)


async def test_sighup_keeps_the_old_config_when_the_new_one_is_bad(tmp_path: Path) -> None:
    async with running_simulator(SimulatorState(default_seed())) as sim:
        config = tmp_path / "watcher.toml"
        write_sim_config(config, sim, tmp_path)
        async with daemon_process(config) as d:
            await until(lambda: d.seen("region healthy"))
            url = d.view.base_url
            good = config.read_text()
            config.write_text(
                good.replace("fall = 2", "fall = 0").replace("timeout_seconds = 0.15", "timeout_seconds = 5")
            )
            d.process.send_signal(signal.SIGHUP)
            await until(lambda: d.seen("config reload refused; keeping the running config"))
            refused = next(
                ln
                for ln in d.records()
                if ln.get("event") == "config reload refused; keeping the running config"
            )
            assert any("health.fall" in p for p in refused["problems"]), refused
            assert any("health.timeout_seconds" in p for p in refused["problems"]), refused
            async with httpx.AsyncClient() as http:
                assert (await http.get(f"{url}/healthz")).status_code == 200
                status = (await http.get(f"{url}/status")).json()
            assert status["strategies"][0]["activeRegion"] == PRIMARY
            # Counted, for the ConfigReloadRefused alert: the operator's change is not in force.
            assert await d.view.metric("failover_watcher_config_reloads_total", result="refused") == 1
            assert await d.view.metric("failover_watcher_config_reloads_total", result="success") == 0
            # A good config is taken.
            config.write_text(good.replace("interval_seconds = 0.2", "interval_seconds = 0.3"))
            d.process.send_signal(signal.SIGHUP)
            await until(lambda: d.seen("config reloaded"))
            assert await d.view.metric("failover_watcher_config_reloads_total", result="success") == 1
            assert await d.stop(signal.SIGTERM, timeout=15) == 0


async def test_bad_config_refuses_to_start_with_one_line_per_problem(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('[genesys]\nclient_id = "x"\napi_base_url = "http://example.com"\n[health]\nrise = 0\n')
    result = await anyio.run_process(
        [sys.executable, "-m", "watcher.cli", "run", "--config", str(config)], check=False
    )
    assert result.returncode == 2
    err = result.stderr.decode()
    assert "genesys.api_base_url" in err
    assert "health.rise" in err
    assert "genesys.client_secret" in err
