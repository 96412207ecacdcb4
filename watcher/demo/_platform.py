"""The platform scenario: `config/platform.toml`, the shape of a real organization, against the
simulator.

Health comes from the public status page and an authenticated probe of `/api/v2/date`; the
strategy is virtual (the watcher's decision, kept under `[state]`), carried by a process automation
trigger (its workflow follows the active region) and an Architect emergency group (enabled while
failed over). The story: the preferred region's status-page component goes into a major outage,
the trigger is retargeted and the emergency group enabled; the component recovers, and after the
failback hold both go back.

Only what a simulator needs is overridden: the base URLs, the credentials, the timings (so the
story takes seconds, not minutes) and the request budget that goes with them; and failback is
automatic here (the profile's is manual).
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import anyio
import httpx

from watcher.config import WatcherConfig
from watcher.daemon.service import Watcher
from watcher.demo._ui import DEMO_PER_MINUTE, Scenario, Story, wait_for
from watcher.sim import RunningSimulator, SimSeed, default_seed

PROFILE = "config/platform.toml"


def profile_path() -> Path:
    """`config/platform.toml` of the working directory, else of the source tree this runs from."""
    for base in (Path.cwd(), Path(__file__).resolve().parents[2]):
        if (base / PROFILE).is_file():
            return base / PROFILE
    raise FileNotFoundError(f"{PROFILE} not found (run the demo from the project's directory)")


def _profile() -> dict[str, Any]:
    return tomllib.loads(profile_path().read_text(encoding="utf-8"))


def platform_config(
    sim_url: str, state_dir: Path, receiver_url: str, secret: str, speed: float
) -> WatcherConfig:
    data = _profile()
    interval = 1.0 / speed
    genesys = data.setdefault("genesys", {})
    for key in ("client_secret_file", "environment"):
        genesys.pop(key, None)
    genesys.update(
        api_base_url=sim_url,
        login_base_url=sim_url,
        client_id="sim-client",
        client_secret="sim-secret",  # noqa: S106 - the simulator's own credentials
        requests_per_minute=DEMO_PER_MINUTE,  # the simulated org's budget, for the faster polls
    )
    data.setdefault("statuspage", {}).update(
        url=f"{sim_url}/api/v2/components.json", interval_seconds=interval, timeout_seconds=interval / 2
    )
    health = data.setdefault("health", {})
    health.update(interval_seconds=interval, timeout_seconds=interval / 2)
    for region in data.get("regions", []):  # a probe's threshold stays below its timeout (SPEC §4.2)
        for source in region.get("health", []):
            if source.get("kind") == "probe" and source.get("max_latency_ms"):
                source["max_latency_ms"] = min(source["max_latency_ms"], interval / 2 * 1000 * 0.8)
    # The profile fails back by an operator's hand; the story shows the automatic way, after the hold.
    data.setdefault("failback", {}).update(mode="auto", hold_seconds=6.0 / speed)
    data["state"] = {"dir": str(state_dir)}
    data["server"] = {"listen": "127.0.0.1:0"}
    data.pop("leader", None)  # one instance here
    data["sinks"] = [{"name": "dns-sync", "url": receiver_url, "secret": secret}]
    return WatcherConfig(**data)


def _plan() -> dict[str, Any]:
    """What the story touches, read from the profile: the strategy, its regions, the component
    of its preferred region, its trigger and emergency group."""
    data = _profile()
    strategy = next(s for s in data["strategies"] if s.get("kind") == "virtual")
    preferred, secondary = strategy["regions"][0], strategy["regions"][1]
    region = next(r for r in data["regions"] if r["id"] == preferred)
    component = next(h["component"] for h in region.get("health", []) if h.get("kind") == "statuspage")
    trigger = next(t for t in data.get("triggers", []) if t["strategy"] == strategy["id"])
    group = next(g for g in data.get("emergency_groups", []) if g["strategy"] == strategy["id"])
    return {
        "strategy": strategy["id"],
        "preferred": preferred,
        "secondary": secondary,
        "component": component,
        "trigger": trigger["id"],
        "targets": trigger["targets"],
        "group": group["id"],
    }


def platform_seed() -> SimSeed:
    return default_seed()


async def _set_component(admin: httpx.AsyncClient, component: str, status: str) -> str:
    """Put one child of the component's group into `status` (a group is bad when any child is);
    the component itself when it has no children. Returns what was changed."""
    child = f"{component} - Voice"
    r = await admin.put(f"/_sim/status/components/{child}", json={"status": status, "group": component})
    if r.is_success:
        return child
    r = await admin.put(f"/_sim/status/components/{component}", json={"status": status})
    r.raise_for_status()
    return component


async def script(
    watcher: Watcher, admin: httpx.AsyncClient, sim: RunningSimulator, scenario: Scenario, speed: float
) -> None:
    plan = _plan()
    objects = sim.state.platform

    def trigger_target() -> str:
        return str(objects.trigger(plan["trigger"])["target"]["id"])

    def group_enabled() -> bool:
        return bool(objects.emergency_group(plan["group"])["enabled"])

    def active() -> str | None:
        status = watcher.engine.world.strategies.get(plan["strategy"])
        return None if status is None or status.write.target is not None else status.active_region

    def followers() -> str:
        return f"trigger -> {trigger_target()}, emergency group enabled={group_enabled()}"

    scenario.notes["before"] = followers()
    scenario.mark(
        "steady",
        f"all regions healthy; {plan['strategy']} on {plan['preferred']}; trigger -> {trigger_target()}",
    )
    await anyio.sleep(3 / speed)
    changed = await _set_component(admin, plan["component"], "major_outage")
    scenario.mark("degraded", f"status page: {changed!r} major_outage; hysteresis counting")
    await wait_for(
        lambda: (
            active() == plan["secondary"]
            and trigger_target() == plan["targets"][plan["secondary"]]
            and group_enabled()
        ),
        60,
    )
    scenario.notes["failed over"] = (
        f"trigger -> {trigger_target()}, emergency group enabled={group_enabled()}"
    )
    scenario.mark("failed_over", "failed over: trigger retargeted, emergency group enabled")
    await anyio.sleep(4 / speed)
    await _set_component(admin, plan["component"], "operational")
    scenario.mark("recovered", "status page operational again: failback waits for rise and the hold")
    await wait_for(
        lambda: (
            active() == plan["preferred"]
            and trigger_target() == plan["targets"][plan["preferred"]]
            and not group_enabled()
        ),
        90,
    )
    scenario.notes["failed back"] = (
        f"trigger -> {trigger_target()}, emergency group enabled={group_enabled()}"
    )
    scenario.mark("failed_back", "failed back: trigger on the preferred workflow, emergency group disabled")


def summary(sim: RunningSimulator, scenario: Scenario) -> list[tuple[str, str]]:
    rows = [(f"followers {when}", what) for when, what in scenario.notes.items()]
    writes = [r for r in sim.state.requests_since(None) if r.method == "PUT" and "/api/v2/" in r.path]
    rows.append(("platform PUTs", ", ".join(sorted({f"{r.path} x{_count(writes, r.path)}" for r in writes}))))
    return rows


def _count(records: list[Any], path: str) -> int:
    return sum(1 for r in records if r.path == path)


PLATFORM = Story(
    title="failover-watcher demo --platform",
    seed=platform_seed,
    config=platform_config,
    script=script,
    regions=2,
    summary=summary,
)

__all__ = ["PLATFORM"]
