"""`failover-watcher demo`: the simulator, the daemon and a signed-event receiver in one process.

A small built-in org (3 regions, 2 strategies, 2 rules) runs a scripted scenario: the primary region
degrades, both strategies fail over, the region recovers, and after the failback hold both return.
A live terminal view shows region states, active regions, switches and events; a summary closes it.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio
import httpx
from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.table import Table

from watcher.config import WatcherConfig
from watcher.daemon.service import Watcher
from watcher.events import generate_secret, running_receiver
from watcher.logs import configure_logging
from watcher.serving import bind_socket
from watcher.sim import SimSeed, SimulatorState, rule_seed, running_simulator, strategy_seed

PRIMARY = "us-east-1"
REGIONS = ("us-east-1", "eu-west-1", "ap-southeast-2")
TARGETS = {"us-east-1": "target-use1", "eu-west-1": "target-euw1", "ap-southeast-2": "target-apse2"}
STRATEGIES = {
    "voice-routing": ["us-east-1", "eu-west-1", "ap-southeast-2"],
    "digital-routing": ["us-east-1", "ap-southeast-2", "eu-west-1"],
}
RULES = {"rule-voice-events": "voice-routing", "rule-digital-events": "digital-routing"}


def demo_seed() -> SimSeed:
    """The demo org: every strategy starts on the primary, every rule on the primary's target."""
    return SimSeed.model_validate(
        {
            "regions": [{"id": r, "name": r} for r in REGIONS],
            "targets": [
                {"id": t, "type": "webhook", "url": f"https://{t}.example.com/in"} for t in TARGETS.values()
            ],
            "strategies": [strategy_seed(sid, order) for sid, order in STRATEGIES.items()],
            "rules": [rule_seed(rid, TARGETS[PRIMARY]) for rid in RULES],
        }
    )


def demo_config(sim_url: str, state_dir: Path, receiver_url: str, secret: str, speed: float) -> WatcherConfig:
    interval = 1.0 / speed
    return WatcherConfig(
        genesys={
            "api_base_url": sim_url,
            "login_base_url": sim_url,
            "client_id": "sim-client",
            "client_secret": "sim-secret",
            "requests_per_minute": 600,
        },
        health={"interval_seconds": interval, "timeout_seconds": interval / 2, "fall": 2, "rise": 2},
        failback={"mode": "auto", "hold_seconds": 6.0 / speed},
        regions=[{"id": r} for r in REGIONS],
        strategies=[{"id": s, "regions": order} for s, order in STRATEGIES.items()],
        rules=[{"id": r, "strategy": s, "targets": TARGETS} for r, s in RULES.items()],
        sinks=[{"name": "dns-sync", "url": receiver_url, "secret": secret}],
        state={"dir": str(state_dir)},
        executor={"reconcile_interval_seconds": 5.0},
        server={"listen": "127.0.0.1:0"},
    )


class Scenario:
    """The scripted story, with the step the view shows."""

    def __init__(self) -> None:
        self.step = "starting"
        self.marks: dict[str, float] = {}

    def mark(self, name: str, text: str) -> None:
        self.marks[name] = time.monotonic()
        self.step = text


def _view(watcher: Watcher, scenario: Scenario, received: Any, metrics_url: str) -> Group:
    status = watcher.status()
    regions = Table(title="Regions", expand=True)
    for col in ("region", "state", "last observation"):
        regions.add_column(col)
    for r in status["regions"]:
        colour = "green" if r["healthy"] else ("red" if r["state"] == "unhealthy" else "yellow")
        obs = r["lastObservation"] or {}
        regions.add_row(r["id"], f"[{colour}]{r['state']}[/]", str(obs.get("reason", "-")))
    strategies = Table(title="Strategies", expand=True)
    for col in ("strategy", "active region", "state", "last decision"):
        strategies.add_column(col)
    for s in status["strategies"]:
        decision = (s["lastDecision"] or {}).get("summary", "-")
        if s["state"] == "failing_back" and s["failbackEligibleAt"]:
            decision = (
                f"preferred region healthy again; failback not before {s['failbackEligibleAt'][11:19]} UTC"
            )
        strategies.add_row(s["id"], str(s["activeRegion"]), s["state"], decision)
    switches = Table(title="Switches", expand=True)
    for col in ("strategy", "kind", "from -> to", "result", "writes"):
        switches.add_column(col)
    for sw in watcher.switch_log[-6:]:
        switches.add_row(
            sw["strategy"], sw["kind"], f"{sw['from']} -> {sw['to']}", sw["result"], str(len(sw["writes"]))
        )
    footer = (
        f"[bold]{scenario.step}[/]\nmetrics: {metrics_url}   status: {watcher.listen_url}/status\n"
        f"events received and verified by the DNS-sync receiver: {len(received.events)}"
        f" (duplicates {received.duplicates}, rejected {received.rejected})"
    )
    return Group(regions, strategies, switches, Panel(footer, title="failover-watcher demo"))


async def _wait_for(predicate: Any, timeout: float, what: str) -> None:
    with anyio.fail_after(timeout):
        while not predicate():  # noqa: ASYNC110 - the demo watches state it does not own
            await anyio.sleep(0.05)
    _ = what


async def _demo(forever: bool, port: int, speed: float, console: Console) -> dict[str, Any]:
    secret = generate_secret()
    state_dir = Path(tempfile.mkdtemp(prefix="failover-watcher-demo-"))
    log_path = state_dir / "watcher.log"
    log_file = log_path.open("w", encoding="utf-8")
    configure_logging(json=True, stream=log_file)
    scenario = Scenario()
    async with (
        running_simulator(SimulatorState(demo_seed())) as sim,
        running_receiver([secret]) as received,
        httpx.AsyncClient(base_url=sim.base_url) as admin,
    ):
        try:
            sock = bind_socket("127.0.0.1", port)
        except OSError:
            sock = bind_socket("127.0.0.1", 0)
        cfg = demo_config(sim.base_url, state_dir, received.url, secret.get_secret_value(), speed)
        watcher = Watcher(cfg, listen_socket=sock)
        metrics_url = f"{sock.getsockname()[0]}:{sock.getsockname()[1]}"
        metrics_url = f"http://{metrics_url}/metrics"

        def active(region: str) -> bool:
            return all(
                s.active_region == region and s.pending is None
                for s in watcher.engine.world.strategies.values()
            )

        async def script() -> None:
            await watcher.started.wait()
            scenario.mark("start", f"watching {len(REGIONS)} regions; waiting for the first health verdicts")
            await _wait_for(
                lambda: (
                    watcher.readiness()[0] and all(h.healthy for h in watcher.engine.world.regions.values())
                ),
                60,
                "ready",
            )
            scenario.mark("steady", "all regions healthy; both strategies on us-east-1")
            await anyio.sleep(3 / speed)
            await admin.put(f"/_sim/regions/{PRIMARY}", json={"status": "DEGRADED"})
            scenario.mark("degraded", f"{PRIMARY} DEGRADED by the simulator: hysteresis counting (fall=2)")
            await _wait_for(
                lambda: not any(s.active_region == PRIMARY for s in watcher.engine.world.strategies.values()),
                60,
                "failover",
            )
            scenario.mark("failed_over", "failed over: both strategies away from us-east-1, rules retargeted")
            await anyio.sleep(4 / speed)
            await admin.put(f"/_sim/regions/{PRIMARY}", json={"status": "HEALTHY"})
            scenario.mark("recovered", f"{PRIMARY} HEALTHY again: failback waits for rise=2 and the 6 s hold")
            await _wait_for(lambda: active(PRIMARY), 90, "failback")
            scenario.mark(
                "failed_back", "failed back to us-east-1; waiting for the receiver to get every event"
            )
            await _wait_for(
                lambda: (
                    watcher.outbox is not None
                    and all(watcher.outbox.pending_count(s.name) == 0 for s in cfg.sinks)
                ),
                30,
                "events delivered",
            )
            scenario.mark(
                "done", "scenario complete" + ("; running on (--forever), Ctrl-C to stop" if forever else "")
            )
            if not forever:
                watcher.request_stop()

        live_screen = console.is_terminal
        async with anyio.create_task_group() as tg:
            tg.start_soon(script)

            async def view() -> None:
                if live_screen:
                    with Live(console=console, refresh_per_second=8, transient=False) as live:
                        while not watcher.stop.is_set():
                            if watcher.started.is_set():
                                live.update(_view(watcher, scenario, received, metrics_url))
                            await anyio.sleep(0.125)
                        live.update(_view(watcher, scenario, received, metrics_url))
                else:
                    last = ""
                    while not watcher.stop.is_set():
                        if scenario.step != last:
                            last = scenario.step
                            console.print(f"[{time.strftime('%H:%M:%S')}] {last}")
                        await anyio.sleep(0.05)
                    console.print(_view(watcher, scenario, received, metrics_url))

            tg.start_soon(view)
            await watcher.serve(install_signals=forever)
            tg.cancel_scope.cancel()
    log_file.close()
    text = watcher.metrics_text().decode()
    return {
        "scenario": scenario,
        "watcher": watcher,
        "received": received,
        "requests": len(sim.state.requests) if hasattr(sim.state, "requests") else None,
        "state_dir": state_dir,
        "log_path": log_path,
        "metrics": text,
    }


def _summary(result: dict[str, Any], console: Console) -> None:
    watcher: Watcher = result["watcher"]
    received = result["received"]
    marks = result["scenario"].marks
    table = Table(title="Summary")
    table.add_column("what")
    table.add_column("value", overflow="fold")
    ok = sum(1 for s in watcher.switch_log if s["result"] == "success")
    table.add_row("switches", f"{len(watcher.switch_log)} ({ok} succeeded)")
    for sw in watcher.switch_log:
        table.add_row(
            f"  {sw['strategy']} {sw['kind']}",
            f"{sw['from']} -> {sw['to']}: {sw['result']}, "
            f"{sw['latencySeconds'] * 1000:.0f} ms for {len(sw['writes'])} writes",
        )
    if "degraded" in marks and "failed_over" in marks:
        table.add_row(
            "degrade -> both strategies switched", f"{marks['failed_over'] - marks['degraded']:.2f} s"
        )
    if "recovered" in marks and "failed_back" in marks:
        table.add_row(
            "recover -> failed back (incl. hold)", f"{marks['failed_back'] - marks['recovered']:.2f} s"
        )
    types: dict[str, int] = {}
    for event in received.events:
        types[event["type"]] = types.get(event["type"], 0) + 1
    table.add_row(
        "events verified by receiver",
        f"{len(received.events)}: "
        + ", ".join(f"{k.rsplit('.', 1)[-1]}={v}" for k, v in sorted(types.items())),
    )
    table.add_row("duplicates / rejected", f"{received.duplicates} / {received.rejected}")
    table.add_row("audit trail", str(result["state_dir"] / "audit.jsonl"))
    table.add_row("daemon log", str(result["log_path"]))
    console.print(table)
    events = Table(title="Events received by the DNS-sync receiver (Standard Webhooks signature verified)")
    for col in ("time", "type", "subject", "id"):
        events.add_column(col, overflow="fold")
    for event in received.events:
        events.add_row(event["time"][11:23], event["type"], str(event.get("subject", "")), event["id"][:8])
    console.print(events)
    console.print("[bold]metrics after the scenario[/] (excerpt):")
    for line in result["metrics"].splitlines():
        if line.startswith(
            (
                "failover_watcher_switches_total",
                "failover_watcher_active_region{",
                "failover_watcher_region_healthy",
                "failover_watcher_detection_to_switch_seconds_sum",
                "failover_watcher_detection_to_switch_seconds_count",
                "failover_watcher_update_latency_seconds_sum",
                "failover_watcher_update_latency_seconds_count",
            )
        ):
            console.print("  " + line, highlight=False, soft_wrap=True)


def run_demo(*, forever: bool = False, port: int = 9464, speed: float = 1.0) -> int:
    console = Console()
    if not console.is_terminal:
        console = Console(width=120)  # a log or a pipe: no terminal width to fit, keep rows whole
    if speed <= 0:
        print("failover-watcher: --speed must be positive", file=sys.stderr)
        return 2
    try:
        result = anyio.run(_demo, forever, port, speed, console)
    except TimeoutError:
        console.print("[red]the scenario did not complete in time; see the daemon log[/]")
        return 1
    except KeyboardInterrupt:
        return 130
    _summary(result, console)
    ok = any(s["kind"] == "failover" and s["result"] == "success" for s in result["watcher"].switch_log)
    return 0 if ok else 1
