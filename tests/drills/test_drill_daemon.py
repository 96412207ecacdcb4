"""Drills end to end (SPEC §8): a real daemon process against the simulator, driven by the
`drill` command, with a real Prometheus evaluating an alert rule the test flips.

Hostile cases first: an outcome alarm fires mid-drill; Prometheus cannot be read (before the start,
and mid-drill); the preferred region dies mid-drill; the daemon is SIGKILLed mid-drill. Then the
drill that succeeds: to the standby and back, with its report.
"""

from __future__ import annotations

import json
import signal
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.daemon.conftest import PRIMARY, RULE, SECONDARY, STRATEGY, TARGETS
from tests.deploy.live_prometheus import free_port, prometheus_binary
from tests.drills.live_alerting import Flags, flag_endpoint, running_alerting
from tests.harness import DaemonProcess, clean_env, cli, daemon_process, write_sim_config
from tests.support import until
from watcher.drills.schedule import WEEKDAYS
from watcher.sim import RunningSimulator, SimulatorState, default_seed, running_simulator

pytestmark = pytest.mark.anyio

TOKEN = "drill-admin-token-0123456789"
ENV = clean_env(WATCHER_ADMIN_TOKEN=TOKEN)
needs_prometheus = pytest.mark.skipif(prometheus_binary() is None, reason="prometheus missing")


def drill_config(tmp: Path, sim: RunningSimulator, drills: str = "") -> Path:
    """The simulator's org, an admin token, readiness every 0.5 s, a 1 s failback hold (a drill's
    move must stand all the same), and `drills` as the `[drills]` table."""
    tmp.mkdir(parents=True, exist_ok=True)
    config = write_sim_config(tmp / "watcher.toml", sim, tmp)
    text = config.read_text().replace(
        'listen = "127.0.0.1:0"', f'listen = "127.0.0.1:0"\nadmin_token = "{TOKEN}"'
    )
    text = text.replace("hold_seconds = 30", "hold_seconds = 1")
    config.write_text(
        text + "\n[readiness]\ninterval_seconds = 0.5\n" + (f"\n[drills]\n{drills}\n" if drills else "")
    )
    return config


def alarms_table(url: str) -> str:
    return f'prometheus_url = "{url}"\noutcome_alarms = ["CallsFailing"]\nalarm_interval_seconds = 0.5'


def routes_to(sim: RunningSimulator) -> str:
    regions = sim.state.org.strategies[STRATEGY]["routingConfig"]["regions"]
    return str(min(regions, key=lambda r: r["priority"])["regionId"])


def rule_target(sim: RunningSimulator) -> str:
    return str(sim.state.org.rules[RULE]["targets"][0]["id"])


async def drills(d: DaemonProcess) -> dict[str, Any]:
    status = await d.view.status_or_none()
    return {} if status is None else dict(status.get("drills") or {})


async def phase(d: DaemonProcess) -> str | None:
    running = (await drills(d)).get("running")
    return None if not running else str(running["phase"])


async def last(d: DaemonProcess) -> dict[str, Any] | None:
    recent = (await drills(d)).get("recent") or []
    return dict(recent[0]) if recent else None


async def drill(d: DaemonProcess, *args: str) -> tuple[int, str, str]:
    return await cli("drill", *args, "--url", d.view.base_url, env=ENV)


async def started_and_holding(d: DaemonProcess, sim: RunningSimulator, seconds: str = "60s") -> None:
    """Ready, readiness checked, then a drill of the strategy started and holding on the standby."""
    await d.ready()
    await until(lambda: _readiness(d), "a readiness round", 15)
    code, out, err = await drill(d, "start", "--strategy", STRATEGY, "--for", seconds)
    assert code == 0, (out, err)
    assert out.count("\n") == 1
    assert "started" in out
    await until(lambda: _is(d, "HOLDING"), "the drill holding on the standby", 20, detail=lambda: drills(d))
    assert routes_to(sim) == SECONDARY
    assert rule_target(sim) == TARGETS[SECONDARY]


async def _readiness(d: DaemonProcess) -> bool:
    status = await d.view.status_or_none()
    return bool(status and status.get("readiness"))


async def _is(d: DaemonProcess, wanted: str) -> bool:
    return await phase(d) == wanted


async def ended(d: DaemonProcess, timeout: float = 20) -> dict[str, Any]:
    async def done() -> bool:
        report = await last(d)
        return report is not None and not (await drills(d)).get("running")

    await until(done, "the drill's report", timeout, detail=lambda: drills(d))
    report = await last(d)
    assert report is not None
    return report


@needs_prometheus
async def test_an_outcome_alarm_firing_mid_drill_aborts_it_and_moves_the_strategy_back(
    tmp_path: Path,
) -> None:
    flags = Flags({"CallsFailing": 0})
    with flag_endpoint(flags) as target:
        async with (
            running_alerting(tmp_path / "prom", target, ["CallsFailing"]) as alerting,
            running_simulator(SimulatorState(default_seed())) as sim,
        ):
            table = alarms_table(alerting.url)
            async with daemon_process(drill_config(tmp_path, sim, table)) as d:
                await started_and_holding(d, sim)
                flags.set("CallsFailing", 1)
                report = await ended(d)
                assert report["outcome"] == "FAILED"
                assert report["reason"] == "outcome alarm firing: CallsFailing"
                assert routes_to(sim) == PRIMARY
                assert rule_target(sim) == TARGETS[PRIMARY]
                assert report["backSeconds"] is not None
                code, out, _ = await drill(d, "status")
                assert code == 0
                assert "FAILED" in out
                (tmp_path / "drill-status-abort.txt").write_text(out)
                print(out)
                assert (
                    await d.view.metric("failover_watcher_drills_total", strategy=STRATEGY, outcome="FAILED")
                    == 1
                )


@needs_prometheus
async def test_prometheus_unreadable_refuses_a_start_and_aborts_a_running_drill(tmp_path: Path) -> None:
    async with running_simulator(SimulatorState(default_seed())) as sim:
        nowhere = f'prometheus_url = "http://127.0.0.1:{free_port()}"\noutcome_alarms = ["CallsFailing"]'
        async with daemon_process(drill_config(tmp_path / "a", sim, nowhere)) as d:
            await d.ready()
            await until(lambda: _readiness(d), "a readiness round", 15)
            code, out, err = await drill(d, "start", "--strategy", STRATEGY, "--for", "60s")
            assert code == 1, (out, err)
            assert "Prometheus cannot be read" in err
            assert routes_to(sim) == PRIMARY  # nothing was moved
            report = await last(d)
            assert report is not None
            assert report["outcome"] == "NOT_STARTED"
            assert await d.stop() == 0
    flags = Flags({"CallsFailing": 0})
    with flag_endpoint(flags) as target:
        async with (
            running_alerting(tmp_path / "prom", target, ["CallsFailing"]) as alerting,
            running_simulator(SimulatorState(default_seed())) as sim,
        ):
            table = alarms_table(alerting.url)
            async with daemon_process(drill_config(tmp_path / "b", sim, table)) as d:
                await started_and_holding(d, sim)
                await alerting.stop()
                report = await ended(d)
                assert report["outcome"] == "FAILED"
                assert report["reason"].startswith("Prometheus cannot be read")
                assert routes_to(sim) == PRIMARY


async def test_the_preferred_region_dying_mid_drill_interrupts_it_and_leaves_the_failover_rules_in_charge(
    tmp_path: Path,
) -> None:
    async with (
        running_simulator(SimulatorState(default_seed())) as sim,
        httpx.AsyncClient(base_url=sim.base_url) as admin,
        daemon_process(drill_config(tmp_path, sim)) as d,
    ):
        await started_and_holding(d, sim)
        (await admin.put(f"/_sim/regions/{PRIMARY}", json={"status": "DOWN"})).raise_for_status()
        report = await ended(d)
        assert report["outcome"] == "INTERRUPTED"
        assert f"the preferred region {PRIMARY} failed" in report["reason"]
        assert report["backSeconds"] is None
        # Where the failover rules put it: on the healthy standby, not back on the dead region.
        assert routes_to(sim) == SECONDARY
        assert (await d.view.strategy(STRATEGY))["activeRegion"] == SECONDARY
        # The rules own it again: once the preferred region is back, it fails back by itself.
        (await admin.put(f"/_sim/regions/{PRIMARY}", json={"status": "HEALTHY"})).raise_for_status()
        await until(
            lambda: routes_to(sim) == PRIMARY,
            "the automatic failback after the drill",
            20,
            detail=lambda: d.view.strategy(STRATEGY),
        )


async def test_a_sigkill_mid_drill_is_ended_after_the_restart_and_the_strategy_moved_back(
    tmp_path: Path,
) -> None:
    async with running_simulator(SimulatorState(default_seed())) as sim:
        config = drill_config(tmp_path, sim)
        async with daemon_process(config, "first") as d:
            await started_and_holding(d, sim)
            await d.stop(signal.SIGKILL)
        assert routes_to(sim) == SECONDARY  # left on the drill region
        async with daemon_process(config, "second") as d:
            report = await ended(d, timeout=30)
            assert report["outcome"] == "INTERRUPTED"
            assert "the instance stopped during the drill" in report["reason"]
            assert routes_to(sim) == PRIMARY
            assert rule_target(sim) == TARGETS[PRIMARY]
            assert [w["leg"] for w in report["writes"]].count("back") >= 1


async def test_a_drill_moves_the_strategy_and_its_rule_to_the_standby_and_back_with_a_report(
    tmp_path: Path,
) -> None:
    async with running_simulator(SimulatorState(default_seed())) as sim:
        config = drill_config(tmp_path, sim)
        async with daemon_process(config) as d:
            # Held for 3 s: longer than the 1 s failback hold, which must not bring it back early.
            await started_and_holding(d, sim, "3s")
            report = await ended(d)
            assert report["outcome"] == "SUCCEEDED", report
            assert report["reason"] is None
            assert report["to"] == SECONDARY
            assert report["switchSeconds"] is not None
            assert report["backSeconds"] is not None
            legs = {(w["kind"], w["leg"]) for w in report["writes"]}
            assert legs == {("strategy", "to"), ("rule", "to"), ("strategy", "back"), ("rule", "back")}
            assert all(w["result"] == "success" for w in report["writes"])
            assert routes_to(sim) == PRIMARY
            assert rule_target(sim) == TARGETS[PRIMARY]
            code, out, _ = await drill(d, "status")
            assert code == 0
            assert "SUCCEEDED" in out
            (tmp_path / "drill-status-success.txt").write_text(out)
            print(out)
            code, out, _ = await drill(d, "status", "--json")
            assert json.loads(out)["recent"][0]["outcome"] == "SUCCEEDED"
            view = d.view
            assert (
                await view.metric("failover_watcher_drills_total", strategy=STRATEGY, outcome="SUCCEEDED")
                == 1
            )
            assert await view.metric("failover_watcher_drill_switch_seconds_count", strategy=STRATEGY) == 2
            assert await d.stop() == 0
        trail = (tmp_path / "state" / "audit.jsonl").read_text()
        records = [json.loads(line) for line in trail.splitlines()]
        drills_audited = [r for r in records if r.get("kind") == "drill"]
        assert [r["result"] for r in drills_audited] == ["success"]


async def test_a_scheduled_drill_starts_once_in_its_slot_and_succeeds(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    opens, closes = now - timedelta(minutes=5), now + timedelta(minutes=55)
    slot = f"{WEEKDAYS[opens.weekday()]} {opens:%H:%M}-{closes:%H:%M}"
    table = f'[[drills.schedules]]\nstrategy = "{STRATEGY}"\nduration_seconds = 1\nslot = "{slot}"'
    async with running_simulator(SimulatorState(default_seed())) as sim:
        config = drill_config(tmp_path, sim, "alarm_interval_seconds = 0.5\n" + table)
        async with daemon_process(config) as d:

            async def succeeded() -> list[dict[str, Any]]:
                recent = (await drills(d)).get("recent") or []
                return [r for r in recent if r["outcome"] == "SUCCEEDED"]

            await until(succeeded, "the scheduled drill's report", 30, detail=lambda: drills(d))
            (report,) = await succeeded()
            assert report["origin"].startswith("schedule ")
            assert report["to"] == SECONDARY
            assert routes_to(sim) == PRIMARY
            await d.view.more_polls(PRIMARY, 20)  # time for a second start, if one were made
            assert len(await succeeded()) == 1
            assert not (await drills(d)).get("running")


async def test_an_operator_abort_ends_the_drill_and_a_held_strategy_refuses_one(tmp_path: Path) -> None:
    async with running_simulator(SimulatorState(default_seed())) as sim:
        config = drill_config(tmp_path, sim)
        async with daemon_process(config) as d:
            await started_and_holding(d, sim)
            code, out, err = await drill(d, "abort", "--reason", "enough practice")
            assert code == 0, (out, err)
            assert out.count("\n") == 1
            report = await ended(d)
            assert report["outcome"] == "INTERRUPTED"
            assert report["reason"] == "enough practice"
            assert routes_to(sim) == PRIMARY
            code, _, err = await drill(d, "abort")
            assert code == 1
            assert "no drill is running" in err
            code, _, err = await drill(d, "start", "--strategy", "nope", "--for", "1m")
            assert code == 2
            assert "unknown strategy 'nope'" in err
            # Held by an operator: a drill does not start, and the reason says so.
            hold = await d.view.admin("/admin/hold", {"strategy": STRATEGY, "seconds": 600})
            assert hold.status_code == 200, hold.text
            code, out, err = await drill(d, "start", "--strategy", STRATEGY, "--for", "60s")
            assert code == 1, (out, err)
            assert "held" in err
            assert routes_to(sim) == PRIMARY


async def test_the_drill_region_turning_unhealthy_fails_the_drill_and_moves_the_strategy_back(
    tmp_path: Path,
) -> None:
    async with (
        running_simulator(SimulatorState(default_seed())) as sim,
        httpx.AsyncClient(base_url=sim.base_url) as admin,
        daemon_process(drill_config(tmp_path, sim)) as d,
    ):
        await started_and_holding(d, sim)
        (await admin.put(f"/_sim/regions/{SECONDARY}", json={"status": "DOWN"})).raise_for_status()
        report = await ended(d)
        assert report["outcome"] == "FAILED"
        assert SECONDARY in report["reason"], report
        # Back on the preferred region (healthy), not left on the drill region that failed.
        assert routes_to(sim) == PRIMARY
        assert rule_target(sim) == TARGETS[PRIMARY]
        assert await d.view.metric("failover_watcher_drills_total", strategy=STRATEGY, outcome="FAILED") == 1


@needs_prometheus
async def test_a_drill_is_refused_with_the_reason_while_anything_prevents_it(tmp_path: Path) -> None:
    """SPEC §8: a blocking alarm firing, a region of the strategy unhealthy, dry run on, another
    drill running: each refuses a start (exit 1, the reason on stderr), and nothing is written."""
    flags = Flags({"IncidentOpen": 1})
    with flag_endpoint(flags) as target:
        async with (
            running_alerting(tmp_path / "prom", target, ["IncidentOpen"]) as alerting,
            running_simulator(SimulatorState(default_seed())) as sim,
            httpx.AsyncClient(base_url=sim.base_url) as admin,
        ):
            table = (
                f'prometheus_url = "{alerting.url}"\nblocking_alarms = ["IncidentOpen"]\n'
                "alarm_interval_seconds = 0.5"
            )
            async with daemon_process(drill_config(tmp_path, sim, table)) as d:
                await d.ready()
                await until(lambda: _readiness(d), "a readiness round", 15)
                start = ("start", "--strategy", STRATEGY, "--for", "60s")

                async def refused_because(why: str) -> None:
                    code, out, err = await drill(d, *start)
                    assert code == 1, (out, err)
                    assert why in err, err
                    assert routes_to(sim) == PRIMARY

                async def firing() -> bool:  # Prometheus has scraped the flag and evaluated the rule
                    async with httpx.AsyncClient(base_url=alerting.url) as prom:
                        alerts = (await prom.get("/api/v1/alerts")).json()["data"]["alerts"]
                    return any(
                        a["labels"]["alertname"] == "IncidentOpen" for a in alerts if a["state"] == "firing"
                    )

                await until(firing, "IncidentOpen firing in Prometheus", 20)
                await refused_because("IncidentOpen")
                flags.set("IncidentOpen", 0)

                # Dry run on: refused; off again.
                assert (await d.view.admin("/admin/dry-run", {"enabled": True})).status_code == 200
                await refused_because("dry run")
                assert (await d.view.admin("/admin/dry-run", {"enabled": False})).status_code == 200

                # A region of the strategy unhealthy: refused.
                (await admin.put(f"/_sim/regions/{SECONDARY}", json={"status": "DOWN"})).raise_for_status()

                async def secondary_unhealthy() -> bool:
                    return not (await d.view.region(SECONDARY))["healthy"]

                await until(secondary_unhealthy, f"{SECONDARY} unhealthy", 15)
                await refused_because("unhealthy")
                (await admin.put(f"/_sim/regions/{SECONDARY}", json={"status": "HEALTHY"})).raise_for_status()

                # Another drill running: the second start is refused; the first one goes on.
                await started_and_holding(d, sim)
                code, out, err = await drill(d, *start)
                assert code == 1, (out, err)
                assert "another drill runs" in err, err
                assert (await phase(d)) == "HOLDING"
