"""The demo's harness: the simulator, the daemon and a signed-event receiver in one process, a
scripted `Story` run against them, a live terminal view of region states, active regions, switches
and events, and a summary at the end.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx
from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.table import Table

from watcher.config import ConfigError, WatcherConfig, cross_check
from watcher.daemon.service import Watcher
from watcher.events import generate_secret, running_receiver
from watcher.logs import configure_logging
from watcher.serving import bind_socket
from watcher.sim import RunningSimulator, SimSeed, SimulatorState, running_simulator

# The simulated org's request budget: the demo polls faster than a real org would (`--speed`), and
# its config raises the watcher's budget to match (the config check still applies).
SIM_PER_MINUTE = 6000
DEMO_PER_MINUTE = 3000

Config = Callable[[str, Path, str, str, float], WatcherConfig]
Script = Callable[[Watcher, httpx.AsyncClient, RunningSimulator, "Scenario", float], Awaitable[None]]


@dataclass(frozen=True)
class Story:
    """One scenario: its org, its config (sim URL, state dir, receiver URL, secret, speed), its
    script (run once every region is healthy), and what its summary adds."""

    title: str
    seed: Callable[[], SimSeed]
    config: Config
    script: Script
    regions: int
    summary: Callable[[RunningSimulator, Scenario], list[tuple[str, str]]] = lambda sim, scenario: []


class Scenario:
    """The scripted story, with the step the view shows."""

    def __init__(self) -> None:
        self.step = "starting"
        self.marks: dict[str, float] = {}
        self.notes: dict[str, str] = {}

    def mark(self, name: str, text: str) -> None:
        self.marks[name] = time.monotonic()
        self.step = text


def _view(watcher: Watcher, scenario: Scenario, received: Any, metrics_url: str, title: str) -> Group:
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
    return Group(regions, strategies, switches, Panel(footer, title=title))


async def wait_for(predicate: Callable[[], object], timeout: float) -> None:
    """Until `predicate()` holds; TimeoutError after `timeout` seconds (the demo then fails)."""
    with anyio.fail_after(timeout):
        while not predicate():  # noqa: ASYNC110 - the demo watches state it does not own
            await anyio.sleep(0.05)


async def run_story(story: Story, forever: bool, port: int, speed: float, console: Console) -> dict[str, Any]:
    secret = generate_secret()
    state_dir = Path(tempfile.mkdtemp(prefix="failover-watcher-demo-"))
    log_path = state_dir / "watcher.log"
    log_file = log_path.open("w", encoding="utf-8")
    configure_logging(json=True, stream=log_file)
    scenario = Scenario()
    async with (
        running_simulator(SimulatorState(story.seed(), per_minute=SIM_PER_MINUTE)) as sim,
        running_receiver([secret]) as received,
        httpx.AsyncClient(base_url=sim.base_url) as admin,
    ):
        try:
            sock = bind_socket("127.0.0.1", port)
        except OSError:
            sock = bind_socket("127.0.0.1", 0)
        cfg = story.config(sim.base_url, state_dir, received.url, secret.get_secret_value(), speed)
        problems = cross_check(cfg)
        if problems:  # the demo runs no config the daemon itself would refuse
            raise ConfigError(problems)
        watcher = Watcher(cfg, listen_socket=sock)
        metrics_url = f"{sock.getsockname()[0]}:{sock.getsockname()[1]}"
        metrics_url = f"http://{metrics_url}/metrics"

        async def script() -> None:
            await watcher.started.wait()
            scenario.mark("start", f"watching {story.regions} regions; waiting for the first health verdicts")
            await wait_for(
                lambda: (
                    watcher.readiness()[0] and all(h.healthy for h in watcher.engine.world.regions.values())
                ),
                60,
            )
            try:
                await story.script(watcher, admin, sim, scenario, speed)
            except TimeoutError:
                scenario.mark("timeout", f"[red]did not happen in time[/]: {scenario.step}")
                watcher.request_stop()
                return
            await wait_for(
                lambda: (
                    watcher.outbox is not None
                    and all(watcher.outbox.pending_count(s.name) == 0 for s in cfg.sinks)
                ),
                30,
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
                                live.update(_view(watcher, scenario, received, metrics_url, story.title))
                            await anyio.sleep(0.125)
                        live.update(_view(watcher, scenario, received, metrics_url, story.title))
                else:
                    last = ""
                    while not watcher.stop.is_set():
                        if scenario.step != last:
                            last = scenario.step
                            console.print(f"[{time.strftime('%H:%M:%S')}] {last}")
                        await anyio.sleep(0.05)
                    console.print(_view(watcher, scenario, received, metrics_url, story.title))

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
        "extra": story.summary(sim, scenario),
    }


def print_summary(result: dict[str, Any], console: Console) -> None:
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
            "degrade -> every strategy switched", f"{marks['failed_over'] - marks['degraded']:.2f} s"
        )
    if "recovered" in marks and "failed_back" in marks:
        table.add_row(
            "recover -> failed back (incl. hold)", f"{marks['failed_back'] - marks['recovered']:.2f} s"
        )
    for what, value in result["extra"]:
        table.add_row(what, value)
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
